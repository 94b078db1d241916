"""LTI Dynamic Registration against a fake Canvas (its OpenID configuration and registration endpoint)."""

import json

import pytest

from lti.models import LaunchContext, Platform
from tests.lti.platform import FakeCanvas

pytestmark = pytest.mark.django_db

OPENID_URL = "https://uni.canvas.test/api/lti/security/openid-configuration"
REGISTRATION_URL = "https://uni.canvas.test/api/lti/registrations"
TOKEN = "registration-token-123"


def openid_configuration(**overrides):
    config = {
        "issuer": "https://canvas.instructure.com",
        "authorization_endpoint": "https://sso.uni.canvas.test/api/lti/authorize_redirect",
        "registration_endpoint": REGISTRATION_URL,
        "jwks_uri": "https://sso.uni.canvas.test/api/lti/security/jwks",
        "token_endpoint": "https://uni.canvas.test/login/oauth2/token",
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": [
            "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
            "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
            "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
        ],
        "authorization_server": "canvas.instructure.com",
        "https://purl.imsglobal.org/spec/lti-platform-configuration": {
            "product_family_code": "canvas",
            "version": "vCloud",
            "https://canvas.instructure.com/lti/account_name": "Test University",
        },
    }
    config.update(overrides)
    return config


@pytest.fixture
def canvas_registration(rsps):
    """Canvas's side of LTI Dynamic Registration (its OpenID configuration and registration endpoint);
    returns what the tool sent it."""
    seen = {}

    def openid(request):
        seen["openid_auth"] = request.headers.get("Authorization")
        return 200, {"Content-Type": "application/json"}, json.dumps(openid_configuration())

    def register(request):
        seen["registration_auth"] = request.headers.get("Authorization")
        seen["registration"] = json.loads(request.body)
        answer = {**seen["registration"], "client_id": "10000000000555"}
        return 200, {"Content-Type": "application/json"}, json.dumps(answer)

    rsps.add_callback("GET", OPENID_URL, callback=openid)
    rsps.add_callback("POST", REGISTRATION_URL, callback=register)
    return seen


def start(client):
    return client.get("/lti/register/", {"openid_configuration": OPENID_URL, "registration_token": TOKEN}, secure=True)


def test_registration_creates_the_platform_and_closes_the_canvas_dialog(client, canvas_registration):
    response = start(client)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Badges registration received from Test University" in html
    assert "approved this registration" in html
    assert "API token" in html
    # The close message is sent by an external script (CSP forbids inline scripts).
    assert '<script src="/static/lti/js/registration-close.js"></script>' in html
    assert "<script>" not in html
    platform = Platform.objects.get()
    assert platform.issuer == "https://canvas.instructure.com" and platform.client_id == "10000000000555"
    assert platform.registered_via == "dynamic"
    assert platform.status == Platform.STATUS_PENDING and not platform.is_trusted
    assert platform.requested_ip == "127.0.0.1"
    assert platform.needs_api_token
    assert platform.auth_login_url == "https://sso.uni.canvas.test/api/lti/authorize_redirect"
    assert platform.auth_token_url == "https://uni.canvas.test/login/oauth2/token"
    assert platform.keyset_url == "https://sso.uni.canvas.test/api/lti/security/jwks"
    # Served from the institution's host, not the issuer's: that host is its Canvas.
    assert platform.api_base_url == "https://uni.canvas.test"
    assert platform.api_base_url_source == Platform.SOURCE_REGISTRATION
    assert platform.name == "Test University"
    assert platform.accept_new_deployments and not platform.deployments.exists()

    assert canvas_registration["openid_auth"] == f"Bearer {TOKEN}"
    assert canvas_registration["registration_auth"] == f"Bearer {TOKEN}"
    sent = canvas_registration["registration"]
    assert sent["application_type"] == "web"
    assert sent["grant_types"] == ["implicit", "client_credentials"]
    assert sent["response_types"] == ["id_token"]
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    assert sent["initiate_login_uri"] == "https://testserver/lti/login/"
    assert sent["redirect_uris"] == ["https://testserver/lti/launch/"]
    assert sent["jwks_uri"] == "https://testserver/lti/jwks.json"
    assert sent["scope"] == ""  # no LTI service scopes: see test_only_the_scopes_the_product_uses
    tool = sent["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    assert tool["domain"] == "testserver"
    assert tool["https://canvas.instructure.com/lti/privacy_level"] == "public"
    assert tool["custom_parameters"]["canvas_user_id"] == "$Canvas.user.id"
    message, my_badges = tool["messages"]
    assert my_badges["placements"] == ["account_navigation", "user_navigation"]  # test_my_badges_launch.py
    assert message["type"] == "LtiResourceLinkRequest"
    assert message["placements"] == ["course_navigation"]
    assert message["https://canvas.instructure.com/lti/course_navigation/default_enabled"] is True
    assert message["https://canvas.instructure.com/lti/visibility"] == "members"


def test_close_script_posts_the_lti_close_message():
    from django.contrib.staticfiles import finders

    with open(finders.find("lti/js/registration-close.js")) as f:
        script = f.read()
    assert 'postMessage({ subject: "org.imsglobal.lti.close" }, "*")' in script
    assert "window.opener" in script and "window.parent" in script


def test_dynamically_registered_canvas_can_launch(client, canvas_registration, rsps):
    """Canvas creates the deployment after registration: the first signed launch records it
    (once an admin approved the registration)."""
    from lti.services.platforms import platform_approve

    start(client)
    platform = platform_approve(platform=Platform.objects.get(), approved_by="admin")
    canvas = FakeCanvas(client_id=platform.client_id, deployment_id="12:fresh-deployment")
    canvas.keyset_url, canvas.auth_login_url = platform.keyset_url, platform.auth_login_url
    canvas.serve_jwks(rsps)

    ctx = canvas.launch_context(client, seed_jwks=False)

    assert ctx.platform == platform and ctx.deployment.deployment_id == "12:fresh-deployment"


def test_deployment_id_in_the_answer_is_recorded(client, rsps):
    rsps.add("GET", OPENID_URL, json=openid_configuration())
    rsps.add(
        "POST",
        REGISTRATION_URL,
        json={
            "client_id": "10000000000556",
            "https://purl.imsglobal.org/spec/lti-tool-configuration": {"deployment_id": "3:dep"},
        },
    )

    assert start(client).status_code == 200

    platform = Platform.objects.get()
    assert list(platform.deployments.values_list("deployment_id", flat=True)) == ["3:dep"]
    assert not platform.accept_new_deployments


def test_an_existing_registration_is_never_overwritten(client, canvas_registration):
    original = FakeCanvas(client_id="10000000000555")
    original.register()

    response = start(client)

    assert response.status_code == 409
    assert b"already registered" in response.content
    platform = Platform.objects.get()
    assert platform.keyset_url == original.keyset_url and platform.registered_via == "manual"


@pytest.mark.parametrize(
    ("openid", "registration_status"),
    [
        (openid_configuration(registration_endpoint=None), 200),
        (openid_configuration(id_token_signing_alg_values_supported=["HS256"]), 200),
        (openid_configuration(), 500),
        ("not json", 200),
    ],
    ids=["no-registration-endpoint", "no-rs256", "registration-fails", "openid-not-json"],
)
def test_failed_registration_records_nothing(client, rsps, openid, registration_status):
    if isinstance(openid, dict):
        rsps.add("GET", OPENID_URL, json=openid)
    else:
        rsps.add("GET", OPENID_URL, body=openid)
    rsps.add("POST", REGISTRATION_URL, json={"client_id": "1"}, status=registration_status)

    response = start(client)

    assert response.status_code == 400
    assert b"Badges could not be registered" in response.content
    assert not Platform.objects.exists() and not LaunchContext.objects.exists()


def test_registration_needs_https(client, settings):
    settings.DEBUG = False
    settings.SANDBOX_ENABLED = False
    response = client.get("/lti/register/", {"openid_configuration": "http://uni.canvas.test/openid"})
    assert response.status_code == 400
    assert not Platform.objects.exists()


def test_registration_without_parameters(client):
    response = client.get("/lti/register/")
    assert response.status_code == 400
    assert b"incomplete" in response.content


def test_registration_page_may_be_framed_by_the_registering_canvas(client, canvas_registration):
    """Canvas frames this page before it is a registered platform: the site-wide frame-ancestors
    (registered platforms only) must not blank it."""
    response = start(client)

    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'self' https: https://uni.canvas.test" in csp
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "X-Frame-Options" not in response
    assert response["Cross-Origin-Opener-Policy"] == "unsafe-none"  # popup platforms keep window.opener


def test_only_the_scopes_the_product_uses(client, canvas_registration):
    """The tool reads courses through the REST API token (canvas/), never through NRPS or AGS, so it
    asks for no LTI Advantage scope. Canvas takes the registration's `scope` as a space-separated
    list and calls .split on it (app/controllers/lti/ims/dynamic_registration_controller.rb
    `create`), so the key is sent, empty; the developer key JSON's `scopes` is an empty list
    (doc/api/lti_dev_key_config.md)."""
    from lti import config

    start(client)

    assert canvas_registration["registration"]["scope"] == ""
    assert client.get("/lti/config.json").json()["scopes"] == []
    assert config.SCOPES == []
