"""A Redis restarted without persistence, or flushed, loses every queued message at once; found by
the chaos run (`python -m bench chaos --learners 5000`, FLUSHDB mid-issuance): the 1,325 learners
then queued waited BADGING_QUEUED_STALE_AFTER_SECONDS (180 s) plus a reconciler interval before
anything queued them again, and the run had not settled 6 minutes after its last fault. The
reconciler now keeps a marker in the broker's Redis: when it is gone, every queued learner and
queued email is queued again by that same reconciler run. Work in a retry backoff keeps its time."""

from datetime import timedelta

import pytest
from django.utils import timezone

from badging.models import Delivery, LearnerProgress
from badging.services import reconcile as broker
from badging.tasks.issuance import reconcile
from tests.factories import AwardFactory, LearnerProgressFactory

pytestmark = [pytest.mark.django_db, pytest.mark.integration]  # a real Redis broker


def _broker_client():
    from skillsforward.celery import app

    conn = app.connection_for_write()
    return conn, conn.default_channel.client


def test_when_the_broker_forgot_its_queue_the_reconciler_queues_the_work_again_at_once(
    enqueued, django_capture_on_commit_callbacks
):
    later = timezone.now() + timedelta(seconds=170)
    queued = LearnerProgressFactory(
        state=LearnerProgress.ELIGIBLE, issue_status=LearnerProgress.ISSUE_QUEUED, issue_next_attempt_at=later
    )
    award = AwardFactory()
    email = Delivery.objects.create(award=award, kind=Delivery.KIND_EMAIL, next_attempt_at=later)
    backoff = Delivery.objects.create(
        award=AwardFactory(), kind=Delivery.KIND_EMAIL, status=Delivery.FAILED, next_attempt_at=later, attempts=2
    )

    broker.broker_forgot()  # the marker is there now: the broker remembers
    with_marker = reconcile()
    assert with_marker["learners_queued"] == 0 and with_marker["deliveries_queued"] == 0

    conn, client = _broker_client()
    try:
        client.delete(broker.MARKER)  # what a restart without persistence or a FLUSHDB does to it
    finally:
        conn.release()
    with django_capture_on_commit_callbacks(execute=True):
        result = reconcile()
    assert result["lost_requeued"] == {"learners": 1, "emails": 1}
    assert result["learners_queued"] == 1 and result["deliveries_queued"] == 1
    assert ("badging.award_issue_batch", [[queued.pk]]) in enqueued.calls
    assert ("badging.deliveries_send", [[email.pk]]) in enqueued.calls
    backoff.refresh_from_db()
    assert backoff.next_attempt_at == later  # a refused email keeps its backoff
    assert not broker.broker_forgot()  # once: the marker is back
