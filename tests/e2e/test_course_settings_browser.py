"""In a real browser, through the sandbox Canvas's launch: the demo's two courses whose Canvas
settings stop the badge. The instructor's rule panel names the problem and the fix; the learner page
says what it means for the learner. Screenshots kept under test-artifacts/screenshots/.

- An unpublished credentialing assessment: Canvas reports no grades for unpublished assignments and
  refuses the whole submissions request when one is asked for (submissions_api_controller.rb
  `for_students`).
- Final Grade Override off: Canvas reports no override (app/models/enrollment.rb; the course setting
  `allow_final_grade_override`, courses_controller.rb `api_settings`).
"""

import os
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from badging.services.sync.coordination import course_sync
from lti.models import Course
from sandbox.models import SandboxCourse, SandboxUser
from sandbox.seed.instances import sandbox_seed
from sandbox.seed.problem_courses import NO_OVERRIDE_COURSE_SIS_ID, UNPUBLISHED_COURSE_SIS_ID

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def seeded(live_server, enqueued):
    result = sandbox_seed(
        learners=4,
        assessments=1,
        seed=3,
        slug="settings",
        base_url=live_server.url,
        tool_url=live_server.url,
        problem_courses_too=True,
    )
    for course in Course.objects.filter(platform_id=result.platform_id):
        run = course_sync(course_id=course.pk, trigger="e2e", full=True, roster=True)
        assert run is not None and run.status == "ok", run and run.error
    return result


def check_a11y(page, name):
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: " + "; ".join(f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in bad)


def launch(page, result, sis_id: str, name: str):
    course = SandboxCourse.objects.get(instance=result.instance, sis_course_id=sis_id)
    user = SandboxUser.objects.get(instance=result.instance, name=name)
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(f"{result.instance.root_url}/courses/{course.id}/")
    page.locator(f'[data-launch-as="{user.id}"]').click()
    expect(page.get_by_text(f"Acting as {name}")).to_be_visible()
    return page.frame_locator("iframe[name=tool_content]")


def test_unpublished_assessment_instructor_and_learner(page, seeded, screenshot):
    frame = launch(page, seeded, UNPUBLISHED_COURSE_SIS_ID, "Grace Hopper-Núñez")
    rule = frame.locator("section[aria-labelledby=rule-title]")
    expect(rule).to_contain_text("problem with Canvas", timeout=15000)
    expect(rule).to_contain_text(
        "Credentialing assessment “Assessment 2: Chart the trend” is unpublished in Canvas, "
        "so Canvas reports no grades for it and nobody can earn the badge."
    )
    expect(rule).to_contain_text("Publish it in Canvas, or remove it from the badge's assessments")
    expect(rule.locator("td", has_text="Unpublished")).to_have_count(1)
    expect(frame.get_by_text("The last sync failed")).to_have_count(0)
    rule.scroll_into_view_if_needed()
    screenshot(page, "course-settings-unpublished-instructor")
    check_a11y(page.frame(name="tool_content"), "instructor, unpublished assessment")

    frame = launch(page, seeded, UNPUBLISHED_COURSE_SIS_ID, "Ada Okafor")
    main = frame.locator("main")
    expect(main).to_contain_text("One credentialing assessment is not available in Canvas right now", timeout=15000)
    expect(main).to_contain_text("This is not something you did")
    expect(main).to_contain_text("Unpublished in Canvas")
    expect(main).to_contain_text("once it is published again, your grade counts")
    expect(main).not_to_contain_text("You have earned this badge")
    screenshot(page, "course-settings-unpublished-learner")
    check_a11y(page.frame(name="tool_content"), "learner, unpublished assessment")


def test_final_grade_override_off_instructor_and_learner(page, seeded, screenshot):
    frame = launch(page, seeded, NO_OVERRIDE_COURSE_SIS_ID, "Grace Hopper-Núñez")
    rule = frame.locator("section[aria-labelledby=rule-title]")
    expect(rule).to_contain_text(
        "This course does not allow Final Grade Override in Canvas, so no final grade can be entered", timeout=15000
    )
    expect(rule).to_contain_text("Grades → Settings (gear) → Advanced → “Allow final grade override”")
    screenshot(page, "course-settings-no-override-instructor")
    check_a11y(page.frame(name="tool_content"), "instructor, no override")

    # The sandbox's own settings page shows the setting as Canvas's Gradebook settings would.
    course = SandboxCourse.objects.get(instance=seeded.instance, sis_course_id=NO_OVERRIDE_COURSE_SIS_ID)
    page.goto(f"{seeded.instance.root_url}/courses/{course.id}/settings/")
    expect(page.locator("main")).to_contain_text("Allow final grade override: off")
    expect(page.get_by_role("button", name="Turn it on")).to_be_visible()
    screenshot(page, "course-settings-no-override-sandbox-settings")
    check_a11y(page, "sandbox settings")

    # Eli mastered both assessments; his override was entered before the setting was turned off.
    frame = launch(page, seeded, NO_OVERRIDE_COURSE_SIS_ID, "Eli Haddad")
    main = frame.locator("main")
    expect(main).to_contain_text("but your final grade cannot be entered yet", timeout=15000)
    expect(main).to_contain_text("this course does not allow Final Grade Override in Canvas at the moment")
    expect(main).to_contain_text("Cannot be entered yet (Final Grade Override is off in this course)")
    expect(main).not_to_contain_text(re.compile("waiting for your final grade", re.I))
    screenshot(page, "course-settings-no-override-learner")
    check_a11y(page.frame(name="tool_content"), "learner, no override")
