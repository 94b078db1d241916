"""The pages course roles and Canvas course settings changed, in Spanish and French, in a real
browser: a teaching assistant's read-only dashboard, a concluded learner's page, and the notices of
a course whose Canvas settings stop the badge (an unpublished credentialing assessment, Final Grade
Override off), for the instructor and the learner. axe-core at 1280 px and 375 px; no page wider
than the screen; screenshots kept under test-artifacts/screenshots/.

The language is the user's Canvas language, which Canvas sends as launch_presentation.locale and
the top-level locale claim (canvas-lms lib/lti/messages/jwt_message.rb, add_launch_presentation_claims!
and add_i18n_claims!); the sandbox sends each user's language the same way (sandbox/platform.py).
Unpublished assignments: Canvas reports no grades for them (submissions_api_controller.rb
`for_students`); Final Grade Override off: Canvas reports no override (courses_controller.rb
`api_settings`, `allow_final_grade_override`)."""

import os

import pytest
from playwright.sync_api import expect

from lti.models import LaunchContext
from sandbox.models import SandboxUser
from sandbox.seed.problem_courses import NO_OVERRIDE_COURSE_SIS_ID, UNPUBLISHED_COURSE_SIS_ID
from tests.badging.test_dashboard import build_course
from tests.e2e.test_course_settings_browser import launch, seeded  # noqa: F401 (fixture)
from tests.e2e.test_every_page import axe_clean
from tests.factories import LaunchContextFactory, PersonFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _both_widths(page, name: str, screenshot):
    for width, height in ((1280, 900), (375, 740)):
        page.set_viewport_size({"width": width, "height": height})
        page.reload()
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, f"{name} at {width}px"
        axe_clean(page, f"{name} at {width}px")
        screenshot(page, f"{name}-{width}")


def test_a_teaching_assistants_read_only_dashboard_in_french(page, live_server, screenshot):
    s = build_course()
    ta = LaunchContextFactory(
        course=s["course"],
        person=PersonFactory(platform=s["course"].platform, name="Théo Assistant", canvas_user_id="3"),
        role=LaunchContext.ROLE_INSTRUCTOR,
        is_teaching_assistant=True,
        locale="fr",
    )
    page.goto(f"{live_server.url}/l/{ta.public_id}/instructor/")
    assert page.locator("html").get_attribute("lang") == "fr"
    expect(page.locator(".who")).to_contain_text("Théo Assistant · Assistant d’enseignement")
    notice = page.locator(".read-only")
    expect(notice).to_contain_text("Lecture seule")
    expect(notice).to_contain_text("les actions sur ce badge sont désactivées")
    expect(notice).to_contain_text("Ce que vous pouvez faire ici")
    expect(page.locator("body")).not_to_contain_text("Read-only")
    expect(page.get_by_role("link", name="Synchroniser maintenant")).to_have_count(0)
    _both_widths(page, "language-ta-read-only-fr", screenshot)


def test_a_concluded_learner_in_spanish(page, live_server, screenshot):
    s = build_course()
    launch_context = LaunchContextFactory(course=s["course"], person=s["people"]["ada"], concluded=True, locale="es")
    page.goto(f"{live_server.url}/l/{launch_context.public_id}/")
    assert page.locator("html").get_attribute("lang") == "es"
    body = page.locator("body")
    expect(body).to_contain_text("Tu inscripción en este curso ha finalizado: esta página es de solo lectura.")
    expect(body).to_contain_text("Todavía puedes ver tus insignias")
    expect(body).not_to_contain_text("has concluded")
    _both_widths(page, "language-concluded-learner-es", screenshot)


def test_course_settings_notices_in_spanish_and_french(page, seeded, screenshot):  # noqa: F811 (the imported fixture)
    SandboxUser.objects.filter(instance=seeded.instance, name__in=["Grace Hopper-Núñez", "Eli Haddad"]).update(
        locale="es"
    )
    SandboxUser.objects.filter(instance=seeded.instance, name="Ada Okafor").update(locale="fr")

    frame = launch(page, seeded, NO_OVERRIDE_COURSE_SIS_ID, "Grace Hopper-Núñez")
    rule = frame.locator("section[aria-labelledby=rule-title]")
    expect(rule).to_contain_text("Este curso no permite la anulación de la calificación final en Canvas", timeout=15000)
    expect(rule).to_contain_text("Calificaciones → Configuración (engranaje) → Avanzado")
    rule.scroll_into_view_if_needed()
    screenshot(page, "language-no-override-instructor-es")
    axe_clean(page.frame(name="tool_content"), "instructor, no override, es")

    frame = launch(page, seeded, NO_OVERRIDE_COURSE_SIS_ID, "Eli Haddad")
    main = frame.locator("main")
    expect(main).to_contain_text("pero tu calificación final aún no se puede introducir", timeout=15000)
    expect(main).to_contain_text("Aún no se puede introducir (la anulación de la calificación final está desactivada")
    screenshot(page, "language-no-override-learner-es")
    axe_clean(page.frame(name="tool_content"), "learner, no override, es")

    frame = launch(page, seeded, UNPUBLISHED_COURSE_SIS_ID, "Ada Okafor")
    main = frame.locator("main")
    expect(main).to_contain_text(
        "Une évaluation certificative n’est pas disponible dans Canvas pour le moment.", timeout=15000
    )
    expect(main).to_contain_text("Vous n’y êtes pour rien")
    expect(main).to_contain_text("Non publiée dans Canvas")
    expect(main).not_to_contain_text("not available in Canvas")
    screenshot(page, "language-unpublished-learner-fr")
    axe_clean(page.frame(name="tool_content"), "learner, unpublished, fr")
