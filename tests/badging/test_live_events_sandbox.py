"""End to end over HTTP: the sandbox Canvas grades a submission, posts a signed Live Event to the
tool's URL for the sandbox's platform (set up by the seed), the tool verifies it against the
sandbox's Live Events key set and its root account guid, and requests a sync of that platform's course only."""

from decimal import Decimal

import pytest

from lti.models import Course, Platform
from sandbox.models import SandboxAssignment, SandboxEnrollment, SandboxUser
from sandbox.seed.instances import sandbox_seed
from sandbox.services.grades import GradeInput, submission_grade
from tests import factories as f
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_signed_event_from_the_sandbox_requests_a_course_sync(live_server, settings, enqueued):
    result = sandbox_seed(
        learners=5,
        assessments=1,
        slug="liveevents",
        base_url=live_server.url,
        tool_url=live_server.url,
        live_events=True,
    )
    instance = result.instance
    platform = Platform.objects.get(pk=result.platform_id)
    assert instance.live_events_url == f"{live_server.url}/events/canvas/{platform.live_events_key}/"
    # As after a first launch (tool_platform.guid): the event's root_account_lti_guid must match it.
    platform.canvas_guid = "sandbox-liveevents"
    platform.save()
    settings.LIVE_EVENTS_JWKS_URL = f"{live_server.url}/sandbox/live-events/jwks"  # not the LTI key set
    settings.LIVE_EVENTS_ALLOW_UNSIGNED = False
    course = Course.objects.get(platform_id=result.platform_id, canvas_course_id=str(result.course.id))
    assignment = SandboxAssignment.objects.filter(course=result.course, group__name="Credentialing Assessments").first()
    learner = SandboxUser.objects.get(
        pk=SandboxEnrollment.objects.filter(course=result.course, type="StudentEnrollment").values("user_id")[:1]
    )
    teacher = SandboxUser.objects.filter(instance=instance, is_account_admin=True).first()
    # Another customer's course with the same Canvas id, on another platform: never synced by these events.
    elsewhere = f.CourseBadgeFactory(course__canvas_course_id=course.canvas_course_id)

    enqueued.clear()
    submission_grade(assignment=assignment, user=learner, grader=teacher, grade=GradeInput(score=Decimal(12)))
    wait_for(lambda: enqueued, timeout=10, message="the live event to request a sync")
    assert enqueued[-1].name == "badging.course_sync"
    assert enqueued[-1].kwargs["course_id"] == course.pk
    assert enqueued[-1].kwargs["trigger"] == "live_event:grade_change"
    assert elsewhere.course_id not in {task.kwargs["course_id"] for task in enqueued}


def test_seed_command_points_live_events_at_the_registered_platforms_url():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "sandbox_seed", "--learners", "2", "--assessments", "1", "--instance", "le-cmd", "--live-events", stdout=out
    )
    platform = Platform.objects.get(issuer__contains="le-cmd")
    url = f"http://localhost:8000/events/canvas/{platform.live_events_key}/"
    assert f"Live Events: {url}" in out.getvalue()
