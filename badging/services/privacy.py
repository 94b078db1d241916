"""A learner's personal data removed on request, while every badge issued to them stays verifiable.

What is removed: the learner's name, sortable name and email (lti Person), their launches, their
enrollments with grades, assessment results and badge progress, the email kept in clear on their
awards (the salted hash the assertion and credential publish is stored instead), the "show my
name" choice, and their name and addresses wherever text of the audit trail, award reasons and
delivery errors mentions them. What stays: the awards (public id, badge class, issue date, hashed
recipient, salt, signed OB 3.0 credential, baked images), so that the OB 2.0 hosted assertion and
the OB 3.0 credential verify as before; public pages show no name. The Person row stays too, with
its opaque Canvas user id: awards point to it, and if Canvas still lists the learner a later
sync finds the same row again (and reads their name and email from Canvas again) instead of
issuing them a second badge. Badges already pushed to Canvas Credentials are not removed there.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q

from badging.models import (
    AssessmentResult,
    AuditEvent,
    Award,
    Collection,
    Delivery,
    Enrollment,
    LearnerEmail,
    LearnerProgress,
    ProgramProgress,
)
from badging.openbadges import ob2
from badging.services.notifications import RECIPIENT_REMOVED
from lti.models import LaunchContext, Person, Platform
from lti.services.launches import person_forget

ACTION_FORGOTTEN = "learner_forgotten"
REMOVED = "[removed]"
# Kinds of removal in the order reported, with how the report names them.
KINDS = {
    "learner_profiles": "learner profiles cleared (name, sortable name, email)",
    "launches": "launch sessions deleted",
    "enrollments": "enrollments with grades deleted",
    "assessment_results": "assessment results deleted",
    "learner_progress": "badge progress rows deleted",
    "award_emails": "award emails replaced by their hash",
    "award_names_shown": "badges no longer showing the learner's name",
    "award_texts": "award reasons with the learner's name or email edited",
    "deliveries": "email/push deliveries edited or stopped",
    "audit_events": "audit events with the learner's name or email edited",
}
# Name parts shorter than this are too likely to be ordinary words ("Al", "Bo") to blank out.
MIN_NAME_PART = 3


class LearnerForgetError(Exception):
    """The request cannot be carried out as given (unknown or ambiguous platform, missing argument)."""


@dataclass
class LearnerForgetReport:
    learners: int
    dry_run: bool
    removed: dict[str, int] = field(default_factory=dict)

    @property
    def anything_removed(self) -> bool:
        return any(self.removed.values())


def platform_find(*, reference: str) -> Platform:
    """The platform an operator means: its database id, its LTI client id, or its name."""
    reference = reference.strip()
    if reference.isdigit() and (found := Platform.objects.filter(pk=int(reference)).first()):
        return found
    for lookup in ({"client_id": reference}, {"name__iexact": reference}):
        matches = list(Platform.objects.filter(**lookup)[:2])
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise LearnerForgetError(f"{reference!r} names more than one platform: give its database id")
    raise LearnerForgetError(f"no platform {reference!r} (give its database id, LTI client id or name)")


def _people(*, platform: Platform | None, canvas_user_id: str, email: str) -> list[Person]:
    if canvas_user_id:
        if platform is None:
            raise LearnerForgetError("a Canvas user id needs its platform: Canvas user ids are per Canvas instance")
        return list(Person.objects.filter(platform=platform, canvas_user_id=canvas_user_id.strip()))
    address = ob2.normalise_email(email)
    if not address:
        raise LearnerForgetError("give a platform and Canvas user id, or an email address")
    ids = set(Person.objects.filter(email__iexact=address).values_list("pk", flat=True))
    ids |= set(Award.objects.filter(recipient_email=address).values_list("learner_id", flat=True))
    ids |= set(LaunchContext.objects.filter(email__iexact=address).values_list("person_id", flat=True))
    people = Person.objects.filter(pk__in=ids)
    if platform is not None:
        people = people.filter(platform=platform)
    return list(people.order_by("pk"))


def learner_forget(
    *, actor: str, platform: Platform | None = None, canvas_user_id: str = "", email: str = "", dry_run: bool = False
) -> LearnerForgetReport:
    """Removes the personal data of the learner given by platform + Canvas user id, or by email
    (every learner row with that address, on every platform unless one is given).

    Guarantees: all or nothing (one transaction); idempotent (a second run removes nothing and
    reports zero everywhere); with dry_run, the counts are exactly what a real run would remove and
    nothing is changed; a real run leaves one AuditEvent with the counts and the learner rows'
    database ids, never the name or email it removed. Raises LearnerForgetError."""
    people = _people(platform=platform, canvas_user_id=canvas_user_id, email=email)
    removed: Counter[str] = Counter({kind: 0 for kind in KINDS})
    if not people:  # never known, or already forgotten by this email: nothing to do, nothing to record
        return LearnerForgetReport(learners=0, dry_run=dry_run, removed=dict(removed))
    with transaction.atomic():
        for person in Person.objects.select_for_update().filter(pk__in=[p.pk for p in people]).order_by("pk"):
            removed.update(_person_forget(person=person, requested_email=ob2.normalise_email(email)))
        if dry_run:
            transaction.set_rollback(True)
        else:
            AuditEvent.objects.create(
                actor=actor[:300],
                action=ACTION_FORGOTTEN,
                detail={
                    "learner_ids": [p.pk for p in people],
                    "requested_by": "canvas_user_id" if canvas_user_id else "email",
                    "removed": dict(removed),
                },
            )
    return LearnerForgetReport(learners=len(people), dry_run=dry_run, removed=dict(removed))


def _person_forget(*, person: Person, requested_email: str) -> Counter[str]:
    removed: Counter[str] = Counter()
    awards = list(Award.objects.select_for_update().filter(learner=person).order_by("pk"))
    emails = {requested_email, person.email.lower(), *(a.recipient_email for a in awards)}
    emails |= {e.lower() for e in LaunchContext.objects.filter(person=person).values_list("email", flat=True)}
    emails |= set(LearnerEmail.objects.filter(learner=person).values_list("email", flat=True))
    names = {person.name.strip(), person.sortable_name.strip()}
    full = _Scrubber(emails=emails, names=names, parts=False)
    thorough = _Scrubber(emails=emails, names=names, parts=True)
    # The courses whose records may mention the learner, read before their rows go.
    course_ids = set(Enrollment.objects.filter(learner=person).values_list("course_id", flat=True))
    course_ids |= set(LearnerProgress.objects.filter(learner=person).values_list("course_badge__course_id", flat=True))
    launched = LaunchContext.objects.filter(person=person, course__isnull=False)
    course_ids |= set(launched.values_list("course_id", flat=True))
    course_ids |= {a.course_pk for a in awards if a.course_pk is not None}

    for award in awards:
        changed = []
        if award.recipient_email:
            award.recipient_identity = ob2.award_identity(award)
            award.recipient_email = ""
            changed += ["recipient_identity", "recipient_email"]
            removed["award_emails"] += 1
        if award.learner_name_public:
            award.learner_name_public = False
            changed.append("learner_name_public")
            removed["award_names_shown"] += 1
        texts = [name for name in ("revocation_reason", "review_reason") if _set(award, name, thorough)]
        removed["award_texts"] += bool(texts)
        if changed or texts:
            award.save(update_fields=[*changed, *texts])

    for delivery in Delivery.objects.select_for_update().filter(award__learner=person):
        before = (delivery.status, delivery.last_error, delivery.next_attempt_at)
        _set(delivery, "last_error", thorough)
        if delivery.status != Delivery.SENT:  # nothing more may go out to a recipient who is gone
            delivery.status, delivery.last_error, delivery.next_attempt_at = Delivery.FAILED, RECIPIENT_REMOVED, None
        if (delivery.status, delivery.last_error, delivery.next_attempt_at) != before:
            delivery.save(update_fields=["status", "last_error", "next_attempt_at", "updated_at"])
            removed["deliveries"] += 1

    removed["learner_progress"] += LearnerProgress.objects.filter(learner=person).delete()[0]
    removed["assessment_results"] += AssessmentResult.objects.filter(learner=person).delete()[0]
    removed["enrollments"] += Enrollment.objects.filter(learner=person).delete()[0]
    # My badges: the added addresses, the collections (their public links end) and program progress.
    for key, count in (
        ("learner_emails", LearnerEmail.objects.filter(learner=person).delete()[0]),
        ("collections", Collection.objects.filter(learner=person).delete()[1].get("badging.Collection", 0)),
        ("program_progress", ProgramProgress.objects.filter(learner=person).delete()[0]),
    ):
        if count:  # the report lists what was there
            removed[key] += count

    linked = Q(award__learner=person) | Q(actor_person=person)
    for event in AuditEvent.objects.select_for_update(of=("self",)).filter(linked | Q(course_id__in=course_ids)):
        # Records about the learner lose every part of their name; others (a course's export
        # filters, say) only the full name and addresses, so that ordinary words stay.
        mine = event.actor_person_id == person.pk or (event.award_id and event.award_id in {a.pk for a in awards})
        scrub = thorough if mine else full
        detail = scrub.value({k: v for k, v in event.detail.items() if not (mine and k == "recipient_email")})
        actor = scrub.text(event.actor)
        if detail != event.detail or actor != event.actor:
            event.detail, event.actor = detail, actor
            event.save(update_fields=["detail", "actor"])
            removed["audit_events"] += 1

    removed.update(person_forget(person=person))
    return removed


def _set(row, name: str, scrub: _Scrubber) -> bool:
    """Scrubs one text field in place; True when it changed."""
    before = getattr(row, name)
    after = scrub.text(before)
    setattr(row, name, after)
    return after != before


class _Scrubber:
    """Replaces a person's addresses and names in text with "[removed]", case-insensitively and only
    as whole words (so "Ada" goes from "Ada's quiz", not from "Adam")."""

    def __init__(self, *, emails: set[str], names: set[str], parts: bool):
        needles = {e for e in emails if e} | {n for n in names if n}
        if parts:
            needles |= {w for n in names for w in re.split(r"[\s,]+", n) if len(w) >= MIN_NAME_PART}
        ordered = sorted(needles, key=len, reverse=True)  # "Ada Lovelace" before "Ada"
        self.pattern = (
            re.compile("|".join(rf"(?<!\w){re.escape(n)}(?!\w)" for n in ordered), re.IGNORECASE) if ordered else None
        )

    def text(self, value: str) -> str:
        return self.pattern.sub(REMOVED, value) if self.pattern and value else value

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value
