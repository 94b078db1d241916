"""End to end over HTTP: the sandbox Canvas grades a submission, posts a signed Live Event to the
tool, the tool verifies it against the sandbox's JWKS and requests a sync of that course."""

from decimal import Decimal
from unittest import mock

import pytest

from lti.models import Course
from sandbox.models import SandboxAssignment, SandboxEnrollment, SandboxUser
from sandbox.seed import sandbox_seed
from sandbox.services import GradeInput, submission_grade
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_signed_event_from_the_sandbox_requests_a_course_sync(live_server, settings):
    result = sandbox_seed(learners=5, assessments=1, slug="liveevents", base_url=live_server.url)
    instance = result.instance
    instance.live_events_url = f"{live_server.url}/events/canvas/"
    instance.save()
    settings.LIVE_EVENTS_JWKS_URL = instance.keyset_url
    settings.LIVE_EVENTS_ALLOW_UNSIGNED = False
    course = Course.objects.get(platform_id=result.platform_id, canvas_course_id=str(result.course.id))
    assignment = SandboxAssignment.objects.filter(course=result.course, group__name="Credentialing Assessments").first()
    learner = SandboxUser.objects.get(
        pk=SandboxEnrollment.objects.filter(course=result.course, type="StudentEnrollment").values("user_id")[:1]
    )
    teacher = SandboxUser.objects.filter(instance=instance, is_account_admin=True).first()

    with mock.patch("celery.current_app.send_task") as send:
        submission_grade(assignment=assignment, user=learner, grader=teacher, grade=GradeInput(score=Decimal(12)))
        wait_for(lambda: send.called, timeout=10, message="the live event to request a sync")
    assert send.call_args.args[0] == "badging.course_sync"
    assert send.call_args.kwargs["kwargs"]["course_id"] == course.pk
    assert send.call_args.kwargs["kwargs"]["trigger"] == "live_event:grade_change"
