"""End to end in a real browser: the sandbox Canvas's course, "Launch Badges as …", the real OIDC
login → form_post launch into the tool inside Canvas's iframe, for a learner, the teacher and the
Student View user, plus "Open in a new tab". Screenshots are kept under test-artifacts/."""

import os
import re

import pytest
from playwright.sync_api import expect

from lti.models import Course
from sandbox.models import SandboxUser
from sandbox.seed.instances import sandbox_seed

# Playwright's sync API runs an event loop in this thread; the ORM calls below are plain sync code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def course(live_server, enqueued):
    """The seeded sandbox course, registered in the tool and synced once through the real REST API.
    No worker here: what the tool would enqueue is recorded instead."""
    from badging.services.sync.coordination import course_sync

    result = sandbox_seed(
        learners=12, assessments=2, seed=11, slug="e2e", base_url=live_server.url, tool_url=live_server.url
    )
    tool_course = Course.objects.get(platform_id=result.platform_id, canvas_course_id=str(result.course.id))
    run = course_sync(course_id=tool_course.id, trigger="e2e", full=True, roster=True)
    assert run is not None and run.status == "ok", run and run.error
    return result


def _launch(page, result, name: str):
    user = SandboxUser.objects.get(instance=result.instance, name=name)
    page.goto(f"{result.instance.root_url}/courses/{result.course.id}/")
    page.locator(f'[data-launch-as="{user.id}"]').click()
    expect(page.get_by_text(f"Acting as {name}")).to_be_visible()
    return page.frame_locator("iframe[name=tool_content]")


def test_people_page_lists_everyone_with_launch_buttons(page, course, screenshot):
    page.goto(f"{course.instance.root_url}/courses/{course.course.id}/")
    expect(page.get_by_role("heading", name="Data Skills for Everyone — Autumn <2026>")).to_be_visible()
    expect(page.get_by_role("link", name="Zoë O'Brien <b>", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Launch Badges as Grace")).to_be_visible()
    screenshot(page, "sandbox-people")


def test_launch_as_learner_lands_on_the_learner_page_in_the_iframe(page, course, screenshot):
    frame = _launch(page, course, "Zoë O'Brien <b>")
    expect(frame.get_by_role("heading", name="Badges in this course")).to_be_visible(timeout=15000)
    expect(frame.get_by_text("Data Skills Practitioner").first).to_be_visible()
    tool_frame = page.frame(name="tool_content")
    assert re.search(r"/l/[\w-]+/$", tool_frame.url), tool_frame.url
    screenshot(page, "sandbox-launch-learner")


def test_launch_as_teacher_lands_on_the_instructor_dashboard(page, course, screenshot):
    frame = _launch(page, course, "Grace Hopper-Núñez")
    expect(frame.get_by_role("heading", name=re.compile("Badges in Data Skills for Everyone"))).to_be_visible(
        timeout=15000
    )
    assert page.frame(name="tool_content").url.endswith("/instructor/")
    screenshot(page, "sandbox-launch-teacher")


def test_student_view_launch_is_never_offered_a_badge(page, course, screenshot):
    frame = _launch(page, course, "Test Student")
    expect(frame.locator("body")).to_contain_text("Student View", timeout=15000)
    expect(frame.get_by_text("You have earned this badge")).to_have_count(0)
    screenshot(page, "sandbox-launch-student-view")


def test_open_in_a_new_tab(page, course, screenshot):
    _launch(page, course, "Priya Raman")
    with page.context.expect_page() as popup_info:
        page.get_by_role("link", name="Open in a new tab").click()
    popup = popup_info.value
    expect(popup.get_by_role("heading", name="Badges in this course")).to_be_visible(timeout=15000)
    assert re.search(r"/l/[\w-]+/$", popup.url), popup.url
    screenshot(popup, "sandbox-launch-new-tab")


def test_launch_after_the_platform_rotates_its_signing_key(page, course):
    from sandbox.services.keys import platform_key_rotate

    frame = _launch(page, course, "Zoë O'Brien <b>")
    expect(frame.get_by_role("heading", name="Badges in this course")).to_be_visible(timeout=15000)
    platform_key_rotate(instance=course.instance)  # the tool has the old JWKS cached: it must refetch
    frame = _launch(page, course, "Zoë O'Brien <b>")
    expect(frame.get_by_role("heading", name="Badges in this course")).to_be_visible(timeout=15000)


def test_cross_site_over_http_falls_back_to_a_new_window(page, live_server, enqueued, screenshot):
    """Canvas on another site over plain http: the browser drops the tool's login cookie inside the
    iframe, exactly as with a real Canvas, and the tool offers to continue in a new window."""
    port = live_server.url.rsplit(":", 1)[1]
    # One server, two host names: the sandbox on 127.0.0.1 frames the tool on localhost (another site).
    result = sandbox_seed(
        learners=3,
        assessments=1,
        seed=5,
        slug="xsite",
        base_url=f"http://127.0.0.1:{port}",
        tool_url=f"http://localhost:{port}",
    )
    frame = _launch(page, result, "Zoë O'Brien <b>")
    expect(frame.locator("body")).to_contain_text("cookies_blocked", timeout=15000)
    screenshot(page, "sandbox-launch-cross-site-blocked")
    with page.context.expect_page() as popup_info:
        frame.get_by_role("link", name=re.compile("new window")).click()
    popup = popup_info.value
    expect(popup.get_by_role("heading", name="Badges in this course")).to_be_visible(timeout=15000)
    screenshot(popup, "sandbox-launch-cross-site-new-window")


def test_sandbox_pages_pass_axe(page, course):
    """The sandbox's own pages (People, a learner's grading page, Settings, the tool frame page)
    have no serious or critical accessibility violations."""
    from axe_playwright_python.sync_playwright import Axe

    zoe = SandboxUser.objects.get(instance=course.instance, name="Zoë O'Brien <b>")
    base = f"{course.instance.root_url}/courses/{course.course.id}"
    for url in (
        f"{base}/",
        f"{base}/users/{zoe.id}/",
        f"{base}/settings/",
        f"{base}/external_tools/badges/?as={zoe.id}",
    ):
        page.goto(url)
        violations = Axe().run(page).response["violations"]
        bad = [
            f"{v['id']}: {[n['html'][:120] for n in v['nodes']]}"
            for v in violations
            if v["impact"] in ("serious", "critical")
        ]
        assert not bad, f"{url}: {bad}"


def test_launch_as_teaching_assistant_shows_a_read_only_dashboard(page, course, screenshot):
    """Canvas sends a TA membership/Instructor#TeachingAssistant with membership#Instructor
    (canvas-lms lib/lti/substitutions_helper.rb LIS_V2_LTI_ADVANTAGE_ROLE_MAP, TaEnrollment): the
    dashboard is read-only for them unless the course badge lets teaching assistants act."""
    frame = _launch(page, course, "Alan Turing")
    expect(frame.get_by_role("heading", name=re.compile("Badges in Data Skills for Everyone"))).to_be_visible(
        timeout=15000
    )
    expect(frame.get_by_text("Read-only", exact=True)).to_be_visible()
    expect(frame.get_by_role("link", name="Sync now")).to_have_count(0)
    screenshot(page, "sandbox-launch-teaching-assistant")
