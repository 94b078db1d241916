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
from django.template.loader import render_to_string
from django.utils import timezone

from badging.models import Award, Delivery
from badging.openbadges.links import PublicLinks, public_base_url
from badging.selectors.awards import award_links
from badging.services.issuance import retry_delay

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


def award_email_message(*, award: Award, links: PublicLinks, connection=None) -> EmailMultiAlternatives:
    """The notification email (plain text + HTML) for an award."""
    context = {
        "award": award,
        "badge": award.badge_class,
        "issuer": award.badge_class.issuer,
        "learner": award.learner,
        "course": award.course_badge.course,
        "links": award_links(award, links=links),
        "badge_image_url": links.badge_class_image(award.badge_class.public_id),
    }
    subject = f"You earned the “{award.badge_class.name}” badge"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("email/award_issued.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[award.recipient_email],
        connection=connection,
        headers={"X-Badge-Award": award.public_id},
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


def _attempt(delivery_id: int, connection, links: PublicLinks) -> Delivery | None:
    from badging.services import canvas_credentials

    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("award__badge_class__issuer", "award__learner", "award__course_badge__course")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status == Delivery.SENT:
            return delivery
        delivery.attempts += 1
        try:
            if delivery.kind == Delivery.KIND_EMAIL:
                _send_email(delivery, connection, links)
            else:
                delivery.external_id = canvas_credentials.canvas_credentials_issue(delivery=delivery, links=links)
        except (DeliveryFailure, canvas_credentials.CanvasCredentialsError) as exc:
            delivery.status = Delivery.FAILED
            delivery.last_error = str(exc)[:2000]
            gave_up = delivery.attempts >= MAX_DELIVERY_ATTEMPTS or delivery.award.revoked
            delivery.next_attempt_at = None if gave_up else timezone.now() + retry_delay(delivery.attempts)
            logger.warning(
                "delivery %s (%s) failed, attempt %s: %s", delivery.pk, delivery.kind, delivery.attempts, exc
            )
        else:
            delivery.status = Delivery.SENT
            delivery.sent_at = timezone.now()
            delivery.last_error = ""
            delivery.next_attempt_at = None
        delivery.save(
            update_fields=[
                "status",
                "attempts",
                "last_error",
                "next_attempt_at",
                "sent_at",
                "external_id",
                "updated_at",
            ]
        )
    return delivery


def deliveries_send(*, delivery_ids: Iterable[int]) -> list[Delivery]:
    """Attempt each delivery once (one SMTP connection for the batch); returns the rows as left."""
    links = _email_links()
    connection = get_connection(fail_silently=False)
    results = []
    try:
        for delivery_id in delivery_ids:
            delivery = _attempt(delivery_id, connection, links)
            if delivery is not None:
                results.append(delivery)
                if delivery.status == Delivery.FAILED and delivery.kind == Delivery.KIND_EMAIL:
                    # A refused connection may be half-open: start afresh for the next message.
                    connection.close()
    finally:
        connection.close()
    return results
