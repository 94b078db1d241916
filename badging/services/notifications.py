"""Delivering an award: the email to the learner and the push to Canvas Credentials.

Guarantees: one email per Delivery row, and any extra one counted. Before an email goes to the
mail server its row is leased and the lease committed (status "sending", send_started_at,
next_attempt_at = end of the lease): a duplicated task finds it sent or leased and does nothing.
If the worker dies between the server taking the email and "sent" being committed, the lease runs
out, the reconciler queues the delivery again, and the next attempt adds one to unconfirmed_sends
before sending: the learner gets at most one extra email per such crash, and the row says so. A
connection dropped after the message was handed over (no reply to DATA) is counted the same way.
Canvas Credentials pushes are claimed and marked sent in one transaction around the push.
Failures are recorded (attempts, last_error, next_attempt_at) and retried with capped backoff;
they never touch the award itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from badging.models import Award, Delivery
from badging.openbadges.links import PublicLinks, public_base_url
from badging.selectors.awards import award_links
from badging.services.issuance import LeaseRenewer, lease_length, retry_delay
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
    tool's page needs an LTI launch, so the email links to the course in Canvas). A program badge
    has no course: no link (My badges is in the Canvas Account menu)."""
    if course is None:
        return ""
    base = (course.platform.api_base_url or "").rstrip("/")
    return f"{base}/courses/{course.canvas_course_id}" if base else ""


def award_email_message(*, award: Award, links: PublicLinks, connection=None) -> EmailMultiAlternatives:
    """The notification email (plain text + HTML) for an award, in the learner's language: the
    locale of their latest launch, else the course's Canvas language, else the default."""
    course = award.course
    with translation.override(language_for_person(award.learner, course)):
        return _award_email_message(award=award, links=links, connection=connection)


def _award_email_message(*, award: Award, links: PublicLinks, connection=None) -> EmailMultiAlternatives:
    context = {
        "award": award,
        "badge": award.badge_class,
        "issuer": award.badge_class.issuer,
        "learner": award.learner,
        "course": award.course,
        "links": award_links(award, links=links),
        "badge_image_url": links.badge_class_image(award.badge_class.public_id),
        "learner_page_url": learner_page_url(course=award.course),
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


class UnconfirmedSend(DeliveryFailure):
    """The email was handed to the mail server but no answer came back: it may have been delivered."""


def _send_email(delivery: Delivery, connection, links: PublicLinks) -> None:
    import smtplib

    award = delivery.award
    if award.revoked:
        raise DeliveryFailure("The award was revoked before the email was sent; not sending.")
    try:
        connection.open()  # no-op when already open: one connection serves the whole batch
    except Exception as exc:  # refused, timed out, DNS: nothing was sent
        raise DeliveryFailure(f"Could not connect to the mail server: {exc}") from exc
    try:
        award_email_message(award=award, links=links, connection=connection).send()
    except smtplib.SMTPResponseException as exc:  # the server answered with a refusal: not delivered
        raise DeliveryFailure(f"The mail server did not accept the email: {exc}") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailure(f"The mail server did not accept the email: {exc}") from exc
    except Exception as exc:  # dropped connection, timeout: the server may or may not have it
        raise UnconfirmedSend(f"The mail server did not confirm the email (it may have been delivered): {exc}") from exc


def _email_lease_length():
    # Long enough for one slow mail server (connect, then each SMTP step, each up to EMAIL_TIMEOUT).
    from datetime import timedelta

    return max(lease_length(), timedelta(seconds=3 * (settings.EMAIL_TIMEOUT or 20)))


def _email_lease(delivery: Delivery, now) -> bool:
    """Lease the delivery for one send and commit the lease before any byte goes to the mail
    server. False when it is sent already or another worker holds a live lease on it. Taking over
    an expired lease (a worker died mid-send) counts one unconfirmed send."""
    leased = (
        Delivery.objects.filter(pk=delivery.pk)
        .exclude(status=Delivery.SENT)
        .exclude(Q(status=Delivery.SENDING) & Q(next_attempt_at__gt=now))
        .update(
            unconfirmed_sends=F("unconfirmed_sends")
            + Case(When(status=Delivery.SENDING, then=Value(1)), default=Value(0)),
            status=Delivery.SENDING,
            send_started_at=now,
            attempts=F("attempts") + 1,
            next_attempt_at=now + _email_lease_length(),
            updated_at=now,
        )
    )
    return bool(leased)


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
        if delivery.kind == Delivery.KIND_EMAIL:
            if not _email_lease(delivery, now):
                delivery.refresh_from_db(fields=["status", "next_attempt_at", "attempts", "last_error"])
                return delivery
            _send_email(delivery, connection, links)
            Delivery.objects.filter(pk=delivery.pk).exclude(status=Delivery.SENT).update(
                status=Delivery.SENT, sent_at=timezone.now(), last_error="", next_attempt_at=None, updated_at=now
            )
            delivery.status, delivery.sent_at, delivery.last_error = Delivery.SENT, now, ""
            delivery.next_attempt_at = None
            delivery.attempts += 1
            return delivery
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
            external_id = canvas_credentials.canvas_credentials_issue(delivery=delivery, links=links)
            Delivery.objects.filter(pk=delivery.pk).update(external_id=external_id)
            delivery.external_id = external_id
    except (DeliveryFailure, canvas_credentials.CanvasCredentialsError) as exc:
        if delivery.kind == Delivery.KIND_CANVAS_CREDENTIALS:
            canvas_credentials.canvas_credentials_failed(delivery=delivery, error=exc)
        attempts = Delivery.objects.filter(pk=delivery.pk).values_list("attempts", flat=True).first() or 0
        if delivery.kind != Delivery.KIND_EMAIL:  # an email's attempt was counted when it was leased
            attempts += 1
        # A refusal (e.g. Canvas Credentials rejecting the request itself) cannot succeed by retrying.
        permanent = getattr(exc, "permanent", False)
        gave_up = attempts >= MAX_DELIVERY_ATTEMPTS or delivery.award.revoked or permanent
        delivery.status = Delivery.FAILED
        delivery.attempts = attempts
        delivery.last_error = str(exc)[:2000]
        delivery.next_attempt_at = None if gave_up else timezone.now() + retry_delay(attempts)
        unconfirmed = F("unconfirmed_sends") + (1 if isinstance(exc, UnconfirmedSend) else 0)
        Delivery.objects.filter(pk=delivery.pk).exclude(status=Delivery.SENT).update(
            status=delivery.status,
            unconfirmed_sends=unconfirmed,
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
    delivery_ids = list(delivery_ids)
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
    ids = sorted(set(delivery_ids))
    now = timezone.now()
    # The batch is this task's while it works (its lease renewed): if the worker dies, the
    # deliveries it had not finished are due again when the lease runs out, not after the broker
    # gives the task back. Emails leased by another worker's send are left to it.
    Delivery.objects.filter(pk__in=ids).exclude(status=Delivery.SENT).exclude(
        status=Delivery.SENDING, next_attempt_at__gt=now
    ).update(next_attempt_at=now + lease_length())
    unfinished = set(ids)

    def renew(until) -> None:
        Delivery.objects.filter(pk__in=list(unfinished.copy())).exclude(status=Delivery.SENT).update(
            next_attempt_at=until
        )

    renewer = LeaseRenewer(f"deliveries {ids[:3]}", renew)
    renewer.start_unless_in_transaction()
    connection = get_connection(fail_silently=False)
    results = []
    try:
        for delivery in rows:
            results.append(_attempt(delivery, connection, links))
            unfinished.discard(delivery.pk)
            if delivery.status == Delivery.FAILED and delivery.kind == Delivery.KIND_EMAIL:
                # A refused connection may be half-open: start afresh for the next message.
                connection.close()
    finally:
        renewer.done.set()
        connection.close()
    return results
