"""Delivering an award: the email to the learner and the push to Canvas Credentials.

Guarantees: one email per Delivery row, and any extra one counted. Before a batch's emails go to
the mail server their rows are leased in one statement and the lease committed (status "sending",
send_started_at, next_attempt_at = end of the lease); the ones the server took are marked sent in
one statement at the end. A duplicated task finds them sent or leased and does nothing. If the
worker dies before "sent" is committed, the lease runs out, the reconciler queues the deliveries
again, and the next attempt adds one to unconfirmed_sends before sending each: the learner gets at
most one extra email per such crash, and the row says so (counted for every email of the batch
not recorded as sent, also those that had not gone out: an upper bound). A
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
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from badging.models import Delivery
from badging.openbadges.links import PublicLinks, public_base_url
from badging.services import smtp_envelope
from badging.services.award_email import _PLAIN_ADDRESS, award_email_message
from badging.services.issuance.policy import LeaseRenewer, lease_length, retry_delay

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
        message = award_email_message(award=award, links=links, connection=connection)
        if isinstance(connection, SMTPBackend) and connection.connection is not None:
            _smtp_send(connection.connection, message)
        else:
            message.send()
    except smtplib.SMTPResponseException as exc:  # the server answered with a refusal: not delivered
        raise DeliveryFailure(f"The mail server did not accept the email: {exc}") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailure(f"The mail server did not accept the email: {exc}") from exc
    except Exception as exc:  # dropped connection, timeout: the server may or may not have it
        raise UnconfirmedSend(f"The mail server did not confirm the email (it may have been delivered): {exc}") from exc


_sanitized: dict[tuple[str, str], str] = {}


def _smtp_send(smtp, message: EmailMultiAlternatives) -> None:
    """What Django's SMTP backend does for one message (EmailBackend._send), on the open smtplib
    connection: the envelope addresses as sanitize_address gives them (a plain address is itself;
    the sender is worked out once), then the message's bytes. Skips the backend's per-message
    lock and address parsing, which cost more than the rest of sending."""
    from django.core.mail.message import sanitize_address

    encoding = message.encoding or settings.DEFAULT_CHARSET
    key = (message.from_email, encoding)
    if key not in _sanitized:
        _sanitized[key] = sanitize_address(message.from_email, encoding)
    recipients = [
        address if _PLAIN_ADDRESS.match(address) else sanitize_address(address, encoding)
        for address in message.recipients()
    ]
    data = message.message().as_bytes(linesep="\r\n")  # type: ignore[call-arg]  # Django's SafeMIME takes it
    if all(_PLAIN_ADDRESS.match(address) for address in recipients):
        smtp_envelope.sendmail(smtp, _sanitized[key], recipients, data)
    else:
        smtp.sendmail(_sanitized[key], recipients, data)


def _email_lease_length():
    # Long enough for one slow mail server (connect, then each SMTP step, each up to EMAIL_TIMEOUT).
    from datetime import timedelta

    return max(lease_length(), timedelta(seconds=3 * (settings.EMAIL_TIMEOUT or 20)))


def _batch_lease(email_ids: list[int], other_ids: list[int], now) -> set[int]:
    """Lease a batch's deliveries in one statement, committed before any byte goes to the mail
    server; returns the ids of the emails leased for sending now.

    Emails: status "sending", one attempt counted, until the end of the email lease; one sent
    already or under another worker's live lease is left alone. Taking over an expired lease (a
    worker died mid-batch) counts one unconfirmed send. The other deliveries (Canvas Credentials)
    are the batch's until the end of the task lease. A worker dying mid-batch leaves every email it
    leased and had not recorded as sent "sending": the next attempt sends each again and counts it
    as unconfirmed (an upper bound: the learner got at most one extra email, or none)."""
    sent, sending = Delivery.SENT, Delivery.SENDING
    if not email_ids and not other_ids:
        return set()
    if db_connection.vendor != "postgresql":  # SQLite (the demo): no RETURNING on the ORM's update
        live = Q(status=sending, next_attempt_at__isnull=False, next_attempt_at__gt=now)
        with transaction.atomic():
            Delivery.objects.filter(pk__in=other_ids).exclude(status=sent).exclude(live).update(
                next_attempt_at=now + lease_length()
            )
            leasable = Delivery.objects.filter(pk__in=email_ids).exclude(status=sent).exclude(live)
            leased = set(leasable.values_list("pk", flat=True))
            Delivery.objects.filter(pk__in=leased).update(
                unconfirmed_sends=F("unconfirmed_sends") + Case(When(status=sending, then=Value(1)), default=Value(0)),
                status=sending,
                send_started_at=now,
                attempts=F("attempts") + 1,
                next_attempt_at=now + _email_lease_length(),
                updated_at=now,
            )
            return leased
    table, pk = Delivery._meta.db_table, Delivery._meta.pk.column
    sql = f"""
        UPDATE {table} SET
            unconfirmed_sends = unconfirmed_sends
                + CASE WHEN {pk} = ANY(%(emails)s) AND status = %(sending)s THEN 1 ELSE 0 END,
            status = CASE WHEN {pk} = ANY(%(emails)s) THEN %(sending)s ELSE status END,
            send_started_at = CASE WHEN {pk} = ANY(%(emails)s) THEN %(now)s ELSE send_started_at END,
            attempts = attempts + CASE WHEN {pk} = ANY(%(emails)s) THEN 1 ELSE 0 END,
            next_attempt_at = CASE WHEN {pk} = ANY(%(emails)s) THEN %(email_until)s ELSE %(until)s END,
            updated_at = CASE WHEN {pk} = ANY(%(emails)s) THEN %(now)s ELSE updated_at END
        WHERE {pk} = ANY(%(ids)s) AND status <> %(sent)s
            AND NOT (status = %(sending)s AND next_attempt_at IS NOT NULL AND next_attempt_at > %(now)s)
        RETURNING {pk}
    """  # noqa: S608 (table and column names from the model, values as parameters)
    params = {
        "sent": sent,
        "sending": sending,
        "now": now,
        "until": now + lease_length(),
        "email_until": now + _email_lease_length(),
        "emails": email_ids,
        "ids": email_ids + other_ids,
    }
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = {row[0] for row in cursor.fetchall()}
    return returned & set(email_ids)


RECIPIENT_REMOVED = "Not sent: the learner's personal data was removed on request (learner_forget)."


def _mark_sent(delivery_ids: list[int], now) -> None:
    if delivery_ids:
        Delivery.objects.filter(pk__in=delivery_ids).exclude(status=Delivery.SENT).update(
            status=Delivery.SENT, sent_at=now, last_error="", next_attempt_at=None, updated_at=now
        )


def _attempt(delivery: Delivery, connection, links: PublicLinks, accepted: list[int], leased: set[int]) -> Delivery:
    """One delivery attempt. An email was leased with its batch (_batch_lease): one not in `leased`
    is sent or leased elsewhere and is left alone; one the mail server takes is added to
    `accepted`, which the caller marks sent in one statement at the end of the batch (until then
    the email stays under its lease: a worker dying then counts it as an unconfirmed send). A
    Canvas Credentials push is claimed (row lock + "not sent yet" check + marking it sent) by a
    single UPDATE in the transaction that surrounds the push: a concurrent duplicate waits on the
    row lock and then finds it sent; a failed push rolls the claim back."""
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
            if delivery.pk not in leased:
                delivery.refresh_from_db(fields=["status", "next_attempt_at", "attempts", "last_error"])
                return delivery
            _send_email(delivery, connection, links)
            accepted.append(delivery.pk)
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
    return _deliveries_attempt(list(rows))


def deliveries_send_issued(*, deliveries: list[Delivery]) -> list[Delivery]:
    """deliveries_send for the deliveries of awards just issued in this process, their awards (with
    badge class, issuer, learner, course and platform) in memory: they are not read again."""
    return _deliveries_attempt(sorted(deliveries, key=lambda d: d.pk))


def _deliveries_attempt(rows: list[Delivery]) -> list[Delivery]:
    links = _email_links()
    ids = [d.pk for d in rows]
    if not ids:
        return []
    # The batch is this task's while it works (its lease renewed): if the worker dies, the
    # deliveries it had not finished are due again when the lease runs out, not after the broker
    # gives the task back. Emails leased by another worker's send are left to it.
    emails = [d.pk for d in rows if d.kind == Delivery.KIND_EMAIL and d.award.recipient_email]
    leased = _batch_lease(emails, [pk for pk in ids if pk not in set(emails)], timezone.now())
    unfinished = set(ids)

    def renew(until) -> None:
        Delivery.objects.filter(pk__in=list(unfinished.copy())).exclude(status=Delivery.SENT).update(
            next_attempt_at=until
        )

    renewer = LeaseRenewer(f"deliveries {ids[:3]}", renew)
    renewer.start_unless_in_transaction()
    connection = get_connection(fail_silently=False)
    results = []
    accepted: list[int] = []
    try:
        for delivery in rows:
            results.append(_attempt(delivery, connection, links, accepted, leased))
            if delivery.pk not in accepted:  # an accepted email stays leased until it is marked sent
                unfinished.discard(delivery.pk)
            if delivery.status == Delivery.FAILED and delivery.kind == Delivery.KIND_EMAIL:
                # A refused connection may be half-open: start afresh for the next message.
                connection.close()
    finally:
        renewer.done.set()
        connection.close()
        _mark_sent(accepted, timezone.now())
    return results
