"""An operator's "try again now" for award emails and Canvas Credentials pushes."""

from celery import current_app
from django.db import transaction
from django.utils import timezone

from badging.models import AuditEvent, Delivery
from badging.services.issuance.policy import queued_stale_after


def deliveries_retry(*, delivery_ids: list[int], actor: str) -> int:
    """Re-open the given unsent deliveries of live awards and hand them to the delivery task after commit.

    Returns how many were re-opened. Sent deliveries and those of revoked awards are left alone. A
    re-opened delivery carries a next-attempt time, so if the task message is lost the reconciler
    still picks it up; the notification service never sends a delivery already marked sent.
    """
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(of=("self",))
            .select_related("award")
            .filter(pk__in=delivery_ids, award__revoked=False)
            .exclude(status=Delivery.SENT)
        )
        if not rows:
            return 0
        now = timezone.now()
        for delivery in rows:
            if delivery.status != Delivery.SENDING:  # a send under way keeps its mark (an extra email is counted)
                delivery.status = Delivery.PENDING
            delivery.next_attempt_at = now + queued_stale_after()
        Delivery.objects.bulk_update(rows, ["status", "next_attempt_at"])
        AuditEvent.objects.bulk_create(
            [
                AuditEvent(
                    actor=actor[:300],
                    action="delivery_retried",
                    award=d.award,
                    detail={"delivery": d.pk, "kind": d.kind, "previous_attempts": d.attempts},
                )
                for d in rows
            ]
        )
        ids = [d.pk for d in rows]
        transaction.on_commit(lambda: current_app.send_task("badging.deliveries_send", args=[ids]))
    return len(rows)
