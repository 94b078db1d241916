"""The learner page in a real browser, one learner per state: screenshots kept, axe-core clean,
the share choice made with the keyboard, and the page usable on a phone-sized screen."""

import datetime
import http.server
import io
import os
import threading
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from badging.models import Award, CourseSync
from tests import factories as f

# Playwright's sync API runs an event loop in this thread; the ORM calls below are plain sync code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def badge_png() -> bytes:
    image = Image.new("RGBA", (240, 240), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 8, 232, 232), fill=(3, 87, 127, 255), outline=(255, 196, 0, 255), width=10)
    draw.polygon([(120, 50), (140, 100), (195, 100), (150, 132), (168, 185), (120, 153), (72, 185), (90, 132),
                  (45, 100), (100, 100)], fill=(255, 255, 255, 255))  # fmt: skip
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def build(state: str):
    """A course with one badge (two credentialing assessments) and a learner in `state`."""
    course = f.CourseFactory(name="Data Skills 101 — Zoë's <b>section</b>")
    CourseSync.objects.create(course=course, last_synced_at=timezone.now() - datetime.timedelta(minutes=2))
    course_badge = f.CourseBadgeFactory(
        course=course,
        badge_class__name="Data Analysis Fundamentals",
        badge_class__image=badge_png(),
        badge_class__description="Cleans, analyses and presents a real data set to a professional standard.",
        badge_class__alignments=[
            {"targetName": "Data cleaning", "targetUrl": "https://skills.example.org/clean"},
            {"targetName": "Data visualisation", "targetUrl": "https://skills.example.org/viz"},
        ],
    )
    a1 = f.AssignmentFactory(course=course, name="Clean a messy data set", position=1)
    a2 = f.AssignmentFactory(course=course, name="Present your findings", position=2)
    learner = f.PersonFactory(platform=course.platform, name="Zoë O'Brien <b>", email="zoe.obrien@uni.example.edu")
    enrollment = f.EnrollmentFactory(course=course, learner=learner, state="active")
    launch = f.LaunchContextFactory(course=course, person=learner)
    now = timezone.now()

    def graded(assignment, score, posted=True, ratings=("r1", "r3")):
        f.AssessmentResultFactory(
            assignment=assignment,
            learner=learner,
            score=Decimal(score),
            submitted_at=now,
            graded_at=now,
            posted_at=now if posted else None,
            rubric_assessment={
                "_1": {"points": 6 if ratings[0] == "r1" else 0, "rating_id": ratings[0]},
                "_2": {"points": 6 if ratings[1] == "r3" else 0, "rating_id": ratings[1], "comments": "Clear charts."},
            },
        )

    if state in ("in_progress", "awaiting_final_grade", "eligible", "issued", "revoked", "not_earned", "inactive"):
        graded(a1, "12")
    if state == "in_progress":
        f.AssessmentResultFactory(
            assignment=a2, learner=learner, workflow_state="submitted", score=None, graded_at=None, posted_at=None,
            submitted_at=now,
        )  # fmt: skip
    if state in ("awaiting_final_grade", "eligible", "issued", "revoked", "inactive"):
        graded(a2, "10", ratings=("r1", "r3"))
    if state in ("eligible", "inactive"):
        enrollment.override_score = Decimal("88")
        enrollment.state = "inactive" if state == "inactive" else "active"
        enrollment.save()
    if state == "not_earned":
        graded(a2, "6", ratings=("r1", "r4"))
        enrollment.override_score = Decimal("68")
        enrollment.save()
    if state in ("issued", "revoked"):
        enrollment.override_score = Decimal("91")
        enrollment.save()
        f.AwardFactory(
            course_badge=course_badge,
            learner=learner,
            recipient_email=learner.email,
            revoked=state == "revoked",
            revoked_at=now if state == "revoked" else None,
            revocation_reason="Issued in error: the final grade was corrected." if state == "revoked" else "",
        )
    if state == "assessment_missing":  # a picked assessment was deleted in Canvas
        graded(a1, "12")
        course_badge.assessment_ids = [a1.canvas_assignment_id, a2.canvas_assignment_id, "999"]
        course_badge.save()
    if state == "student_view":
        launch.is_test_user = True
        launch.save()
        enrollment.is_test_user = True
        enrollment.enrollment_type = "StudentViewEnrollment"
        enrollment.save()
    return launch


def check_a11y(page, name):
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: " + "; ".join(f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in bad)


def open_page(page, live_server, launch):
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(f"{live_server.url}/l/{launch.public_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Badges in this course")
    # The badge image loads (the public badge-class image URL).
    assert page.locator("img.badge__image").evaluate("img => img.complete && img.naturalWidth") == 240
    assert errors == []  # nothing refused by the CSP, no failed requests


EXPECTED = {
    "not_started": "Not started yet.",
    "in_progress": "In progress: 1 of 2 credentialing assessments mastered.",
    "awaiting_final_grade": "All 2 credentialing assessments mastered: waiting for your final grade.",
    "eligible": "You have earned this badge. It is being issued.",
    "not_earned": "Not earned in this course.",
    "inactive": "Canvas does not list you as an active student in this course.",
    "revoked": "This badge was revoked",
    "student_view": "You are using Canvas Student View.",
    "assessment_missing": "Not found in Canvas",
}


@pytest.mark.parametrize("state", list(EXPECTED))
def test_each_learner_state(page, live_server, screenshot, state):
    launch = build(state)
    page.set_viewport_size({"width": 1100, "height": 900})
    open_page(page, live_server, launch)
    expect(page.get_by_text(EXPECTED[state]).first).to_be_visible()
    expect(page.get_by_text("Zoë's <b>section</b>").first).to_be_visible()  # Canvas text shown as text
    screenshot(page, f"learner-{state.replace('_', '-')}")
    check_a11y(page, state)


def test_issued_badge_and_share_choice_by_keyboard(page, live_server, screenshot):
    launch = build("issued")
    award = Award.objects.get()
    page.set_viewport_size({"width": 1100, "height": 900})
    open_page(page, live_server, launch)
    expect(page.get_by_text("You have earned this badge.")).to_be_visible()
    expect(page.get_by_role("link", name="Add to LinkedIn profile")).to_be_visible()
    screenshot(page, "learner-issued")
    check_a11y(page, "issued")

    show = page.get_by_label("Show my name, Zoë O'Brien <b>")
    expect(page.get_by_label("Hide my name", exact=False)).to_be_checked()
    show.focus()
    page.keyboard.press("Space")
    expect(show).to_be_checked()
    page.keyboard.press("Tab")  # to "Save my choice"
    expect(page.get_by_role("button", name="Save my choice")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Your name is now shown on the public badge page.")).to_be_visible()
    award.refresh_from_db()
    assert award.learner_name_public is True
    expect(page.get_by_label("Show my name", exact=False)).to_be_checked()


def test_phone_sized_screen(page, live_server, screenshot):
    launch = build("in_progress")
    page.set_viewport_size({"width": 375, "height": 740})
    open_page(page, live_server, launch)
    # Nothing wider than the screen: no sideways scrolling of the page itself.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "learner-in-progress-phone")
    check_a11y(page, "phone")


def test_no_badge_and_admin_setup_pages(page, live_server, screenshot):
    course = f.CourseFactory(name="History 200")
    learner = f.LaunchContextFactory(course=course)
    page.set_viewport_size({"width": 1100, "height": 700})
    page.goto(f"{live_server.url}/l/{learner.public_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("No badge is offered in this course yet")
    screenshot(page, "learner-no-badge")
    check_a11y(page, "no badge")

    admin = f.LaunchContextFactory(course=course, role="admin")
    page.goto(f"{live_server.url}/l/{admin.public_id}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Badge set-up for this course")
    screenshot(page, "admin-course-setup")
    check_a11y(page, "admin setup")


@pytest.fixture
def canvas_page():
    """A stand-in Canvas page on another site (127.0.0.1 vs the tool on localhost) framing the tool."""
    body = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body["html"])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def serve(tool_url: str) -> str:
        body["html"] = (
            "<!doctype html><html lang=en><head><title>Data Skills 101: Badges</title></head><body>"
            f'<h1>Canvas course</h1><iframe title="Badges" src="{tool_url}" width="1040" height="1500"></iframe>'
            "</body></html>"
        ).encode()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    server.shutdown()
    server.server_close()


def test_inside_the_canvas_iframe_without_cookies(page, live_server, screenshot, canvas_page):
    """Canvas shows the tool in an iframe on another site, where browsers drop or block our cookies:
    the page renders there and the share choice works without any cookie."""
    launch = build("issued")
    canvas = canvas_page(f"{live_server.url.replace('127.0.0.1', 'localhost')}/l/{launch.public_id}/")
    launch.platform.api_base_url = canvas  # a registered Canvas host may frame the tool (CSP frame-ancestors)
    launch.platform.save()
    page.set_viewport_size({"width": 1100, "height": 1000})
    page.goto(f"{canvas}/courses/101/external_tools/7")
    frame = page.frame_locator("iframe[title=Badges]")
    expect(frame.get_by_role("heading", level=1)).to_have_text("Badges in this course")
    screenshot(page, "learner-in-canvas-iframe")
    frame.get_by_label("Show my name", exact=False).check()
    frame.get_by_role("button", name="Save my choice").click()
    expect(frame.get_by_text("Your name is now shown on the public badge page.")).to_be_visible()
    assert Award.objects.get().learner_name_public is True
    assert page.context.cookies() == []  # nothing relied on a cookie


def test_add_to_a_wallet_shows_a_qr_code_and_a_deep_link(page, live_server, screenshot):
    launch = build("issued")
    page.set_viewport_size({"width": 1100, "height": 900})
    open_page(page, live_server, launch)
    page.get_by_role("button", name="Add to a digital wallet").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("to your digital wallet")
    expect(page.locator(".wallet-qr svg")).to_be_visible()
    link = page.get_by_role("link", name="Open in my wallet app")
    assert link.get_attribute("href").startswith("openid-credential-offer://?credential_offer=")
    expect(page.get_by_role("link", name="download the credential (.json)")).to_be_visible()
    screenshot(page, "learner-add-to-wallet")
    check_a11y(page, "add to wallet")
