"""Reading awards for public pages, emails and the learner page (no writes, no Canvas calls)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from urllib.parse import quote_plus

from django.db.models import Max
from django.utils.translation import gettext as _

from badging.models import Award, AwardImage, BadgeClass, Issuer, IssuerKey
from badging.openbadges import ob2, ob3
from badging.openbadges.links import PublicLinks, public_links

LINKEDIN_ADD_URL = "https://www.linkedin.com/profile/add"


def award_public_get(*, public_id: str) -> Award | None:
    return (
        Award.objects.select_related("badge_class__issuer", "learner", "course_badge__course")
        .filter(public_id=public_id)
        .first()
    )


def badge_class_public_get(*, public_id: str) -> BadgeClass | None:
    return BadgeClass.objects.select_related("issuer").filter(public_id=public_id).first()


def issuer_public_get(*, public_id: str) -> Issuer | None:
    return Issuer.objects.filter(public_id=public_id).first()


def issuer_key_public_get(*, issuer: Issuer, kid: str) -> IssuerKey | None:
    """Any key the issuer ever had: superseded keys stay published so old credentials verify."""
    return IssuerKey.objects.filter(issuer=issuer, public_id=kid).first()


def issuer_keys_published(*, issuer: Issuer, algorithm: str) -> list[IssuerKey]:
    """Every key of the algorithm the issuer ever had, oldest first (superseded ones included)."""
    return list(IssuerKey.objects.filter(issuer=issuer, algorithm=algorithm).order_by("created_at", "pk"))


def award_image_get(*, award: Award, content_type: str) -> AwardImage | None:
    return AwardImage.objects.filter(award=award, content_type=content_type).first()


def award_recipient_matches(*, award: Award, email: str) -> bool:
    """Was the award issued to this address? Compares hashes, as a verifier would."""
    candidate = ob2.identity_hash(ob2.normalise_email(email), award.salt)
    return candidate == ob2.award_identity(award)


# Award.status_list_index is a PostgreSQL integer: no list starts beyond it.
_LARGEST_INDEX = 2**31 - 1


def status_list_in_use(*, issuer: Issuer, list_number: int) -> bool:
    """Does any award of this issuer sit on this status list? Only such a list exists publicly."""
    low = list_number * ob3.STATUS_LIST_SIZE
    if list_number < 0 or low > _LARGEST_INDEX:
        return False
    return Award.objects.filter(
        badge_class__issuer=issuer, status_list_index__gte=low, status_list_index__lt=low + ob3.STATUS_LIST_SIZE
    ).exists()


def status_list_revoked_positions(*, issuer: Issuer, list_number: int) -> tuple[list[int], datetime | None]:
    """Positions set in one of the issuer's status lists, and when the newest revocation happened."""
    low = list_number * ob3.STATUS_LIST_SIZE
    revoked = Award.objects.filter(
        badge_class__issuer=issuer,
        revoked=True,
        status_list_index__gte=low,
        status_list_index__lt=low + ob3.STATUS_LIST_SIZE,
    )
    positions = [index - low for index in revoked.values_list("status_list_index", flat=True) if index is not None]
    newest = revoked.aggregate(newest=Max("revoked_at"))["newest"]
    return positions, newest


@lru_cache(maxsize=256)
def _quoted(value: str) -> str:
    return quote_plus(value)


def linkedin_add_url(*, award: Award, links: PublicLinks) -> str:
    """LinkedIn "Add to profile" (certification) link, pre-filled with the badge."""
    # urlencode() of these parameters, in this order; the badge and issuer names are the same for
    # every award of a badge class, so their quoting is kept.
    issued, expires = award.issued_on, award.expires
    url = (
        f"{LINKEDIN_ADD_URL}?startTask=CERTIFICATION_NAME&name={_quoted(award.badge_class.name)}"
        f"&organizationName={_quoted(award.badge_class.issuer.name)}"
        f"&issueYear={issued.year}&issueMonth={issued.month}"
        f"&certUrl={quote_plus(links.assertion(award.public_id))}&certId={quote_plus(award.public_id)}"
    )
    if expires:
        url += f"&expirationYear={expires.year}&expirationMonth={expires.month}"
    return url


def award_link_urls(award: Award, *, links: PublicLinks) -> dict[str, str]:
    """The URLs of award_links (same keys, same order), without their labels."""
    svg = ob2.is_svg(award.badge_class.image_content_type)
    page = links.assertion(award.public_id)
    return {
        "page": page,
        "linkedin": linkedin_add_url(award=award, links=links),
        "image": links.assertion_image(award.public_id, svg=svg) + "?download=1",
        "ob3_json": links.credential_json(award.public_id) + "?download=1",
        "ob3_jwt": links.credential_jwt(award.public_id) + "?download=1",
        "json": page + "?format=json",
    }


def award_links(award: Award, *, request=None, links: PublicLinks | None = None) -> dict[str, dict]:
    """Every public link of an award, for the learner page and the email, in display order.

    {key: {"label", "url", "help", "download"}} with keys: page (public verification page, the
    hosted assertion URL), linkedin (Add to profile), image (baked PNG, or SVG for SVG badges),
    ob3_json and ob3_jwt (the signed OB 3.0 credential), json (OB 2.0 JSON-LD). URLs are absolute
    when PUBLIC_BASE_URL is set or a request is given, else site-relative.
    """
    links = links or public_links(request)
    urls = award_link_urls(award, links=links)
    kind = "SVG" if ob2.is_svg(award.badge_class.image_content_type) else "PNG"
    return {
        "page": {
            "label": _("Public badge page"),
            "url": urls["page"],
            "help": _("Share this link: anyone can check the badge is genuine."),
            "download": False,
        },
        "linkedin": {
            "label": _("Add to LinkedIn profile"),
            "url": urls["linkedin"],
            "help": _("Adds it under Licenses & certifications."),
            "download": False,
        },
        "image": {
            "label": _("Download badge image (%(kind)s)") % {"kind": kind},
            "url": urls["image"],
            "help": _("The badge data is baked into the image: upload it to Badgr / Canvas Credentials."),
            "download": True,
        },
        "ob3_json": {
            "label": _("Download Open Badges 3.0 credential"),
            "url": urls["ob3_json"],
            "help": _("A signed verifiable credential for digital wallets."),
            "download": True,
        },
        "ob3_jwt": {
            "label": _("Open Badges 3.0 credential (JWT)"),
            "url": urls["ob3_jwt"],
            "help": _("The same credential as a signed JSON Web Token."),
            "download": True,
        },
        "json": {
            "label": _("Open Badges 2.0 data (JSON)"),
            "url": urls["json"],
            "help": _("The hosted assertion, for backpacks that import by URL."),
            "download": False,
        },
    }
