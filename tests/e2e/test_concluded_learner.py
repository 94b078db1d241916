"""End to end: a learner whose enrollment concluded at term end (the seed's Ana Müller) launches
from the sandbox Canvas, which, like Canvas, sends no course role for a concluded enrollment and
lists it in $Canvas.membership.concludedRoles (canvas-lms lib/lti/variable_expander.rb,
'Canvas.membership.concludedRoles' → lti_helper.concluded_lis_roles; lib/lti/substitutions_helper.rb:
course roles come from current_enrollments only). The tool opens her Badges page read-only, with
her badge."""

import os

import pytest
from playwright.sync_api import expect

from badging.models import LearnerProgress
from badging.services.issuance.issue import awards_issue_batch
from badging.services.sync.coordination import course_sync
from lti.models import Course, LaunchContext
from sandbox.models import SandboxUser
from sandbox.seed.instances import sandbox_seed

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def course(live_server, enqueued):
    result = sandbox_seed(
        learners=12, assessments=2, seed=11, slug="e2e-concluded", base_url=live_server.url, tool_url=live_server.url
    )
    tool_course = Course.objects.get(platform_id=result.platform_id, canvas_course_id=str(result.course.id))
    run = course_sync(course_id=tool_course.id, trigger="e2e", full=True, roster=True)
    assert run is not None and run.status == "ok", run and run.error
    # What the worker does next: issue the badges of the eligible learners (Ana's among them).
    ana = LearnerProgress.objects.get(course_badge__course=tool_course, learner__name="Ana Müller")
    assert ana.state == LearnerProgress.ELIGIBLE
    assert awards_issue_batch(progress_ids=[ana.pk])
    return result


def test_a_concluded_learner_launches_and_sees_her_badge_read_only(page, course, screenshot):
    ana = SandboxUser.objects.get(instance=course.instance, name="Ana Müller")
    assert set(ana.enrollments.values_list("workflow_state", flat=True)) == {"completed"}
    page.goto(f"{course.instance.root_url}/courses/{course.course.id}/")
    page.locator(f'[data-launch-as="{ana.id}"]').click()
    expect(page.get_by_text("Acting as Ana Müller")).to_be_visible()
    frame = page.frame_locator("iframe[name=tool_content]")
    expect(frame.get_by_role("heading", name="Badges in this course")).to_be_visible(timeout=15000)
    expect(frame.get_by_text("Your enrollment in this course has concluded: this page is read-only.")).to_be_visible()
    expect(frame.get_by_text("You have earned this badge.")).to_be_visible()
    expect(frame.get_by_role("button", name="Save my choice")).to_have_count(0)
    expect(frame.get_by_role("button", name="Add to a digital wallet")).to_have_count(0)
    launch = LaunchContext.objects.filter(person__name="Ana Müller").latest("created_at")
    assert launch.concluded and launch.role == LaunchContext.ROLE_LEARNER
    screenshot(page, "sandbox-launch-concluded-learner")
