"""In a real browser: a Canvas set up as hosted Canvas registers Badges by URL, the tool's admin
approves the registration, and the first launch tells the tool where the Canvas API is.

Canvas sources (instructure/canvas-lms):
- app/controllers/lti/ims/dynamic_registration_controller.rb: the admin pastes the tool's
  registration URL (Developer Keys › + LTI Registration); Canvas opens it in a frame with
  `openid_configuration` built on the LTI issuer's host (hosted: https://canvas.instructure.com, not
  the institution's) and a `registration_token`; its answer carries the client_id and the deployment.
- lib/lti/variable_expander.rb: `$Canvas.api.baseUrl` is the institution's Canvas address, sent with
  each launch in the custom field the tool asked for.
The sandbox does the same, its issuer on 127.0.0.1 while its pages and REST API are on localhost.
"""

import os
import re

import pytest
from playwright.sync_api import expect

from lti.models import Platform
from sandbox.models import SandboxEnrollment
from sandbox.seed.instances import sandbox_seed
from tests.e2e.test_admin_browser import check_a11y

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_hosted_canvas_registers_the_admin_approves_and_the_launch_tells_the_api_address(
    page, live_server, admin_user, screenshot, enqueued
):
    api_origin = live_server.url
    issuer_origin = api_origin.replace("localhost", "127.0.0.1")
    seeded = sandbox_seed(
        learners=3, assessments=1, seed=5, slug="hostedui", base_url=api_origin, tool_url=api_origin,
        register_in_tool=False, issuer_url=issuer_origin,
    )  # fmt: skip
    instance = seeded.instance
    page.set_viewport_size({"width": 1280, "height": 900})

    # Canvas: Developer Keys › + LTI Registration, the tool's URL pasted.
    page.goto(f"{instance.root_url}/courses/{seeded.course.id}/settings/")
    expect(page.get_by_text(f"{issuer_origin}/sandbox/hostedui/api/lti/security/openid-configuration")).to_be_visible()
    page.get_by_label("Dynamic Registration URL").fill(f"{api_origin}/lti/register/")
    screenshot(page, "hosted-registration-sandbox-settings")
    page.get_by_role("button", name="Start registration").click()
    frame = page.frame_locator("iframe[name=registration]")
    expect(frame.get_by_role("heading", name=re.compile("Badges registration received"))).to_be_visible(timeout=15000)
    src = page.locator("iframe[name=registration]").get_attribute("src")
    assert "openid_configuration=" + issuer_origin.replace(":", "%3A").replace("/", "%2F") in src
    screenshot(page, "hosted-registration-received")
    check_a11y(page, "sandbox registration page")
    platform = Platform.objects.get()
    assert platform.status == Platform.STATUS_PENDING and platform.issuer == instance.issuer
    assert platform.api_base_url == ""  # the OpenID configuration came from the issuer's host
    assert list(platform.deployments.values_list("deployment_id", flat=True)) == [instance.deployment_id]

    # The tool's admin approves it.
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(admin_user.username)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/lti/platform/?status__exact=pending")
    page.get_by_role("row", name=re.compile(re.escape(platform.name))).get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option("approve_registrations")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text(instance.keyset_url)).to_be_visible()
    screenshot(page, "hosted-registration-approve")
    page.get_by_role("button", name="Approve 1 registration").click()
    expect(page.get_by_text("Approved 1 registration.")).to_be_visible()

    # The teacher launches Badges from the course: the launch carries $Canvas.api.baseUrl.
    teacher = SandboxEnrollment.objects.filter(course=seeded.course, type="TeacherEnrollment").first().user
    page.goto(f"{instance.root_url}/courses/{seeded.course.id}/")
    page.locator(f'[data-launch-as="{teacher.id}"]').click()
    tool = page.frame_locator("iframe[name=tool_content]")
    # Into the tool (no badge is set up for this course yet: the page for the teacher says so).
    expect(tool.get_by_role("heading", name="No badge is set up for this course")).to_be_visible(timeout=15000)
    screenshot(page, "hosted-registration-first-launch")
    platform.refresh_from_db()
    assert (platform.api_base_url, platform.api_base_url_source) == (instance.root_url, Platform.SOURCE_LAUNCH)

    # The admin sees where the API address came from.
    page.goto(f"{live_server.url}/admin/lti/platform/{platform.pk}/change/")
    expect(page.get_by_text("Launch ($Canvas.api.baseUrl)")).to_be_visible()
    screenshot(page, "hosted-registration-platform")
