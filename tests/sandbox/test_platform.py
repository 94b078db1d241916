"""The sandbox as an LTI 1.3 platform: JWKS with rotation, the OIDC authorization endpoint
(checks and the form_post id_token with Canvas's claims), the client_credentials token endpoint
and NRPS."""

import html
import re
import time
import uuid
from urllib.parse import urlencode

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk

from sandbox.models import SandboxUser
from sandbox.platform import NRPS_SCOPE, launch_hint_make
from sandbox.services.keys import platform_key_rotate
from sandbox.views_lti import launch_form_fields

LIS = "http://purl.imsglobal.org/vocab/lis/v2"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim"


def _user(seeded, name):
    return SandboxUser.objects.get(instance=seeded.instance, name=name)


def _authorize(client, seeded, user, **overrides):
    instance = seeded.instance
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": instance.client_id,
        "redirect_uri": instance.tool_launch_url,
        "login_hint": str(user.id),
        "lti_message_hint": launch_hint_make(user=user, course=seeded.course),
        "state": "state-123",
        "nonce": "nonce-456",
    }
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    return client.get(f"/sandbox/{instance.slug}/api/lti/authorize_redirect?{urlencode(params)}")


def _form_fields(response) -> dict[str, str]:
    body = response.content.decode()
    return {m[0]: html.unescape(m[1]) for m in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body)}


def _verify(client, seeded, token: str) -> dict:
    keys = client.get(f"/sandbox/{seeded.instance.slug}/api/lti/security/jwks").json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys if k["kid"] == kid)
    return jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience=seeded.instance.client_id)


def test_jwks_publishes_current_and_previous_keys(client, seeded):
    url = f"/sandbox/{seeded.instance.slug}/api/lti/security/jwks"
    first = client.get(url).json()["keys"]
    assert len(first) == 1 and {"kty", "n", "e", "kid", "alg", "use"} <= set(first[0])
    assert first[0]["alg"] == "RS256" and "d" not in first[0]
    platform_key_rotate(instance=seeded.instance)
    second = [k["kid"] for k in client.get(url).json()["keys"]]
    assert len(second) == 2 and first[0]["kid"] in second
    platform_key_rotate(instance=seeded.instance)
    third = [k["kid"] for k in client.get(url).json()["keys"]]
    assert len(third) == 2 and first[0]["kid"] not in third


def test_authorize_form_posts_a_signed_id_token_with_canvas_claims(client, seeded):
    zoe = _user(seeded, "Zoë O'Brien <b>")
    response = _authorize(client, seeded, zoe)
    assert response.status_code == 200
    body = response.content.decode()
    assert f'action="{seeded.instance.tool_launch_url}"' in body
    assert "<script>" not in body and 'src="/static/sandbox/js/autosubmit.js"' in body
    fields = _form_fields(response)
    assert fields["state"] == "state-123"
    claims = _verify(client, seeded, fields["id_token"])
    instance = seeded.instance
    assert claims["iss"] == instance.issuer and claims["azp"] == instance.client_id
    assert claims["nonce"] == "nonce-456" and claims["sub"] == zoe.lti_sub
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["name"] == "Zoë O'Brien <b>" and claims["email"] == "learner1@students.example.edu"
    assert claims[f"{CLAIM}/message_type"] == "LtiResourceLinkRequest"
    assert claims[f"{CLAIM}/version"] == "1.3.0"
    assert claims[f"{CLAIM}/deployment_id"] == instance.deployment_id
    assert claims[f"{CLAIM}/target_link_uri"] == instance.tool_launch_url
    assert claims[f"{CLAIM}/context"]["id"] == seeded.course.lti_context_id
    assert claims[f"{CLAIM}/resource_link"]["id"]
    assert claims[f"{CLAIM}/tool_platform"]["product_family_code"] == "canvas"
    assert f"{LIS}/membership#Learner" in claims[f"{CLAIM}/roles"]
    assert "http://purl.imsglobal.org/vocab/lti/system/person#TestUser" not in claims[f"{CLAIM}/roles"]
    custom = claims[f"{CLAIM}/custom"]
    assert custom == {
        "canvas_user_id": str(zoe.id),
        "canvas_course_id": str(seeded.course.id),
        "canvas_api_base_url": instance.root_url,
        "email": "learner1@students.example.edu",
        "concluded_roles": "urn:lti:sysrole:ims/lis/None",  # no concluded enrollment
    }
    assert all(isinstance(v, str) for v in custom.values())
    nrps = claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"]
    assert nrps["context_memberships_url"].endswith(f"/api/lti/courses/{seeded.course.id}/names_and_roles")
    assert claims["https://www.instructure.com/placement"] == "course_navigation"


@pytest.mark.parametrize(
    ("name", "expected", "absent"),
    [
        ("Grace Hopper-Núñez", [f"{LIS}/membership#Instructor", f"{LIS}/institution/person#Instructor"], []),
        ("Alan Turing", [f"{LIS}/membership/Instructor#TeachingAssistant", f"{LIS}/membership#Instructor"], []),
        (
            "Test Student",
            [f"{LIS}/membership#Learner", "http://purl.imsglobal.org/vocab/lti/system/person#TestUser"],
            [],
        ),
        ("Ada Admin", [f"{LIS}/institution/person#Administrator"], [f"{LIS}/membership#Learner"]),
    ],
)
def test_roles_as_canvas_sends_them(client, seeded, name, expected, absent):
    claims = _verify(client, seeded, _form_fields(_authorize(client, seeded, _user(seeded, name)))["id_token"])
    roles = claims[f"{CLAIM}/roles"]
    assert set(expected) <= set(roles)
    assert not set(absent) & set(roles)


def test_primary_email_claim_follows_a_change(client, seeded):
    from sandbox.services.people import primary_email_set

    zoe = _user(seeded, "Zoë O'Brien <b>")
    primary_email_set(user=zoe, address="zoe.new@example.org")
    claims = _verify(client, seeded, _form_fields(_authorize(client, seeded, zoe))["id_token"])
    assert claims["email"] == "zoe.new@example.org"
    assert claims[f"{CLAIM}/custom"]["email"] == "zoe.new@example.org"


def test_authorize_refuses_unknown_client_and_redirect_uri(client, seeded):
    zoe = _user(seeded, "Zoë O'Brien <b>")
    bad_client = _authorize(client, seeded, zoe, client_id="999")
    assert bad_client.status_code == 400 and "Unknown client_id" in bad_client.content.decode()
    bad_redirect = _authorize(client, seeded, zoe, redirect_uri="https://evil.example/launch")
    assert bad_redirect.status_code == 400 and "not registered" in bad_redirect.content.decode()
    assert "id_token" not in _form_fields(bad_redirect)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"nonce": None}, "invalid_request"),
        ({"response_mode": "query"}, "invalid_request"),
        ({"scope": "profile"}, "invalid_request"),
        ({"lti_message_hint": "tampered"}, "invalid_request"),
        ({"login_hint": "1"}, "login_required"),
    ],
)
def test_authorize_posts_errors_back_to_the_tool(client, seeded, overrides, error):
    response = _authorize(client, seeded, _user(seeded, "Zoë O'Brien <b>"), **overrides)
    fields = _form_fields(response)
    assert fields["error"] == error and fields["state"] == "state-123"
    assert "id_token" not in fields


def test_launch_initiation_posts_the_login_parameters_canvas_sends(client, seeded):
    zoe = _user(seeded, "Zoë O'Brien <b>")
    fields = launch_form_fields(instance=seeded.instance, user=zoe, course=seeded.course)
    assert {"iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id"} <= set(fields)
    response = client.get(
        f"/sandbox/{seeded.instance.slug}/courses/{seeded.course.id}/external_tools/badges/launch?as={zoe.id}"
    )
    posted = _form_fields(response)
    assert f'action="{seeded.instance.tool_login_url}"' in response.content.decode()
    assert posted["iss"] == seeded.instance.issuer and posted["login_hint"] == str(zoe.id)
    assert posted["client_id"] == seeded.instance.client_id


# --- client_credentials ---------------------------------------------------------------------------


@pytest.fixture
def tool_key(seeded):
    """The tool's key pair, its JWKS served (mocked) at the registered tool JWKS URL."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = jwk.JWK.from_pem(pem).export_public(as_dict=True)
    public.update(kid="tool-key-1", alg="RS256", use="sig")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(seeded.instance.tool_jwks_url, json={"keys": [public]})
        yield pem


def _assertion(seeded, pem, **overrides):
    now = int(time.time())
    claims = {
        "iss": seeded.instance.client_id,
        "sub": seeded.instance.client_id,
        "aud": seeded.instance.auth_token_url,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": "tool-key-1"})


def _token(client, seeded, assertion, scope=NRPS_SCOPE, grant="client_credentials"):
    return client.post(
        f"/sandbox/{seeded.instance.slug}/login/oauth2/token",
        {
            "grant_type": grant,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": scope,
        },
    )


def test_token_endpoint_grants_lti_scopes_for_a_valid_assertion(client, seeded, tool_key):
    response = _token(client, seeded, _assertion(seeded, tool_key), scope=f"{NRPS_SCOPE} url:GET|/api/v1/courses")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == NRPS_SCOPE  # REST scopes are not for LTI tokens
    # The token opens NRPS…
    nrps = client.get(
        f"/sandbox/{seeded.instance.slug}/api/lti/courses/{seeded.course.id}/names_and_roles",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert nrps.status_code == 200
    # …but not the REST API, as in Canvas.
    rest = client.get(
        f"/sandbox/{seeded.instance.slug}/api/v1/courses/{seeded.course.id}",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert rest.status_code == 401


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"aud": "https://elsewhere.example/token"}, "audience"),
        ({"iss": "someone-else", "sub": "someone-else"}, "client_id"),
        ({"exp": int(time.time()) - 120}, "expired"),
    ],
)
def test_token_endpoint_refuses_bad_assertions(client, seeded, tool_key, overrides, needle):
    response = _token(client, seeded, _assertion(seeded, tool_key, **overrides))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert needle in response.json()["error_description"].lower()


def test_token_endpoint_refuses_replay_wrong_key_scope_and_grant(client, seeded, tool_key):
    assertion = _assertion(seeded, tool_key)
    assert _token(client, seeded, assertion).status_code == 200
    replay = _token(client, seeded, assertion)
    assert replay.status_code == 401 and "already used" in replay.json()["error_description"]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged = _token(client, seeded, _assertion(seeded, other))
    assert forged.status_code == 401
    assert _token(client, seeded, _assertion(seeded, tool_key), scope="url:GET|/api/v1/courses").json() == {
        "error": "invalid_scope",
        "error_description": "none of the requested scopes is available to this tool",
    }
    assert _token(client, seeded, _assertion(seeded, tool_key), grant="password").json()["error"] == (
        "unsupported_grant_type"
    )


def test_nrps_members_and_paging(client, seeded, tool_key):
    token = _token(client, seeded, _assertion(seeded, tool_key)).json()["access_token"]
    url = f"/sandbox/{seeded.instance.slug}/api/lti/courses/{seeded.course.id}/names_and_roles?limit=5"
    members, pages = [], 0
    while url:
        response = client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert response["Content-Type"] == "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
        body = response.json()
        assert body["context"]["id"] == seeded.course.lti_context_id
        members += body["members"]
        pages += 1
        link = response.get("Link", "")
        url = link[1 : link.index(">")] if 'rel="next"' in link else None
    assert pages > 1
    names = {m["name"] for m in members}
    assert "Zoë O'Brien <b>" in names and "Test Student" not in names
    zoe = next(m for m in members if m["name"] == "Zoë O'Brien <b>")
    assert zoe["status"] == "Active" and zoe["roles"] == [f"{LIS}/membership#Learner"]
    assert zoe["user_id"] == _user(seeded, "Zoë O'Brien <b>").lti_sub
    unauthorized = client.get(
        f"/sandbox/{seeded.instance.slug}/api/lti/courses/{seeded.course.id}/names_and_roles",
        headers={"Authorization": "Bearer nope"},
    )
    assert unauthorized.status_code == 401


def test_the_picture_claim_points_at_a_real_image(client, seeded, settings):
    from django.contrib.staticfiles import finders

    claims = _verify(
        client, seeded, _form_fields(_authorize(client, seeded, _user(seeded, "Zoë O'Brien <b>")))["id_token"]
    )
    path = claims["picture"].removeprefix(seeded.instance.base_url)
    assert path.startswith(settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL)
    assert finders.find(path.split("/static/", 1)[1])


def test_a_concluded_enrollment_sends_no_course_role_and_its_roles_in_concluded_roles(client, seeded):
    """Canvas sends course roles for current enrollments only (canvas-lms lib/lti/substitutions_helper.rb:
    course_enrollments = @context.current_enrollments) and lists concluded ones in
    $Canvas.membership.concludedRoles (lib/lti/variable_expander.rb registers it with COURSE_GUARD as
    lti_helper.concluded_lis_roles: LTI 1.1 names from Lti::LtiUserCreator::ENROLLMENT_MAP, "Learner"
    for a student, urn:lti:sysrole:ims/lis/None when there is none)."""
    from sandbox.models import SandboxInstance

    SandboxInstance.objects.filter(pk=seeded.instance.pk).update(
        tool_custom_fields={"concluded_roles": "$Canvas.membership.concludedRoles"}
    )
    seeded.instance.refresh_from_db()
    ana = _user(seeded, "Ana Müller")  # the seed's concluded learner
    assert set(ana.enrollments.values_list("workflow_state", flat=True)) == {"completed"}
    claims = _verify(client, seeded, _form_fields(_authorize(client, seeded, ana))["id_token"])
    assert not [r for r in claims[f"{CLAIM}/roles"] if "/membership" in r]
    assert claims[f"{CLAIM}/custom"]["concluded_roles"] == "Learner"
    zoe = _user(seeded, "Zoë O'Brien <b>")
    claims = _verify(client, seeded, _form_fields(_authorize(client, seeded, zoe))["id_token"])
    assert f"{LIS}/membership#Learner" in claims[f"{CLAIM}/roles"]
    assert claims[f"{CLAIM}/custom"]["concluded_roles"] == "urn:lti:sysrole:ims/lis/None"
