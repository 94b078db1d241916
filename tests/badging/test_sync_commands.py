"""badging_schedule writes the beat rows once; badging_sync runs a sync and reports it."""

import io

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from badging.models import SyncRun
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_schedule_is_idempotent_and_uses_the_exact_task_names(settings):
    settings.BADGING_RECONCILE_INTERVAL_MINUTES = 10
    out = io.StringIO()
    call_command("badging_schedule", stdout=out)
    call_command("badging_schedule", stdout=out)
    rows = {p.task: p for p in PeriodicTask.objects.all()}
    expected = {"badging.sync_all_due", "badging.reconcile", "lti.launches_purge", "badging.programs_reconcile"}
    assert set(rows) == expected
    assert rows["badging.reconcile"].interval.every == 10 and rows["badging.reconcile"].enabled
    assert PeriodicTask.objects.count() == 4
    assert "already up to date" in out.getvalue().splitlines()[-1]


def test_badging_sync_command(canvas_api):
    canvas_api.add_assignment(55, "Clean a data set")
    canvas_api.add_student(42, "Ada")
    badge = f.CourseBadgeFactory(
        course__canvas_course_id=canvas_api.course_id, course__platform__api_base_url=canvas_api.base
    )
    out = io.StringIO()
    call_command("badging_sync", "--course-badge", badge.key, stdout=out)
    assert SyncRun.objects.get().status == "ok"
    assert "ok, 6 Canvas requests" in out.getvalue()
    with pytest.raises(CommandError, match="either"):
        call_command("badging_sync")
    with pytest.raises(CommandError, match="no course badge"):
        call_command("badging_sync", "--course-badge", "nope")
