"""Every page of the product, in a real browser, against the rules that hold for all of them:
WCAG 2.1 AA by axe-core (no serious or critical violation), no inline script, a Content Security
Policy that lets only 'self' and the registered Canvas hosts frame it, nothing refused by that
policy, no sideways scrolling on a phone, a skip link the keyboard reaches first, and text from
Canvas shown as text. Learner, instructor, admin-launch, public, error and Django admin pages."""

import os
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import expect

from badging.models import AuditEvent
from lti.models import LaunchContext
from lti.selectors import platform_origins
from tests import factories as f
from tests.badging.test_dashboard import build_course
from tests.badging.test_public import issued_award

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CANVAS = "https://canvas.uni.example.edu"


def _watch(page) -> tuple[list[str], object]:
    """Script errors and CSP refusals while a page loads (a refusal page's own 4xx is expected)."""
    problems: list[str] = []

    def on_console(msg):
        if msg.type == "error" and not re.search(r"status of 4\d\d", msg.text):
            problems.append(msg.text)

    page.on("console", on_console)
    return problems, on_console


def check_page(page, url, *, status=200, name, phone=True, skip_link=True, screenshot=None, framed_by=None):
    """Opens `url` and checks the rules every page keeps; returns the response."""
    problems, listener = _watch(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    response = page.goto(url)
    assert response.status == status, f"{name}: status {response.status}"

    csp = response.headers.get("content-security-policy", "")
    ancestors = re.search(r"frame-ancestors ([^;]*)", csp)
    assert ancestors, f"{name}: no CSP frame-ancestors"
    if framed_by is None:
        allowed = {"'self'", *platform_origins()}
        assert CANVAS in allowed  # the registered Canvas may frame it, and no one else
        assert set(ancestors.group(1).split()) <= allowed, f"{name}: {ancestors.group(1)}"
    else:
        assert set(ancestors.group(1).split()) == framed_by, f"{name}: {ancestors.group(1)}"
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp, f"{name}: {csp}"
    inline = page.locator("script:not([src])").count()
    assert inline == 0, f"{name}: {inline} inline script(s)"
    assert page.locator("[onclick], [onload], [onsubmit], [onchange]").count() == 0, f"{name}: inline handler"

    assert page.locator("html").get_attribute("lang"), f"{name}: no lang"
    assert page.title().strip(), f"{name}: no title"
    if skip_link:
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement && document.activeElement.textContent.trim()")
        assert focused == "Skip to content", f"{name}: first Tab reaches {focused!r}"
    page.remove_listener("console", listener)
    assert problems == [], f"{name}: {problems}"

    axe_clean(page, name)
    if screenshot:
        screenshot(page, f"every-page-{name}")
    # Every page again on a 375px phone: axe-core again (a table that scrolls sideways only there
    # must be reachable by keyboard), and, for our own pages, no sideways scrolling of the page.
    page.set_viewport_size({"width": 375, "height": 740})
    problems, listener = _watch(page)
    page.reload()
    if phone:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 376, f"{name}: {width}px wide on a 375px phone"
    page.remove_listener("console", listener)
    assert problems == [], f"{name} on a phone: {problems}"
    axe_clean(page, f"{name} at 375px")
    if screenshot and phone:
        screenshot(page, f"every-page-{name}-phone")
    return response


def axe_clean(page, name):
    """axe-core's WCAG 2.0/2.1 A and AA rules (and its best practices): no serious or critical
    violation. axe-core is injected as a script of its own: its console output is not the page's."""
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: " + "; ".join(
        f"{v['id']}: {v['help']} {[n['html'][:120] for n in v['nodes']]}" for v in bad
    )


@pytest.fixture
def canvas_course():
    s = build_course(name="Data Skills 101 <script>alert(1)</script>")
    platform = s["course"].platform
    platform.api_base_url = CANVAS
    platform.save()
    # Only the registered Canvas may frame pages: no other platform exists.
    return s


def test_learner_instructor_and_admin_launch_pages(page, live_server, screenshot, canvas_course):
    s = canvas_course
    base = live_server.url
    launch = s["launch"]
    prefix = f"{base}/l/{launch.public_id}/instructor"
    badge = s["badge"]
    ada = s["people"]["ada"]
    award = ada.awards.get()

    check_page(page, f"{prefix}/", name="dashboard", screenshot=screenshot)
    expect(page.locator("h1")).to_contain_text("<script>alert(1)</script>")  # Canvas text shown as text
    check_page(page, f"{prefix}/?state=failed&q=fay", name="dashboard-filtered")
    check_page(page, f"{prefix}/badges/{badge.pk}/learners/{ada.pk}/", name="why-not-issued")
    check_page(page, f"{prefix}/sync/", name="confirm-sync")
    check_page(page, f"{prefix}/badges/{badge.pk}/retry/", name="confirm-retry")
    check_page(page, f"{prefix}/badges/{badge.pk}/export/", name="confirm-export")
    check_page(page, f"{prefix}/awards/{award.public_id}/resend/", name="confirm-resend")
    check_page(page, f"{prefix}/awards/{award.public_id}/revoke/", name="confirm-revoke")

    # The learner page of a learner with an award, and a learner refused the instructor URLs.
    learner = f.LaunchContextFactory(course=s["course"], person=ada)
    check_page(page, f"{base}/l/{learner.public_id}/", name="learner-page", screenshot=screenshot)
    check_page(page, f"{base}/l/{learner.public_id}/instructor/", status=403, name="learner-refused")

    # An admin launching from Canvas: the course's configuration state.
    admin = f.LaunchContextFactory(course=s["course"], role=LaunchContext.ROLE_ADMIN)
    check_page(page, f"{base}/l/{admin.public_id}/", name="admin-launch", screenshot=screenshot)

    # A course without a badge: the learner's, the instructor's and the admin's pages.
    bare = f.CourseFactory(platform=s["course"].platform, name="History 200")
    for role in (LaunchContext.ROLE_LEARNER, LaunchContext.ROLE_INSTRUCTOR, LaunchContext.ROLE_ADMIN):
        other = f.LaunchContextFactory(course=bare, role=role)
        check_page(page, f"{base}/l/{other.public_id}/", name=f"no-badge-{role}", screenshot=screenshot)


def test_learner_page_with_a_wide_rubric_on_a_phone(page, live_server, screenshot, canvas_course):
    """The rubric of each credentialing assessment scrolls sideways on a 375px phone (ratings that
    do not wrap): each scrolling table is a labelled region in the Tab order, so a keyboard
    user can reach and scroll it (axe-core `scrollable-region-focusable`)."""
    s = canvas_course
    levels = [
        ("Exceeds the standard throughout", 4.0),
        ("Meets the standard", 3.0),
        ("Approaching the standard", 2.0),
        ("Does not meet the standard yet", 0.0),
    ]
    for n, assignment in enumerate(s["course"].assignments.filter(canvas_assignment_id__in=["501", "502"])):
        assignment.rubric = [
            {
                "id": f"_{n}{c}",
                "description": f"Criterion {c}",
                "points": 4.0,
                "ratings": [{"id": f"r{n}{c}{i}", "description": d, "points": p} for i, (d, p) in enumerate(levels)],
            }
            for c in range(3)
        ]
        assignment.save()
    learner = f.LaunchContextFactory(course=s["course"], person=s["people"]["ada"])
    check_page(page, f"{live_server.url}/l/{learner.public_id}/", name="learner-wide-rubric", screenshot=screenshot)
    page.set_viewport_size({"width": 375, "height": 740})
    region = page.get_by_role("region", name=re.compile("^Rubric: "))
    assert region.count() >= 2
    first = region.first
    assert first.evaluate("el => el.scrollWidth > el.clientWidth"), "the rubric does not scroll sideways at 375px"
    first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("el => el.scrollLeft > 0", arg=first.element_handle())


def test_public_and_error_pages(page, live_server, screenshot, canvas_course):
    base = live_server.url
    award = issued_award(base=base)
    check_page(page, f"{base}/public/assertions/{award.public_id}", name="public-assertion")
    check_page(page, f"{base}/public/assertions/{award.public_id}/evidence", name="public-evidence")
    check_page(page, f"{base}/public/badges/{award.badge_class.public_id}", name="public-badge-class")
    check_page(page, f"{base}/public/issuers/{award.badge_class.issuer.public_id}", name="public-issuer")

    # Errors: an unknown page, an unknown badge, an expired or unknown launch, a forged form.
    check_page(page, f"{base}/no/such/page/", status=404, name="not-found", screenshot=screenshot)
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    check_page(page, f"{base}/public/assertions/nope", status=404, name="public-not-found")
    check_page(page, f"{base}/l/not-a-launch/", status=404, name="unknown-launch", screenshot=screenshot)
    expect(page.get_by_role("heading", level=1)).to_have_text("This page has expired")
    # An instructor of one course asking for another course's learner: not found, nothing shown.
    launch = canvas_course["launch"]
    other = build_course(name="Other course")
    url = reverse("badging:instructor_learner", args=[launch.public_id, other["badge"].pk, other["people"]["ada"].pk])
    check_page(page, f"{base}{url}", status=404, name="instructor-cross-course")
    expect(page.locator("body")).not_to_contain_text("Ada Lovelace")


def test_forged_action_post_gets_a_readable_refusal(page, live_server, canvas_course):
    launch = canvas_course["launch"]
    page.goto(f"{live_server.url}/l/{launch.public_id}/instructor/sync/")
    page.locator("input[name=token]").evaluate("input => input.value = 'forged'")
    with page.expect_navigation():
        page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("This form cannot be used")
    assert not AuditEvent.objects.exists()
    results = Axe().run(page)
    assert not [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def test_admin_pages(page, live_server, screenshot, admin_user, canvas_course):
    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/admin/login/")
    page.get_by_label("Username").fill(admin_user.username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Configuration and records")).to_be_visible()
    award = issued_award(base=base)
    platform = canvas_course["course"].platform
    pages = {
        "admin-index": "/admin/",
        "admin-platforms": "/admin/lti/platform/",
        "admin-platform": f"/admin/lti/platform/{platform.pk}/change/",
        "admin-issuers": "/admin/badging/issuer/",
        "admin-badge-classes": "/admin/badging/badgeclass/",
        "admin-course-badges": "/admin/badging/coursebadge/",
        "admin-course-badge": f"/admin/badging/coursebadge/{canvas_course['badge'].pk}/change/",
        "admin-awards": "/admin/badging/award/",
        "admin-award": f"/admin/badging/award/{award.pk}/change/",
        "admin-deliveries": "/admin/badging/delivery/",
        "admin-sync-runs": "/admin/badging/syncrun/",
        "admin-audit": "/admin/badging/auditevent/",
    }
    for name, path in pages.items():
        # Django's admin has its own "Skip to main content" link; the phone layout is Django's.
        # Never framed, not even by Canvas: it opens in a tab of its own.
        check_page(
            page, f"{base}{path}", name=name, phone=False, skip_link=False, framed_by={"'none'"}, screenshot=screenshot
        )
