"""The Canvas client against the sandbox Canvas served by live_server: real HTTP, real Link pagination,
the sandbox's throttle headers and injected faults."""

import pytest

from canvas import (
    CanvasAuthError,
    CanvasClient,
    CanvasIncompleteAnswerError,
    CanvasThrottledError,
    CanvasUnavailableError,
)
from lti.models import Platform
from sandbox.models import SandboxInstance
from sandbox.seed.instances import sandbox_seed
from sandbox.services.instance import faults_set

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def seeded(live_server):
    result = sandbox_seed(learners=110, assessments=2, slug="clienttest", base_url=live_server.url)
    return result, Platform.objects.get(pk=result.platform_id)


def test_lists_follow_every_page_and_return_typed_records(seeded):
    result, platform = seeded
    client = CanvasClient(platform)
    course_id = str(result.course.id)
    enrollments = list(client.list_enrollments(course_id, types=("StudentEnrollment",)))
    assert len(enrollments) > 100  # more than one page of 100
    assert client.request_count == 2
    assert len({e.id for e in enrollments}) == len(enrollments)
    assert all(e.user.email for e in enrollments if e.enrollment_state == "active")

    assignments = client.list_assignments(course_id)
    credentialing = [a for a in assignments if a.assignment_group_name == "Credentialing Assessments"]
    assert len(credentialing) == 2 and all(a.rubric for a in credentialing)

    submissions = list(client.list_submissions(course_id, assignment_ids=[a.id for a in credentialing]))
    assert any(s.posted_at and s.rubric_assessment for s in submissions)
    assert any(s.graded_at and not s.posted_at for s in submissions)  # the sandbox seeds unposted grades

    learner = next(e for e in enrollments if e.enrollment_state == "active")
    assert client.get_user_primary_email(learner.user_id) == learner.user.email


def test_revoked_token_and_outage(seeded):
    result, platform = seeded
    platform.api_token = "not-a-token"
    with pytest.raises(CanvasAuthError):
        CanvasClient(platform).get_course(str(result.course.id))

    platform.refresh_from_db()
    faults_set(instance=SandboxInstance.objects.get(slug="clienttest"), error_rate=1.0)
    client = CanvasClient(platform, max_retries=2, sleep=lambda s: None)
    with pytest.raises(CanvasUnavailableError, match="server error"):
        client.get_course(str(result.course.id))
    assert client.request_count == 3


def test_malformed_and_truncated_answers_are_retried_then_named_and_shown_to_instructors(seeded):
    """The sandbox's malformed (a 200 with an HTML page) and truncated (JSON cut in half) answers, over
    real HTTP: the client retries them, then raises CanvasIncompleteAnswerError; a sync that meets
    them fails with that kind, and the instructor dashboard says why in plain words."""
    from badging.models import SyncRun
    from badging.selectors.dashboard.sync_status import sync_status
    from badging.services.sync.coordination import course_sync
    from lti.models import Course

    result, platform = seeded
    instance = SandboxInstance.objects.get(slug="clienttest")
    course_id = str(result.course.id)
    for fault in ({"malformed_rate": 1.0}, {"truncated_rate": 1.0}):
        faults_set(instance=instance, malformed_rate=0.0, truncated_rate=0.0)
        faults_set(instance=instance, **fault)
        client = CanvasClient(platform, max_retries=1, sleep=lambda s: None)
        with pytest.raises(CanvasIncompleteAnswerError, match="not valid JSON"):
            client.get_course(course_id)
        assert client.request_count == 2

    course = Course.objects.get(platform=platform, canvas_course_id=course_id)
    run = course_sync(course_id=course.pk, trigger="test", full=True, client=CanvasClient(
        platform, max_retries=1, sleep=lambda s: None))  # fmt: skip
    assert run.status == SyncRun.STATUS_FAILED and run.stats["error_kind"] == "incomplete"
    assert sync_status(course=course).error_plain.startswith("Canvas sent incomplete answers")

    faults_set(instance=instance, truncated_rate=0.0)
    run = course_sync(course_id=course.pk, trigger="test", full=True)
    assert run.status == SyncRun.STATUS_OK
    status = sync_status(course=course)
    assert not status.failed and status.error_plain == ""  # the reason clears with the next good sync


def test_sandbox_throttle_is_recognised_and_low_remaining_slows_down(seeded):
    result, platform = seeded
    instance = SandboxInstance.objects.get(slug="clienttest")
    course_id = str(result.course.id)

    # A small bucket: X-Rate-Limit-Remaining runs low, and the client pauses before the next call.
    faults_set(instance=instance, bucket_size=120, request_cost=5)
    waits: list[float] = []
    client = CanvasClient(platform, sleep=waits.append)
    client.get_course(course_id)
    client.get_course(course_id)
    assert waits and 0 < waits[0] <= 5.0

    # A bucket smaller than Canvas's up-front reservation: every call is refused as throttled.
    faults_set(instance=instance, bucket_size=40)
    client = CanvasClient(platform, max_retries=2, sleep=waits.append)
    with pytest.raises(CanvasThrottledError, match="rate limit"):
        client.get_course(course_id)
    assert client.throttle_waits == 3 and client.request_count == 3


def test_a_missing_permission_and_a_bad_token_are_told_apart_against_the_sandbox(seeded):
    """lib/authentication_methods.rb `render_json_unauthorized`: a known user without the right gets
    401 `{"status": "unauthorized", ...}` without WWW-Authenticate; a bad token gets 401 "Invalid access
    token." with WWW-Authenticate. The sandbox answers both so; the client names each for what it is."""
    from canvas import CanvasPermissionError
    from canvas.connection import platform_connection_test
    from sandbox.models import SandboxEnrollment
    from sandbox.services.keys import api_token_create

    result, platform = seeded
    learner = SandboxEnrollment.objects.filter(course=result.course, type="StudentEnrollment").first().user
    platform.api_token = api_token_create(user=learner, purpose="a learner's token by mistake")
    platform.save()
    client = CanvasClient(platform)
    published = client.list_assignments(str(result.course.id))[0].id  # a student may list these
    with pytest.raises(CanvasPermissionError, match="user not authorized to perform that action"):
        list(client.list_submissions(str(result.course.id), assignment_ids=[published]))  # all students: graders only
    # The connection test reads the token's own profile: that works, so it names the account.
    assert platform_connection_test(platform=platform).ok

    platform.api_token = "expired-token"
    platform.save()
    report = platform_connection_test(platform=platform)
    assert not report.ok and "revoked or is invalid" in report.message
