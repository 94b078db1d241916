"""Delivering an award: the email to the learner and the push to Canvas Credentials.

Guarantees: exactly one successful send per Delivery row. Each delivery is attempted inside a
transaction holding its row lock and re-checking its status, and is marked sent in that same
transaction, so a retried or duplicated task finds it sent and does nothing. Failures are
recorded (attempts, last_error, next_attempt_at) and retried with capped backoff; they never
touch the award itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from badging.models import Award, Delivery
from badging.openbadges.links import PublicLinks, public_base_url
from badging.selectors.awards import award_links
from badging.services.issuance import retry_delay
from skillsforward.i18n import language_for_person

logger = logging.getLogger(__name__)

MAX_DELIVERY_ATTEMPTS = 12
DEMO_BASE_URL = "http://localhost:8000"


class DeliveryFailure(Exception):
    """A delivery attempt failed; the message is shown to admins on the Delivery row."""


def _email_links() -> PublicLinks:
    base = public_base_url()
    if not base:
        logger.warning("PUBLIC_BASE_URL is not set: email links point to %s", DEMO_BASE_URL)
        base = DEMO_BASE_URL
    return PublicLinks(base)


def delivery_links() -> PublicLinks:
    """The public links deliveries use (the Canvas Credentials marker is built from them)."""
    return _email_links()


def learner_page_url(*, course) -> str:
    """Where the learner's own badge page is: inside Canvas, launched from the course menu (the
    tool's page needs an LTI launch, so the email links to the course in Canvas)."""
    base = (course.platform.api_base_url or "").rstrip("/")
    return f"{base}/courses/{course.canvas_course_id}" if base else ""


def award_email_message(*, award: Award, links: PublicLinks, connection=None) -> EmailMultiAlternatives:
    """The notification email (plain text + HTML) for an award, in the learner's language: the
    locale of their latest launch, else the course's Canvas language, else the default."""
    course = award.course_badge.course
    with translation.override(language_for_person(award.learner, course)):
        return _award_email_message(award=award, links=links, connection=connection)


def _award_email_message(*, award: Award, links: PublicLinks, connection=None) -> EmailMultiAlternatives:
    context = {
        "award": award,
        "badge": award.badge_class,
        "issuer": award.badge_class.issuer,
        "learner": award.learner,
        "course": award.course_badge.course,
        "links": award_links(award, links=links),
        "badge_image_url": links.badge_class_image(award.badge_class.public_id),
        "learner_page_url": learner_page_url(course=award.course_badge.course),
    }
    subject = _("You earned the “%(badge)s” badge") % {"badge": award.badge_class.name}
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("email/award_issued.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[award.recipient_email],
        # Learners answer award emails with questions: send them to the issuer's contact, not a no-reply box.
        reply_to=[award.badge_class.issuer.email] if award.badge_class.issuer.email else None,
        connection=connection,
        headers={"X-Badge-Award": award.public_id, "Content-Language": translation.get_language()},
    )
    message.attach_alternative(render_to_string("email/award_issued.html", context), "text/html")
    return message


def _send_email(delivery: Delivery, connection, links: PublicLinks) -> None:
    award = delivery.award
    if award.revoked:
        raise DeliveryFailure("The award was revoked before the email was sent; not sending.")
    try:
        connection.open()  # no-op when already open: one connection serves the whole batch
        award_email_message(award=award, links=links, connection=connection).send()
    except Exception as exc:  # SMTP refusals, timeouts, DNS: all retried
        raise DeliveryFailure(f"The mail server did not accept the email: {exc}") from exc


RECIPIENT_REMOVED = "Not sent: the learner's personal data was removed on request (learner_forget)."


def _attempt(delivery: Delivery, connection, links: PublicLinks) -> Delivery:
    """One delivery attempt. The claim (row lock + "not sent yet" check + marking it sent) is a
    single UPDATE in the transaction that surrounds the send: a concurrent duplicate waits on the
    row lock and then finds it sent; a failed send rolls the claim back."""
    from badging.services import canvas_credentials

    now = timezone.now()
    if not delivery.award.recipient_email:
        # The learner's personal data was removed on request: there is no one to send to, ever.
        Delivery.objects.filter(pk=delivery.pk).exclude(status=Delivery.SENT).update(
            status=Delivery.FAILED, last_error=RECIPIENT_REMOVED, next_attempt_at=None, updated_at=now
        )
        delivery.status, delivery.last_error, delivery.next_attempt_at = Delivery.FAILED, RECIPIENT_REMOVED, None
        return delivery
    try:
        if delivery.kind == Delivery.KIND_CANVAS_CREDENTIALS:
            canvas_credentials.canvas_credentials_prepare(delivery=delivery)
        with transaction.atomic():
            claimed = (
                Delivery.objects.filter(pk=delivery.pk)
                .exclude(status=Delivery.SENT)
                .update(
                    status=Delivery.SENT,
                    sent_at=now,
                    attempts=F("attempts") + 1,
                    last_error="",
                    next_attempt_at=None,
                    updated_at=now,
                )
            )
            if not claimed:
                delivery.status = Delivery.SENT
                return delivery
            if delivery.kind == Delivery.KIND_EMAIL:
                _send_email(delivery, connection, links)
            else:
                external_id = canvas_credentials.canvas_credentials_issue(delivery=delivery, links=links)
                Delivery.objects.filter(pk=delivery.pk).update(external_id=external_id)
                delivery.external_id = external_id
    except (DeliveryFailure, canvas_credentials.CanvasCredentialsError) as exc:
        if delivery.kind == Delivery.KIND_CANVAS_CREDENTIALS:
            canvas_credentials.canvas_credentials_failed(delivery=delivery, error=exc)
        attempts = Delivery.objects.filter(pk=delivery.pk).values_list("attempts", flat=True).first() or 0
        attempts += 1
        # A refusal (e.g. Canvas Credentials rejecting the request itself) cannot succeed by retrying.
        permanent = getattr(exc, "permanent", False)
        gave_up = attempts >= MAX_DELIVERY_ATTEMPTS or delivery.award.revoked or permanent
        delivery.status = Delivery.FAILED
        delivery.attempts = attempts
        delivery.last_error = str(exc)[:2000]
        delivery.next_attempt_at = None if gave_up else timezone.now() + retry_delay(attempts)
        Delivery.objects.filter(pk=delivery.pk).exclude(status=Delivery.SENT).update(
            status=delivery.status,
            attempts=attempts,
            last_error=delivery.last_error,
            next_attempt_at=delivery.next_attempt_at,
            updated_at=timezone.now(),
        )
        # ERROR is what log alerting watches: a delivery given up on, or any Canvas Credentials failure
        # (the learner's backpack copy is missing and an admin may have to fix the connection).
        alert = gave_up or delivery.kind == Delivery.KIND_CANVAS_CREDENTIALS
        logger.log(
            logging.ERROR if alert else logging.WARNING,
            "delivery %s (%s) failed, attempt %s%s: %s",
            delivery.pk,
            delivery.kind,
            attempts,
            ", giving up" if delivery.next_attempt_at is None else "",
            exc,
        )
        return delivery
    delivery.status, delivery.sent_at, delivery.last_error, delivery.next_attempt_at = Delivery.SENT, now, "", None
    delivery.attempts += 1
    return delivery


def deliveries_send(*, delivery_ids: Iterable[int]) -> list[Delivery]:
    """Attempt each delivery once (one SMTP connection for the batch); returns the rows as left."""
    links = _email_links()
    rows = (
        Delivery.objects.filter(pk__in=set(delivery_ids))
        .exclude(status=Delivery.SENT)
        .select_related("award__badge_class__issuer", "award__learner", "award__course_badge__course__platform")
        .defer(  # the big columns the email does not need
            "award__ob3_credential",
            "award__ob3_jwt",
            "award__badge_class__image",
            "award__badge_class__issuer__image",
        )
        .order_by("pk")
    )
    connection = get_connection(fail_silently=False)
    results = []
    try:
        for delivery in rows:
            results.append(_attempt(delivery, connection, links))
            if delivery.status == Delivery.FAILED and delivery.kind == Delivery.KIND_EMAIL:
                # A refused connection may be half-open: start afresh for the next message.
                connection.close()
    finally:
        connection.close()
    return results
