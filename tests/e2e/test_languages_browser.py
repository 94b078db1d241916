"""Languages end to end, in a real browser against the sandbox Canvas: a Spanish and a French
learner (seeded with that Canvas language) launch Badges and see their page in it, their award
email renders in it, and a user who switches Canvas to Arabic gets a right-to-left page without a
broken layout (the learner pages have an Arabic catalogue). axe-core at 1280 px and 375 px on
each; screenshots kept under test-artifacts/.

Canvas sends the user's language as launch_presentation.locale and as the top-level locale claim
(canvas-lms lib/lti/messages/jwt_message.rb: add_launch_presentation_claims!, add_i18n_claims!);
the sandbox sends the user's language setting the same way (sandbox/platform.py)."""

import os

import pytest
from playwright.sync_api import expect

from badging.openbadges.links import PublicLinks
from badging.services import award_email
from badging.services.issuance import documents
from lti.models import Course, Person
from sandbox.models import SandboxUser
from tests import factories as f
from tests.e2e.test_every_page import axe_clean
from tests.e2e.test_sandbox_launch import _launch, course  # noqa: F401 (fixture)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _tool_page(page, course_result, name: str, heading: str):
    """Launches as `name` from the sandbox's People page, then opens the launched page on its own."""
    frame = _launch(page, course_result, name)
    expect(frame.get_by_role("heading", level=1, name=heading)).to_be_visible(timeout=15000)
    url = page.frame(name="tool_content").url
    page.goto(url)
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
    return url


def _both_widths(page, name: str, screenshot):
    for width, height in ((1280, 900), (375, 740)):
        page.set_viewport_size({"width": width, "height": height})
        page.reload()
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, f"{name} at {width}px"
        axe_clean(page, f"{name} at {width}px")
        screenshot(page, f"{name}-{width}")


def _award_email(page, course_result, name: str, screenshot, shot: str) -> str:
    """The award email of this learner as the worker would send it, rendered in the browser."""
    sandbox_user = SandboxUser.objects.get(instance=course_result.instance, name=name)
    tool_course = Course.objects.get(canvas_course_id=str(course_result.course.id))
    person = Person.objects.get(platform=tool_course.platform, canvas_user_id=str(sandbox_user.id))
    award = f.AwardFactory(
        course_badge=f.CourseBadgeFactory(course=tool_course, badge_class__name="Data Skills Practitioner"),
        learner=person,
        recipient_email=person.email or "learner@students.example.edu",
    )
    documents.award_documents_render(award=award, links=PublicLinks("http://localhost:8000"))
    message = award_email.award_email_message(award=award, links=PublicLinks("http://localhost:8000"))
    html = message.alternatives[0][0]
    page.set_viewport_size({"width": 700, "height": 900})
    page.goto("about:blank")  # not under the tool page's CSP: mail clients apply the inline styles
    page.set_content(html)
    screenshot(page, shot)
    return message.subject + "\n" + message.body + "\n" + page.locator("body").inner_text()


def test_a_spanish_learner_sees_the_page_and_email_in_spanish(page, course, screenshot):  # noqa: F811 (the imported fixture)
    _tool_page(page, course, "José Núñez-García", "Insignias en este curso")
    assert page.locator("html").get_attribute("lang") == "es"
    body = page.locator("body")
    expect(body).to_contain_text("Cómo obtenerla")
    expect(body).to_contain_text("Evaluaciones acreditativas")
    expect(body).not_to_contain_text("How to earn it")
    _both_widths(page, "language-learner-es", screenshot)

    text = _award_email(page, course, "José Núñez-García", screenshot, "language-email-es")
    assert "Has obtenido la insignia «Data Skills Practitioner»" in text
    assert "¡Enhorabuena!" in text and "Ver tu insignia" in text
    assert "You earned" not in text and "Congratulations" not in text


def test_a_french_learner_sees_the_page_and_email_in_french(page, course, screenshot):  # noqa: F811 (the imported fixture)
    _tool_page(page, course, "Amélie Dupont & Fils", "Badges de ce cours")
    assert page.locator("html").get_attribute("lang") == "fr"
    body = page.locator("body")
    expect(body).to_contain_text("Comment l’obtenir")
    expect(body).to_contain_text("Évaluations certificatives")
    expect(body).not_to_contain_text("How to earn it")
    _both_widths(page, "language-learner-fr", screenshot)

    text = _award_email(page, course, "Amélie Dupont & Fils", screenshot, "language-email-fr")
    assert "Vous avez obtenu le badge « Data Skills Practitioner »" in text
    assert "Félicitations" in text and "Voir votre badge" in text
    assert "You earned" not in text


def test_an_arabic_launch_is_right_to_left(page, course, screenshot):  # noqa: F811 (the imported fixture)
    """The teacher sets a learner's Canvas language to Arabic in the sandbox; the learner's next
    launch renders right to left: the steps' numbers and the notices' bars sit on the right."""
    zoe = SandboxUser.objects.get(instance=course.instance, name="Zoë O'Brien <b>")
    page.goto(f"{course.instance.root_url}/courses/{course.course.id}/users/{zoe.id}/")
    page.get_by_label("Language").select_option("ar")
    page.get_by_role("button", name="Save language").click()
    expect(page.get_by_text("language is now العربية")).to_be_visible()

    _tool_page(page, course, "Zoë O'Brien <b>", "الشارات في هذا المقرر")  # the learner pages are translated
    html = page.locator("html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
    _both_widths(page, "language-learner-ar-rtl", screenshot)
    page.set_viewport_size({"width": 1280, "height": 900})
    step = page.locator("li.step").first
    assert step.evaluate("el => getComputedStyle(el).paddingRight") == "40px"  # room for the number, on the right
    number = step.evaluate("el => getComputedStyle(el, '::before').right")
    assert number == "0px", number
    notice = page.locator(".notice").first
    assert notice.evaluate("el => getComputedStyle(el).borderRightWidth") == "4px"
    # The heading's text starts at the right edge of the content area (1rem padding) and ends short of the left.
    text, area = page.get_by_role("heading", level=1).evaluate(
        """h1 => { const r = document.createRange(); r.selectNodeContents(h1);
                  const t = r.getBoundingClientRect(), m = h1.getBoundingClientRect();
                  return [[t.left, t.right], [m.left, m.right]]; }"""
    )
    assert abs(text[1] - area[1]) < 2 and text[0] - area[0] > 200, (text, area)


def test_the_people_page_shows_each_persons_language(page, course, screenshot):  # noqa: F811 (the imported fixture)
    page.goto(f"{course.instance.root_url}/courses/{course.course.id}/")
    expect(page.locator("tr", has_text="José Núñez-García")).to_contain_text("Canvas language: es")
    expect(page.locator("tr", has_text="Amélie Dupont & Fils")).to_contain_text("Canvas language: fr")
    screenshot(page, "language-sandbox-people")
