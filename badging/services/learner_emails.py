"""A second email without an account merge: a learner proves they control another address (a code
sent to it) and has their badges re-issued to it, keeping or revoking the old award.

The badge's recipient is an email address (OB 2.0 IdentityObject, OB 3.0 identifier): a backpack or
wallet registered under another address cannot accept a badge issued to the primary Canvas email.
Badgr's answer was a support ticket to merge accounts; here the learner does it themselves, and
every step is in the audit log.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import partial

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from badging.models import AuditEvent, Award, Delivery, LearnerEmail
from badging.openbadges import ob2
from badging.openbadges.links import PublicLinks, public_base_url
from lti.models import Person
from skillsforward.i18n import language_for_person
from skillsforward.ratelimit import rate_limit_exceeded

CODE_LIFETIME = timedelta(minutes=30)
CODE_MAX_FAILURES = 5
CODES_PER_LEARNER_PER_HOUR = 5
MAX_EXTRA_EMAILS = 5
SEND_TASK = "badging.learner_email_code_send"
KEEP, REVOKE = "keep", "revoke"


class EmailRefused(ValueError):
    """The step is not possible; the message says why, in the learner's words."""


class EmailNotFound(Exception):
    """No such address or award for this learner: answer 404."""


def _actor(learner: Person) -> str:
    return f"{learner.name or 'Learner'} (Canvas user {learner.canvas_user_id})"


def _audit(learner: Person, action: str, *, award: Award | None = None, **detail) -> None:
    AuditEvent.objects.create(actor=_actor(learner), actor_person=learner, action=action, award=award, detail=detail)


def _new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def learner_email_add(*, learner: Person, email: str) -> LearnerEmail:
    """Adds an address (or sends a new code to one not verified yet): a 6-digit code, valid for
    CODE_LIFETIME, is emailed to it by a worker after the commit."""
    address = ob2.normalise_email(email or "")
    try:
        validate_email(address)
    except ValidationError:
        raise EmailRefused(_("Enter a valid email address."))
    if address == ob2.normalise_email(learner.email or ""):
        raise EmailRefused(_("This is already your primary Canvas email."))
    if rate_limit_exceeded(
        key=f"learner-email-code:{learner.pk}", limit=CODES_PER_LEARNER_PER_HOUR, window_seconds=3600
    ):
        raise EmailRefused(_("Too many codes were sent just now. Try again in an hour."))
    with transaction.atomic():
        row = LearnerEmail.objects.select_for_update().filter(learner=learner, email=address).first()
        if row is None:
            if LearnerEmail.objects.filter(learner=learner).count() >= MAX_EXTRA_EMAILS:
                raise EmailRefused(_("You can add at most %(n)d addresses.") % {"n": MAX_EXTRA_EMAILS})
            try:
                with transaction.atomic():
                    row = LearnerEmail.objects.create(learner=learner, email=address)
            except IntegrityError:
                row = LearnerEmail.objects.select_for_update().get(learner=learner, email=address)
        if row.verified:
            raise EmailRefused(_("This address is already verified."))
        row.code = _new_code()
        row.code_expires_at = timezone.now() + CODE_LIFETIME
        row.failed_attempts = 0
        row.save(update_fields=["code", "code_expires_at", "failed_attempts"])
        _audit(learner, "learner_email_code_requested", email=address)
        transaction.on_commit(partial(current_app.send_task, SEND_TASK, args=[row.pk]))
    return row


def learner_email_code_send(*, learner_email_id: int) -> bool:
    """Emails the current code (the task's work). False when there is nothing to send any more."""
    row = LearnerEmail.objects.select_related("learner").filter(pk=learner_email_id).first()
    if row is None or row.verified or not row.code or not row.code_expires_at or row.code_expires_at <= timezone.now():
        return False
    with translation.override(language_for_person(row.learner)):
        context = {"code": row.code, "learner": row.learner, "minutes": int(CODE_LIFETIME.total_seconds() // 60)}
        message = EmailMultiAlternatives(
            subject=_("Your code to add this address to your badges: %(code)s") % {"code": row.code},
            body=render_to_string("email/learner_email_code.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[row.email],
        )
        message.send()
    LearnerEmail.objects.filter(pk=row.pk).update(code_sent_at=timezone.now())
    return True


def learner_email_verify(*, learner: Person, email_id: int, code: str) -> LearnerEmail:
    """Marks the address verified when the code matches; a wrong code counts (CODE_MAX_FAILURES
    ends the code), an expired one must be sent again."""
    refusal = None
    with transaction.atomic():
        row = LearnerEmail.objects.select_for_update().filter(pk=email_id, learner=learner).first()
        if row is None:
            raise EmailNotFound(email_id)
        if row.verified:
            return row
        expired = not row.code_expires_at or row.code_expires_at <= timezone.now()
        if expired or row.failed_attempts >= CODE_MAX_FAILURES:
            raise EmailRefused(_("This code has expired. Send a new one."))
        if not constant_time_compare((code or "").strip(), row.code or ""):
            # Saved before refusing: the failed try must count.
            row.failed_attempts += 1
            row.save(update_fields=["failed_attempts"])
            left = CODE_MAX_FAILURES - row.failed_attempts
            refusal = (
                _("That code is not right. %(n)d tries left.") % {"n": left}
                if left
                else _("That code is not right. Send a new one.")
            )
        else:
            row.verified_at = timezone.now()
            row.code = ""
            row.code_expires_at = None
            row.save(update_fields=["verified_at", "code", "code_expires_at"])
            _audit(learner, "learner_email_verified", email=row.email)
    if refusal:
        raise EmailRefused(refusal)
    return row


@transaction.atomic
def learner_email_remove(*, learner: Person, email_id: int) -> None:
    """Forgets an added address (badges already re-issued to it stay valid)."""
    row = LearnerEmail.objects.select_for_update().filter(pk=email_id, learner=learner).first()
    if row is None:
        raise EmailNotFound(email_id)
    _audit(learner, "learner_email_removed", email=row.email)
    row.delete()


def award_reissue(*, learner: Person, award_public_id: str, email_id: int, old: str) -> Award:
    """A new award of the same badge to a verified address of the learner's (its own documents,
    status slot and email), the old one kept or revoked as the learner chooses. Audited."""
    from badging.services.issuance.documents import award_documents_render
    from badging.services.issuance.policy import queued_stale_after
    from badging.services.issuance.queueing import _enqueue_deliveries

    if old not in (KEEP, REVOKE):
        raise EmailRefused(_("Choose whether to keep or revoke the badge sent to the old address."))
    target = LearnerEmail.objects.filter(pk=email_id, learner=learner).first()
    source = (
        Award.objects.select_related("badge_class__issuer").filter(public_id=award_public_id, learner=learner).first()
    )
    if target is None or source is None:
        raise EmailNotFound(award_public_id)
    if not target.verified:
        raise EmailRefused(_("Verify the address with its code first."))
    if source.revoked:
        raise EmailRefused(_("A revoked badge cannot be re-issued."))
    origin = source.reissued_from or source  # a copy of a copy is a copy of the original
    if source.recipient_email == target.email:
        raise EmailRefused(_("This badge was already issued to that address."))
    base = public_base_url()
    now = timezone.now().replace(microsecond=0)
    copy = Award(
        badge_class=source.badge_class,
        course_badge_id=source.course_badge_id,
        program_id=source.program_id,
        learner=learner,
        reissued_from=origin,
        recipient_email=target.email,
        issued_on=now,
        expires=source.expires,
        evidence_narrative=source.evidence_narrative,
        learner_name_public=source.learner_name_public,
    )
    try:
        with transaction.atomic():
            copy.save()
            if base:
                award_documents_render(award=copy, links=PublicLinks(base))
            delivery = Delivery.objects.create(
                award=copy, kind=Delivery.KIND_EMAIL, next_attempt_at=timezone.now() + queued_stale_after()
            )
            _audit(
                learner,
                "award_reissued",
                award=copy,
                source=source.public_id,
                email=target.email,
                old=old,
            )
            transaction.on_commit(partial(_enqueue_deliveries, [delivery.pk]))
    except IntegrityError:
        raise EmailRefused(_("This badge was already issued to that address."))
    if old == REVOKE:
        _revoke_replaced(source=source, copy=copy, learner=learner)
    return copy


@transaction.atomic
def _revoke_replaced(*, source: Award, copy: Award, learner: Person) -> None:
    """The learner chose to revoke the award sent to the old address. Not issuance's award_revoke:
    the learner still holds the badge (through the copy), so their progress stays "issued" and the
    copy is not revoked with it. The hosted assertion answers 410 and the status bit is set."""
    reason = f"Re-issued at the learner's request to another of their addresses (award {copy.public_id})."
    updated = Award.objects.filter(pk=source.pk, revoked=False).update(
        revoked=True, revoked_at=timezone.now(), revocation_reason=reason, revoked_by=_actor(learner)[:300]
    )
    if updated:
        _audit(learner, "award_revoked", award=source, reason=reason)


def award_copies_revoke(*, award: Award, actor: str) -> int:
    """When an award is revoked, its re-issued copies certify nothing any more: revoke them too.
    Called by issuance's award_revoke inside its transaction; returns how many were revoked."""
    copies = list(Award.objects.filter(reissued_from=award, revoked=False).values_list("pk", flat=True))
    if not copies:
        return 0
    reason = f"The award it was re-issued from was revoked: {award.revocation_reason}"
    Award.objects.filter(pk__in=copies).update(
        revoked=True, revoked_at=timezone.now(), revocation_reason=reason, revoked_by=actor[:300], needs_review=False
    )
    for pk in copies:
        AuditEvent.objects.create(actor=actor[:300], action="award_revoked", award_id=pk, detail={"reason": reason})
    return len(copies)
