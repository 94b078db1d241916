"""The instructor dashboard in a real browser: a teacher, a TA and a learner trying the instructor
URLs; every page and action by keyboard and mouse, screenshots kept, axe-core with no serious or
critical violations, and the dashboard inside a (fake) Canvas page's iframe."""

import http.server
import os
import re
import threading
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from badging.models import AuditEvent, Award, CourseBadge, Delivery, LearnerProgress
from lti.models import LaunchContext
from tests.badging.test_dashboard import build_course
from tests.factories import LaunchContextFactory, PersonFactory

# Playwright's sync API runs an event loop in this thread; the ORM calls below are plain sync code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("enqueued")]


def check_a11y(page, name):
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: " + "; ".join(f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in bad)


def open_dashboard(page, live_server, launch):
    page.goto(f"{live_server.url}/l/{launch.public_id}/instructor/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Badges in")


def test_teacher_dashboard_and_every_action(page, live_server, screenshot, enqueued):
    s = build_course()
    launch = s["launch"]
    page.set_viewport_size({"width": 1280, "height": 900})
    open_dashboard(page, live_server, launch)
    expect(page.get_by_text("Eve <b>Evil</b>")).to_be_visible()  # Canvas text shown as text
    expect(page.locator("table.learners tbody tr")).to_have_count(6)
    screenshot(page, "instructor-dashboard")
    check_a11y(page, "dashboard")

    # Filter by a state tile, then search with the form (keyboard only), then sort by a header.
    page.get_by_role("link", name=re.compile(r"^1 Failed, will retry")).click()
    expect(page.locator("table.learners tbody tr")).to_have_count(1)
    expect(page.locator("table.learners")).to_contain_text("Canvas has no primary email")
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Search by name, email or Canvas user id").fill("ada.primary")
    page.keyboard.press("Enter")
    expect(page.locator("table.learners tbody tr")).to_have_count(1)
    expect(page.locator("table.learners")).to_contain_text("Ada Lovelace")
    page.get_by_role("link", name="Clear").click()
    page.get_by_role("link", name="State", exact=True).click()
    expect(page.locator("table.learners tbody tr").first).to_contain_text("Dee Data")
    expect(page.locator("th[aria-sort='ascending']")).to_have_text("State")

    # "Why not issued?" for a learner in progress.
    page.get_by_role("link", name="Bob Byte", exact=True).click()
    expect(page.get_by_role("heading", level=2).first).to_contain_text("Why it is not issued")
    expect(page.locator("main")).to_contain_text("6 of 12 points; 9.6 needed for mastery")
    screenshot(page, "instructor-why-not-issued")
    check_a11y(page, "why not issued")

    # Sync now: confirm page, then the notice.
    open_dashboard(page, live_server, launch)
    page.get_by_role("link", name="Sync now").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sync with Canvas now?")
    screenshot(page, "instructor-confirm-sync")
    check_a11y(page, "confirm sync")
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_role("status")).to_contain_text("Sync requested.")
    assert "badging.course_sync" in enqueued.names

    # Retry failed issuing.
    page.get_by_role("link", name="Retry failed (1)").click()
    page.get_by_role("button", name="Retry now").click()
    expect(page.get_by_role("status")).to_contain_text("queued again")
    assert LearnerProgress.objects.get(learner=s["people"]["fay"]).issue_status == LearnerProgress.ISSUE_QUEUED

    # Re-send the email, then revoke (a reason is required).
    page.get_by_role("link", name="Ada Lovelace", exact=True).click()
    screenshot(page, "instructor-learner-issued")
    page.get_by_role("link", name="Send the email again").click()
    page.get_by_role("button", name="Send again").click()
    expect(page.get_by_role("status")).to_contain_text("being sent again")
    assert Delivery.objects.get().status == Delivery.PENDING
    page.get_by_role("link", name="Revoke…").click()
    page.get_by_role("button", name="Revoke badge").click()
    expect(page.locator(".field__error")).to_contain_text("Give a reason")
    screenshot(page, "instructor-confirm-revoke-error")
    check_a11y(page, "revoke with error")
    page.get_by_label(re.compile("^Reason")).fill("Awarded by mistake")
    page.get_by_role("button", name="Revoke badge").click()
    expect(page.get_by_role("status")).to_contain_text("The badge was revoked.")
    expect(page.locator("main")).to_contain_text("Awarded by mistake")
    assert Award.objects.get().revoked

    # Export: confirm page, then a CSV download.
    open_dashboard(page, live_server, launch)
    page.get_by_role("link", name="Export CSV").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    content = Path(download.value.path()).read_text(encoding="utf-8")
    assert content.startswith("Name,Sortable name,Canvas user id")
    assert "Revoked: Awarded by mistake" in content
    open_dashboard(page, live_server, launch)
    expect(page.locator("ul.audit")).to_contain_text("exported the learner table")
    assert {e.action for e in AuditEvent.objects.all()} >= {
        "instructor.sync_requested",
        "instructor.issuance_retried",
        "instructor.notification_resent",
        "award_revoked",
        "instructor.learners_exported",
    }


def test_dashboard_on_a_phone(page, live_server, screenshot):
    s = build_course()
    page.set_viewport_size({"width": 390, "height": 844})
    open_dashboard(page, live_server, s["launch"])
    # The table scrolls inside its own region; the page itself does not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "instructor-dashboard-phone")
    check_a11y(page, "dashboard phone")


def test_teaching_assistant(page, live_server, screenshot):
    s = build_course()
    ta = LaunchContextFactory(
        course=s["course"],
        person=PersonFactory(platform=s["course"].platform, name="Tia Assistant"),
        role=LaunchContext.ROLE_INSTRUCTOR,
        is_teaching_assistant=True,
    )
    open_dashboard(page, live_server, ta)
    expect(page.locator(".who")).to_contain_text("Tia Assistant · Teaching assistant")
    # Read-only by default: the page says so and offers no action.
    expect(page.locator(".read-only")).to_contain_text("actions on this badge are turned off")
    expect(page.get_by_role("link", name="Sync now")).to_have_count(0)
    expect(page.get_by_role("link", name="Retry failed (1)")).to_have_count(0)
    screenshot(page, "instructor-dashboard-ta-read-only")
    check_a11y(page, "dashboard ta read-only")
    # The course badge lets teaching assistants act.
    CourseBadge.objects.filter(pk=s["badge"].pk).update(teaching_assistants_may_act=True)
    open_dashboard(page, live_server, ta)
    expect(page.locator(".read-only")).to_contain_text("this badge lets teaching assistants act")
    page.get_by_role("link", name="Sync now").click()
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_role("status")).to_contain_text("Sync requested.")
    assert AuditEvent.objects.get().actor.endswith("teaching assistant)")
    screenshot(page, "instructor-dashboard-ta")


def test_learner_is_refused(page, live_server, screenshot):
    s = build_course()
    learner = LaunchContextFactory(course=s["course"], person=s["people"]["bob"])
    response = page.goto(f"{live_server.url}/l/{learner.public_id}/instructor/")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not available to you")
    expect(page.locator("body")).not_to_contain_text("Fay Fail")
    screenshot(page, "instructor-refused-learner")
    check_a11y(page, "refused")
    award = Award.objects.get()
    response = page.goto(f"{live_server.url}/l/{learner.public_id}/instructor/awards/{award.public_id}/revoke/")
    assert response.status == 403


@pytest.fixture
def canvas_page():
    """A page on another local origin that frames a URL, as Canvas frames the tool.

    Served by a real socket (not request interception): Chromium's local-network checks treat an
    intercepted page as public and would refuse to frame a local tool.
    """
    holder = {"body": b""}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(holder["body"])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(tool_url: str) -> str:
        holder["body"] = (
            "<!doctype html><html lang=en><head><title>Canvas</title></head><body><h1>Data Skills 101</h1>"
            f'<iframe title="Badges" src="{tool_url}" width="1100" height="800"></iframe></body></html>'
        ).encode()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    server.shutdown()
    server.server_close()


def test_inside_the_canvas_iframe(page, live_server, screenshot, canvas_page):
    s = build_course()
    canvas = canvas_page(f"{live_server.url}/l/{s['launch'].public_id}/instructor/")
    platform = s["course"].platform
    platform.api_base_url = canvas  # a registered Canvas host may frame the tool (CSP frame-ancestors)
    platform.save()
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(f"{canvas}/courses/1/external_tools/5")
    frame = page.frame_locator("iframe[title='Badges']")
    expect(frame.get_by_role("heading", level=1)).to_contain_text("Badges in Data Skills 101")
    frame.get_by_role("link", name="Bob Byte", exact=True).click()
    expect(frame.get_by_role("heading", level=2).first).to_contain_text("Why it is not issued")
    screenshot(page, "instructor-in-canvas-iframe")
    # Actions work in the frame, where a cross-site browser need not send the tool any cookie
    # (here: SameSite=Lax over HTTP, so none is sent): the form token is bound to the launch.
    frame.get_by_role("link", name="Back to all learners").click()
    frame.get_by_role("link", name="Sync now").click()
    frame.get_by_role("button", name="Sync now").click()
    expect(frame.get_by_role("status")).to_contain_text("Sync requested.")
    assert AuditEvent.objects.get().action == "instructor.sync_requested"


def test_an_unregistered_site_cannot_frame_the_dashboard(page, live_server, canvas_page):
    s = build_course()
    canvas = canvas_page(f"{live_server.url}/l/{s['launch'].public_id}/instructor/")
    page.goto(f"{canvas}/evil")
    page.wait_for_load_state("load")
    frame = page.frame_locator("iframe[title='Badges']")
    expect(frame.get_by_role("heading", level=1)).to_have_count(0)
