"""Dynamic registration the way hosted Canvas does it, against the sandbox behaving the same way.

Canvas sources (instructure/canvas-lms):
- app/controllers/lti/ims/dynamic_registration_controller.rb `oidc_configuration_url`: the
  openid_configuration URL is built on the LTI issuer's host (`Canvas::Security.config["lti_iss"]`,
  https://canvas.instructure.com for every hosted customer; the request's host only in development),
  with the registration token in its query; `registration_token` expires after an hour.
- the same controller's `create`/`render_registration`: the answer carries `client_id`, the
  registration echoed and the tool configuration. The version read here (commit f84104eb) has no
  deployment in it; the project's reference sheet (../shared/reference/lti-canvas.md,
  "Corrections", checked against newer canvas-lms) says the answer carries `deployment_id` at the
  top level. The tool reads it there and inside the tool configuration (IMS Dynamic Registration
  §3.6), and without either records the deployment at the first signed launch.
- lib/lti/variable_expander.rb: `$Canvas.api.baseUrl` expands to the institution's Canvas address.

So the registration cannot tell the tool the REST API's address: the first launch does.
"""

import html
import re

import pytest
import requests

from lti.models import Platform
from lti.registration import registration_api_base_url, registration_deployment_id
from lti.services.platforms import platform_approve
from sandbox.dynamic_registration import registration_start
from sandbox.models import SandboxUser
from sandbox.seed.instances import sandbox_seed
from tests.lti.platform import FakeCanvas
from tests.lti.test_dynamic_registration import OPENID_URL, REGISTRATION_URL, openid_configuration

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _form(page: str) -> tuple[str, dict]:
    action = html.unescape(FORM_ACTION.search(page).group(1))
    return action, {html.unescape(k): html.unescape(v) for k, v in HIDDEN.findall(page)}


def _launch(session: requests.Session, instance, course, user) -> requests.Response:
    """Canvas's launch as a browser runs it: login initiation, authorization, form_post to the tool."""
    page = session.get(f"{instance.root_url}/courses/{course.id}/external_tools/badges/launch", params={"as": user.id})
    action, fields = _form(page.text)
    authorize = session.post(action, data=fields)  # the tool's login redirects to Canvas's authorization
    assert authorize.status_code == 200, authorize.text[:500]
    action, fields = _form(authorize.text)
    return session.post(action, data=fields, allow_redirects=False)


@pytest.mark.django_db(transaction=True)
def test_hosted_canvas_registers_then_the_first_launch_tells_the_api_address(live_server):
    api_origin = live_server.url  # the institution's Canvas (http://localhost:<port>)
    issuer_origin = api_origin.replace("localhost", "127.0.0.1")  # "canvas.instructure.com"
    assert issuer_origin != api_origin
    seeded = sandbox_seed(
        learners=2, assessments=1, seed=5, slug="hosted", base_url=api_origin, tool_url=api_origin,
        register_in_tool=False,
    )  # fmt: skip
    instance = seeded.instance
    instance.issuer_base_url = issuer_origin
    instance.save(update_fields=["issuer_base_url"])

    opened = registration_start(instance=instance, tool_registration_url=f"{api_origin}/lti/register/")
    assert f"openid_configuration={requests.utils.quote(issuer_origin, safe='')}" in opened
    page = requests.get(opened, timeout=30)

    assert page.status_code == 200, page.text[:1000]
    platform = Platform.objects.get()
    assert platform.issuer == instance.issuer and platform.client_id == instance.client_id
    assert platform.status == Platform.STATUS_PENDING
    assert platform.api_base_url == ""  # the configuration came from the issuer's host
    assert list(platform.deployments.values_list("deployment_id", flat=True)) == [instance.deployment_id]
    instance.refresh_from_db()
    assert instance.tool_launch_url == f"{api_origin}/lti/launch/"
    assert instance.tool_custom_fields["canvas_api_base_url"] == "$Canvas.api.baseUrl"

    # Pending: Canvas's launch is refused, and the tool does not redirect to its login URL.
    session = requests.Session()
    student = SandboxUser.objects.filter(instance=instance, enrollments__type="StudentEnrollment").first()
    page = session.get(
        f"{instance.root_url}/courses/{seeded.course.id}/external_tools/badges/launch", params={"as": student.id}
    )
    action, fields = _form(page.text)
    refused = session.post(action, data=fields, allow_redirects=False)
    assert refused.status_code == 403 and "waiting for approval" in refused.text

    platform_approve(platform=platform, approved_by="admin")
    launched = _launch(requests.Session(), instance, seeded.course, student)

    assert launched.status_code == 302, launched.text[:1000]
    platform.refresh_from_db()
    assert platform.api_base_url == instance.root_url
    assert platform.api_base_url_source == Platform.SOURCE_LAUNCH


def test_the_sandbox_serves_its_openid_configuration_only_with_a_registration_token(client, db):
    seeded = sandbox_seed(learners=0, assessments=1, slug="oidc", base_url="http://testserver", register_in_tool=False)
    path = f"/sandbox/{seeded.instance.slug}/api/lti/security/openid-configuration"
    assert client.get(path).status_code == 401
    opened = registration_start(instance=seeded.instance, tool_registration_url="http://tool.test/lti/register/")
    token = re.search(r"&registration_token=([^&]+)", opened).group(1)
    config = client.get(path, {"registration_token": requests.utils.unquote(token)}).json()
    assert config["issuer"] == seeded.instance.issuer
    assert config["https://purl.imsglobal.org/spec/lti-platform-configuration"]["product_family_code"] == "canvas"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"client_id": "1", "deployment_id": "7:top"}, "7:top"),
        (
            {"client_id": "1", "https://purl.imsglobal.org/spec/lti-tool-configuration": {"deployment_id": "7:in"}},
            "7:in",
        ),
        ({"client_id": "1"}, ""),
    ],
)
def test_the_deployment_is_read_at_the_top_level_and_in_the_tool_configuration(answer, expected):
    assert registration_deployment_id(answer) == expected


def test_registration_guesses_the_api_address_only_from_the_institutions_own_host():
    canvas = {"product_family_code": "canvas"}
    hosted = registration_api_base_url(
        openid_configuration_url="https://canvas.instructure.com/api/lti/security/openid-configuration?x=1",
        issuer="https://canvas.instructure.com",
        platform_conf=canvas,
    )
    own = registration_api_base_url(
        openid_configuration_url="https://canvas.uni.test/api/lti/security/openid-configuration",
        issuer="https://canvas.instructure.com",
        platform_conf=canvas,
    )
    assert (hosted, own) == ("", "https://canvas.uni.test")


@pytest.mark.django_db
def test_a_launch_corrects_a_registration_guess_but_never_an_admins_value(client, rsps):
    rsps.add("GET", OPENID_URL, json=openid_configuration())
    rsps.add("POST", REGISTRATION_URL, json={"client_id": "10000000000901", "deployment_id": "9:dep"})
    client.get("/lti/register/", {"openid_configuration": OPENID_URL, "registration_token": "t"}, secure=True)
    platform = platform_approve(platform=Platform.objects.get(), approved_by="admin")
    assert (platform.api_base_url, platform.api_base_url_source) == ("https://uni.canvas.test", "registration")

    canvas = FakeCanvas(client_id=platform.client_id, deployment_id="9:dep", host="uni.instructure.com")
    canvas.keyset_url, canvas.auth_login_url = platform.keyset_url, platform.auth_login_url
    canvas.launch_context(client)
    platform.refresh_from_db()
    assert (platform.api_base_url, platform.api_base_url_source) == ("https://uni.instructure.com", "launch")

    # A later launch naming another address does not move where the API token is sent.
    canvas.api_base_url = "https://elsewhere.example"
    canvas.launch_context(client)
    platform.refresh_from_db()
    assert platform.api_base_url == "https://uni.instructure.com"

    manual = FakeCanvas()
    manual.register()
    manual.api_base_url = "https://other.example"
    manual.launch_context(client)
    manual.platform.refresh_from_db()
    assert manual.platform.api_base_url == f"https://{manual.host}"
    assert manual.platform.api_base_url_source == "manual"


@pytest.mark.django_db
def test_the_admin_sees_where_the_api_address_came_from_and_an_edit_makes_it_theirs(client):
    from django.contrib.auth import get_user_model

    from tests.factories import PlatformFactory

    platform = PlatformFactory(api_base_url="https://uni.instructure.com", api_base_url_source="launch")
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.edu", "pw-long-enough-1"))
    url = f"/admin/lti/platform/{platform.pk}/change/"

    page = client.get(url).content.decode()
    assert "API base URL from" in page and "Launch ($Canvas.api.baseUrl)" in page

    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in ("api_token", "live_events_url")}
    data.update(
        api_base_url="https://canvas.uni.example.edu",
        **{"deployments-TOTAL_FORMS": 0, "deployments-INITIAL_FORMS": 0},
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    platform.refresh_from_db()
    assert (platform.api_base_url, platform.api_base_url_source) == ("https://canvas.uni.example.edu", "manual")


@pytest.mark.django_db
def test_the_seed_can_make_a_hosted_shaped_sandbox(capsys):
    from django.core.management import call_command

    call_command(
        "sandbox_seed", "--learners=1", "--assessments=1", "--instance=hostedseed", "--no-register",
        "--base-url=http://localhost:8001", "--issuer-url=http://127.0.0.1:8001",
    )  # fmt: skip

    out = capsys.readouterr().out
    assert "OpenID configuration (issuer host): http://127.0.0.1:8001/sandbox/hostedseed/api/lti/security/" in out


@pytest.mark.django_db
def test_the_demo_seeds_a_hosted_style_registration_the_admin_can_read(client, capsys):
    """`sandbox_seed --hosted-example` (run by `make demo`): a second sandbox Canvas whose issuer and
    OpenID configuration are on another host name than its own, registered in the tool through the
    registration exchange, approved, its API base taken from the launch's $Canvas.api.baseUrl."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from sandbox.models import SandboxInstance

    for _ in range(2):  # idempotent, like the rest of the seed
        call_command(
            "sandbox_seed", "--learners=2", "--assessments=1", "--instance=main",
            "--base-url=http://localhost:8001", "--tool-url=http://localhost:8000", "--hosted-example",
        )  # fmt: skip
    out = capsys.readouterr().out
    hosted = SandboxInstance.objects.get(slug="hosted")
    assert hosted.issuer == "http://127.0.0.1:8001/sandbox/hosted"
    assert hosted.openid_configuration_url.startswith("http://127.0.0.1:8001/")
    assert hosted.root_url == "http://localhost:8001/sandbox/hosted"
    assert f"Hosted-style Canvas (issuer {hosted.issuer})" in out

    assert Platform.objects.count() == 2
    platform = Platform.objects.get(issuer=hosted.issuer)
    assert platform.registered_via == "dynamic" and platform.status == Platform.STATUS_APPROVED
    assert (platform.api_base_url, platform.api_base_url_source) == (hosted.root_url, Platform.SOURCE_LAUNCH)
    assert list(platform.deployments.values_list("deployment_id", flat=True)) == [hosted.deployment_id]
    assert not platform.needs_api_token
    # The sandbox Canvas holds what the tool asked for at registration (its launch asks for the API base).
    assert hosted.tool_custom_fields["canvas_api_base_url"] == "$Canvas.api.baseUrl"
    assert hosted.tool_launch_url == "http://localhost:8000/lti/launch/"

    client.force_login(get_user_model().objects.create_superuser("root", "r@example.edu", "pw-long-enough-1"))
    page = client.get(f"/admin/lti/platform/{platform.pk}/change/").content.decode()
    assert "Launch ($Canvas.api.baseUrl)" in page and hosted.root_url in page
    listing = client.get("/sandbox/").content.decode()
    assert "Set up as hosted Canvas" in listing
