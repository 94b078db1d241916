"""What "My badges" and a shared collection show: read-only, local data, a fixed number of queries.

My badges lists every award of one person (a Person is one Canvas user on one Canvas instance), so
another learner's badges, and the same human's badges from another Canvas, are never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from urllib.parse import urlencode

from django.db.models import Prefetch
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from badging.models import Award, Collection, CollectionItem, LearnerEmail, Program, ProgramRequirement
from badging.openbadges import ob2
from badging.openbadges.links import PublicLinks, public_links
from badging.selectors.awards import linkedin_add_url
from lti.models import Person

# Web share intents: each opens the site's own "compose" page pre-filled, nothing is posted for the
# learner (X: developer.x.com "Web Intents" /intent/tweet; Facebook: the Sharer, which reads the
# page's Open Graph tags for its card; LinkedIn: share-offsite, also read from Open Graph).
X_INTENT_URL = "https://twitter.com/intent/tweet"
FACEBOOK_SHARER_URL = "https://www.facebook.com/sharer/sharer.php"
LINKEDIN_SHARE_URL = "https://www.linkedin.com/sharing/share-offsite/"
EMBED_IMAGE_SIZE = 120

_AWARD_ROWS_DEFER = ("ob3_credential", "ob3_jwt", "badge_class__image", "badge_class__issuer__image")
# What the list of My badges reads: nothing more (the list may hold hundreds of badges).
_LIST_FIELDS = (
    "public_id",
    "issued_on",
    "expires",
    "revoked",
    "revocation_reason",
    "learner_name_public",
    "recipient_email",
    "badge_class_id",
    "course_badge_id",
    "program_id",
    "learner_id",
    "badge_class__public_id",
    "badge_class__name",
    "badge_class__issuer__name",
    "course_badge__course__name",
    "course_badge__course__course_code",
    "course_badge__course__canvas_course_id",
)


@dataclass(frozen=True)
class ShareLinks:
    """Ways to share one public page: social intents, the link itself, an HTML snippet to embed."""

    url: str
    x: str
    facebook: str
    linkedin_share: str
    embed_html: str
    linkedin_add: str = ""


def share_links(*, url: str, text: str, image_url: str, image_alt: str, linkedin_add: str = "") -> ShareLinks:
    # A plain string (not marked safe): the page escapes it, so the learner sees and copies the markup.
    embed = (
        f'<a href="{escape(url)}"><img src="{escape(image_url)}" alt="{escape(image_alt)}" '
        f'width="{EMBED_IMAGE_SIZE}" height="{EMBED_IMAGE_SIZE}"></a>'
    )
    return ShareLinks(
        url=url,
        x=f"{X_INTENT_URL}?{urlencode({'text': text, 'url': url})}",
        facebook=f"{FACEBOOK_SHARER_URL}?{urlencode({'u': url})}",
        linkedin_share=f"{LINKEDIN_SHARE_URL}?{urlencode({'url': url})}",
        embed_html=embed,
        linkedin_add=linkedin_add,
    )


def award_share_links(*, award: Award, links: PublicLinks) -> ShareLinks:
    badge = award.badge_class
    text = _("I earned the %(badge)s badge from %(issuer)s") % {"badge": badge.name, "issuer": badge.issuer.name}
    return share_links(
        url=links.assertion(award.public_id),
        text=text,
        image_url=links.badge_card(badge.public_id),
        image_alt=badge.name,
        linkedin_add=linkedin_add_url(award=award, links=links),
    )


@dataclass(frozen=True)
class BackpackBadge:
    award: Award
    name: str
    issuer_name: str
    course_name: str
    image_url: str
    issued_on: datetime
    revoked: bool
    expired: bool
    public_url: str
    share: ShareLinks | None
    collections: list[str] = field(default_factory=list)  # public ids of the collections it is in
    # Worked out once here, not per badge in the template (a list of 200 badges must stay fast).
    state_label: str = ""
    pill: str = ""
    meta: str = ""
    issued_text: str = ""


@dataclass(frozen=True)
class CollectionRow:
    collection: Collection
    badges: list[BackpackBadge]
    public_url: str
    json_url: str
    share: ShareLinks | None


@dataclass(frozen=True)
class ProgramRequirementRow:
    name: str
    image_url: str
    held: bool


@dataclass(frozen=True)
class ProgramRow:
    program: Program
    name: str
    description: str
    image_url: str
    requirements: list[ProgramRequirementRow]
    held_count: int
    required_count: int
    award: Award | None  # the live program badge, once issued

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.held_count / self.required_count)) if self.required_count else 0


@dataclass
class MyBadgesPage:
    person: Person
    badges: list[BackpackBadge]
    collections: list[CollectionRow]
    programs: list[ProgramRow] = field(default_factory=list)
    emails: list[LearnerEmail] = field(default_factory=list)

    @property
    def verified_emails(self) -> list[LearnerEmail]:
        return [e for e in self.emails if e.verified]

    @property
    def live_badges(self) -> list[BackpackBadge]:
        return [b for b in self.badges if not b.revoked]


def _badge(award: Award, *, links: PublicLinks, now: datetime, with_share: bool = False) -> BackpackBadge:
    badge = award.badge_class
    course = award.course
    if award.program_id is not None:
        course_name = _("Program badge (earned across courses)")
    elif course is not None:
        course_name = course.name or course.course_code or _("Course %(id)s") % {"id": course.canvas_course_id}
    else:
        course_name = ""
    revoked, expired = award.revoked, bool(award.expires and award.expires <= now)
    if revoked:
        state_label, pill = _("Revoked"), "danger"
    elif expired:
        state_label, pill = _("Expired"), "warning"
    else:
        state_label, pill = _("Issued"), "success"
    where = (
        course_name
        if award.program_id is not None or not course_name
        else _("Course: %(course)s") % {"course": course_name}
    )
    issued_by = _("Issued by %(issuer)s") % {"issuer": badge.issuer.name}
    return BackpackBadge(
        state_label=str(state_label),
        pill=pill,
        meta=" · ".join(part for part in (where, issued_by) if part),
        issued_text=date_format(award.issued_on, "DATE_FORMAT"),
        award=award,
        name=badge.name,
        issuer_name=badge.issuer.name,
        course_name=course_name,
        image_url=links.badge_class_image(badge.public_id),
        issued_on=award.issued_on,
        revoked=revoked,
        expired=expired,
        public_url=links.assertion(award.public_id),
        share=award_share_links(award=award, links=links) if with_share and not award.revoked else None,
    )


def collection_share_links(*, collection: Collection, links: PublicLinks, first_badge_id: str | None) -> ShareLinks:
    url = links.collection(collection.public_id)
    image = links.badge_card(first_badge_id) if first_badge_id else ""
    return share_links(
        url=url,
        text=_("My badges: %(name)s") % {"name": collection.name},
        image_url=image,
        image_alt=collection.name,
    )


def my_badges_page(*, person: Person, request=None) -> MyBadgesPage:
    """Every award the person holds from this Canvas instance, newest first, with its course and
    state and ways to share it, the programs of their Canvas with their progress, their collections
    and added email addresses. Six queries, whatever the number of badges."""
    from django.utils import timezone

    links = public_links(request)
    now = timezone.now()
    awards = list(
        Award.objects.filter(learner=person)
        .select_related("badge_class__issuer", "course_badge__course")
        .only(*_LIST_FIELDS)
        .order_by("-issued_on", "-pk")
    )
    badges = [_badge(award, links=links, now=now) for award in awards]
    by_award = {b.award.pk: b for b in badges}
    collections = list(
        Collection.objects.filter(learner=person)
        .prefetch_related(Prefetch("items", queryset=CollectionItem.objects.order_by("position", "pk")))
        .order_by("name", "pk")
    )
    rows = []
    for collection in collections:
        members = [by_award[item.award_id] for item in collection.items.all() if item.award_id in by_award]
        for member in members:
            member.collections.append(collection.public_id)
        live = [m for m in members if not m.revoked]
        rows.append(
            CollectionRow(
                collection=collection,
                badges=members,
                public_url=links.collection(collection.public_id),
                json_url=links.collection_json(collection.public_id),
                share=collection_share_links(
                    collection=collection,
                    links=links,
                    first_badge_id=live[0].award.badge_class.public_id if live else None,
                )
                if collection.shared
                else None,
            )
        )
    return MyBadgesPage(
        person=person,
        badges=badges,
        collections=rows,
        programs=_program_rows(person=person, awards=awards, links=links),
        emails=list(LearnerEmail.objects.filter(learner=person).order_by("email")),
    )


def _program_rows(*, person: Person, awards: list[Award], links: PublicLinks) -> list[ProgramRow]:
    """The programs of the person's Canvas, with what they hold toward each (two queries); counted
    from their live course awards, as the program evaluation counts them."""
    from badging.services.programs import program_required_count

    held = {a.badge_class_id for a in awards if not a.revoked and a.course_badge_id is not None}
    program_awards = {a.program_id: a for a in awards if not a.revoked and a.program_id is not None}
    rows = []
    for program in (
        Program.objects.filter(platform_id=person.platform_id, active=True)
        .select_related("badge_class")
        .defer("badge_class__image")
        .prefetch_related(
            Prefetch(
                "requirements",
                queryset=ProgramRequirement.objects.select_related("badge_class").defer("badge_class__image"),
            )
        )
        .order_by("badge_class__name", "pk")
    ):
        requirements = [
            ProgramRequirementRow(
                name=r.badge_class.name,
                image_url=links.badge_class_image(r.badge_class.public_id),
                held=r.badge_class_id in held,
            )
            for r in program.requirements.all()
        ]
        rows.append(
            ProgramRow(
                program=program,
                name=program.badge_class.name,
                description=program.badge_class.description,
                image_url=links.badge_class_image(program.badge_class.public_id),
                requirements=requirements,
                held_count=sum(r.held for r in requirements),
                required_count=program_required_count(program, len(requirements)),
                award=program_awards.get(program.pk),
            )
        )
    return rows


@dataclass
class MyBadgePage:
    """One of the learner's badges with everything they can do with it."""

    person: Person
    badge: BackpackBadge
    collections: list[Collection]  # the learner's collections; `in_collections`: those holding it
    in_collections: set[int]
    verified_emails: list[LearnerEmail]


def my_badge_page(*, person: Person, award_public_id: str, request=None) -> MyBadgePage | None:
    """One award of the person's (None for anyone else's), with its share links, the person's
    collections and verified addresses. Four queries."""
    from django.utils import timezone

    award = (
        Award.objects.filter(learner=person, public_id=award_public_id)
        .select_related("badge_class__issuer", "course_badge__course")
        .defer(*_AWARD_ROWS_DEFER)
        .first()
    )
    if award is None:
        return None
    collections = list(Collection.objects.filter(learner=person).order_by("name", "pk"))
    return MyBadgePage(
        person=person,
        badge=_badge(award, links=public_links(request), now=timezone.now(), with_share=True),
        collections=collections,
        in_collections=set(CollectionItem.objects.filter(award=award).values_list("collection_id", flat=True)),
        verified_emails=[e for e in LearnerEmail.objects.filter(learner=person).order_by("email") if e.verified],
    )


@dataclass(frozen=True)
class PublicCollection:
    collection: Collection
    owner_name: str  # empty unless the learner showed their name on every badge listed
    awards: list[Award]


def collection_public_get(*, public_id: str) -> PublicCollection | None:
    """A shared collection and its live badges, in the learner's order; None when it does not exist
    or is not shared. Revoked badges drop out; so would an award of anyone but its owner."""
    collection = Collection.objects.select_related("learner").filter(public_id=public_id, shared=True).first()
    if collection is None:
        return None
    awards = [
        item.award
        for item in CollectionItem.objects.filter(
            collection=collection, award__revoked=False, award__learner_id=collection.learner_id
        )
        .select_related("award__badge_class__issuer")
        .defer(*(f"award__{name}" for name in _AWARD_ROWS_DEFER))
        .order_by("position", "pk")
    ]
    # The name stays opt-in, badge by badge (as on each badge's page): shown only if every badge
    # in the collection shows it.
    show_name = bool(awards) and all(a.learner_name_public for a in awards)
    return PublicCollection(
        collection=collection, owner_name=collection.learner.name if show_name else "", awards=awards
    )


def collection_document(*, public: PublicCollection, links: PublicLinks) -> dict:
    """The shared collection as JSON: its name and the hosted OB 2.0 assertion URLs, in order."""
    return {
        "id": links.collection_json(public.collection.public_id),
        "name": public.collection.name,
        "url": links.collection(public.collection.public_id),
        "assertions": [links.assertion(a.public_id) for a in public.awards],
        "badges": [
            {
                "assertion": links.assertion(a.public_id),
                "badge": links.badge_class(a.badge_class.public_id),
                "name": a.badge_class.name,
                "issuer": a.badge_class.issuer.name,
                "issuedOn": ob2.ob_datetime(a.issued_on),
            }
            for a in public.awards
        ],
    }
