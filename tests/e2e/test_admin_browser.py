"""The Django admin in a real browser, under the product's CSP: an operator configures a badge class
(image preview, a bad image refused with a clear error) and revokes an award (asked for a reason)."""

import io
import os
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from badging.models import Award
from tests import factories as f

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def badge_png() -> bytes:
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((5, 5, 195, 195), fill=(11, 122, 59, 255), outline=(255, 196, 0, 255), width=8)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def check_a11y(page, name):
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    found = [f"{v['id']}: {v['help']} {[n['html'][:150] for n in v['nodes']]}" for v in bad]
    assert not bad, f"{name}: " + "; ".join(found)


@pytest.fixture
def logged_in(page, live_server, admin_user):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(admin_user.username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Configuration and records")).to_be_visible()
    return page


def test_badge_class_image_preview_and_refused_upload(logged_in, live_server, screenshot, tmp_path):
    page = logged_in
    badge = f.BadgeClassFactory(name="Data Analysis Fundamentals", image=badge_png())
    page.goto(f"{live_server.url}/admin/badging/badgeclass/{badge.pk}/change/")
    preview = page.get_by_role("img", name="Badge image of Data Analysis Fundamentals")
    expect(preview).to_be_visible()
    assert preview.evaluate("img => img.naturalWidth") == 200
    expect(page.get_by_text("Skills this badge certifies")).to_be_visible()
    screenshot(page, "admin-badge-class")
    check_a11y(page, "badge class change")

    bad = tmp_path / "badge.svg"
    bad.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200" onload="alert(1)"/>')
    page.get_by_label("Image:").set_input_files(str(bad))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("The SVG has an event handler attribute (onload), which is not allowed.")).to_be_visible()
    screenshot(page, "admin-badge-class-refused-image")


def test_revoke_from_the_award_list_asks_for_a_reason(logged_in, live_server, screenshot):
    page = logged_in
    award = f.AwardFactory(learner__name="Zoë O'Brien <b>", recipient_email="zoe@uni.example.edu")
    page.goto(f"{live_server.url}/admin/badging/award/?q=zoe@uni")
    expect(page.get_by_text("zoe@uni.example.edu")).to_be_visible()
    page.locator("input[name=_selected_action]").check()
    page.get_by_label("Action:").select_option("revoke_awards")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_role("heading", name="1 award to revoke")).to_be_visible()
    expect(page.get_by_text("Zoë O'Brien <b>", exact=False)).to_be_visible()
    screenshot(page, "admin-revoke-reason")
    check_a11y(page, "revoke")
    page.get_by_label("Reason:").fill("Issued in error: the final grade was corrected.")
    page.get_by_role("button", name="Revoke 1 award").click()
    expect(page.get_by_text("Revoked 1 award.")).to_be_visible()
    award.refresh_from_db()
    assert award.revoked and award.revocation_reason == "Issued in error: the final grade was corrected."


def test_course_badge_list_reads_the_rule(logged_in, live_server, screenshot):
    page = logged_in
    cb = f.CourseBadgeFactory(mastery_min_percent=80)
    page.goto(f"{live_server.url}/admin/badging/coursebadge/?course__id__exact={cb.course_id}")
    expect(
        page.get_by_text("Master the assignment group “Credentialing Assessments” (at least 80% of points)")
    ).to_be_visible()
    screenshot(page, "admin-course-badges")
    assert Award.objects.count() == 0


def test_platform_test_connection_reports_in_the_page(logged_in, live_server, screenshot, enqueued):
    """The action calls the (sandbox) Canvas and says who the token connects as; a revoked token
    is reported in words, on the same page."""
    from lti.models import Platform
    from sandbox.seed.instances import sandbox_seed

    page = logged_in
    platform = Platform.objects.get(
        pk=sandbox_seed(learners=2, assessments=1, slug="adminbrowser", base_url=live_server.url).platform_id
    )
    page.goto(f"{live_server.url}/admin/lti/platform/")
    page.get_by_role("row", name=re.compile(re.escape(platform.name))).get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option("test_connection")
    page.get_by_role("button", name="Go").click()
    expect(page.locator("ul.messagelist li.success")).to_contain_text("connected to Canvas as")
    screenshot(page, "admin-platform-test-connection")
    check_a11y(page, "platform test connection")

    platform.api_token = "revoked-token"
    platform.save()
    page.get_by_role("row", name=re.compile(re.escape(platform.name))).get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option("test_connection")
    page.get_by_role("button", name="Go").click()
    expect(page.locator("ul.messagelist li.error")).to_be_visible()


def test_retry_a_failed_delivery_and_see_it_in_the_audit_log(logged_in, live_server, screenshot, enqueued):
    from badging.models import Delivery

    page = logged_in
    award = f.AwardFactory(recipient_email="zoe@uni.example.edu")
    failed = Delivery.objects.create(award=award, kind="email", status="failed", attempts=5, last_error="SMTP 451")
    page.goto(f"{live_server.url}/admin/badging/delivery/?status__exact=failed")
    expect(page.get_by_text("SMTP 451")).to_be_visible()
    page.locator("input[name=_selected_action]").check()
    page.get_by_label("Action:").select_option("retry_deliveries")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text("1 delivery queued for another attempt.")).to_be_visible()
    failed.refresh_from_db()
    assert failed.status == "pending"
    page.goto(f"{live_server.url}/admin/badging/auditevent/")
    expect(page.locator("#result_list")).to_contain_text("delivery_retried")
    screenshot(page, "admin-audit-log")
    check_a11y(page, "audit log")


def test_approving_a_dynamic_registration_shows_what_is_approved(logged_in, live_server, screenshot):
    """The admin approves a pending registration from the platform list, after a page listing its
    issuer, client id, key set and login URLs and the hosts that would frame Badges."""
    from lti.models import Platform

    platform = Platform.objects.create(
        name="State University",
        issuer="https://canvas.instructure.com",
        client_id="10000000000321",
        auth_login_url="https://sso.canvaslms.com/api/lti/authorize_redirect",
        keyset_url="https://sso.canvaslms.com/api/lti/security/jwks",
        auth_token_url="https://state.instructure.com/login/oauth2/token",
        registered_via="dynamic",
        accept_new_deployments=True,
        status=Platform.STATUS_PENDING,
        requested_ip="198.51.100.23",
    )
    page = logged_in
    page.goto(f"{live_server.url}/admin/lti/platform/?status__exact=pending")
    page.get_by_role("row", name=re.compile("State University")).get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option("approve_registrations")
    page.get_by_role("button", name="Go").click()

    expect(page.get_by_role("heading", name="State University")).to_be_visible()
    expect(page.get_by_text("https://sso.canvaslms.com/api/lti/security/jwks")).to_be_visible()
    expect(page.get_by_text("198.51.100.23", exact=False)).to_be_visible()
    screenshot(page, "admin-approve-registration")
    check_a11y(page, "approve registration")
    page.get_by_role("button", name="Approve 1 registration").click()

    expect(page.get_by_text("Approved 1 registration.")).to_be_visible()
    platform.refresh_from_db()
    assert platform.is_trusted


def test_a_course_badge_in_the_spanish_admin(logged_in, live_server, screenshot):
    """A browser asking for Spanish gets the admin's own texts in Spanish: menu, field labels, help
    texts, choices and the rule sentence (README "Languages")."""
    page = logged_in
    badge = f.CourseBadgeFactory(badge_class__name="Data Analysis Fundamentals")
    page.set_extra_http_headers({"Accept-Language": "es"})
    page.goto(f"{live_server.url}/admin/badging/coursebadge/{badge.pk}/change/")
    expect(page.get_by_role("heading", name="Modificar insignia del curso")).to_be_visible()
    expect(page.get_by_label("Porcentaje mínimo de dominio:")).to_have_value("80.00")
    expect(page.get_by_label("Origen de la calificación final:")).to_have_value("override")
    expect(page.get_by_label("Origen de la calificación final:").locator("option:checked")).to_have_text(
        "Anulación de la calificación final de Canvas"
    )
    expect(page.get_by_text("Dominar el grupo de tareas «Credentialing Assessments»")).to_be_visible()
    expect(page.get_by_role("link", name="Insignias del curso", exact=True).first).to_be_visible()
    screenshot(page, "admin-course-badge-es")
    check_a11y(page, "course badge change, Spanish")
