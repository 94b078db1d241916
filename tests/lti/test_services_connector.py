"""LTI Advantage service calls from workers: client-credentials token reused, Link case kept."""

import json

import jwt
import pytest
import responses
from pylti1p3.names_roles import NamesRolesProvisioningService

from lti import selectors
from lti.adapter import connector

pytestmark = pytest.mark.django_db

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def token_endpoint(rsps, canvas, tokens: list):
    def issue(request):
        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        tokens.append(form)
        return 200, {}, json.dumps({"access_token": f"tok-{len(tokens)}", "token_type": "Bearer", "expires_in": 3600})

    rsps.add_callback("POST", canvas.platform.auth_token_url, callback=issue)


def test_token_request_is_a_signed_client_assertion_verifiable_with_our_jwks(rsps, canvas):
    tokens: list = []
    token_endpoint(rsps, canvas, tokens)

    assert connector.service_connector(platform=canvas.platform).get_access_token([NRPS_SCOPE]) == "tok-1"

    (form,) = tokens
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert form["scope"] == NRPS_SCOPE
    kid = jwt.get_unverified_header(form["client_assertion"])["kid"]
    (jwk,) = [k for k in selectors.tool_jwks()["keys"] if k["kid"] == kid]
    claims = jwt.decode(
        form["client_assertion"], jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=canvas.platform.auth_token_url
    )
    assert claims["iss"] == claims["sub"] == canvas.client_id
    assert claims["jti"] and claims["exp"] - claims["iat"] <= 70
    assert rsps.calls[0].request.req_kwargs["timeout"] > 0


def test_token_is_reused_across_connectors_until_it_expires(rsps, canvas):
    tokens: list = []
    token_endpoint(rsps, canvas, tokens)
    url = f"{canvas.api_base_url}/api/lti/courses/7/names_and_roles"
    rsps.add("GET", url, json={"id": url, "members": [{"user_id": "a", "status": "Active", "roles": []}]})

    for _ in range(3):  # e.g. three sync runs, each making its own connector
        members = NamesRolesProvisioningService(
            connector.service_connector(platform=canvas.platform), {"context_memberships_url": url}
        ).get_members()
        assert [m["user_id"] for m in members] == ["a"]

    assert len(tokens) == 1
    assert all(c.request.headers["Authorization"] == "Bearer tok-1" for c in rsps.calls if c.request.method == "GET")


def test_next_page_url_keeps_its_case_and_a_revoked_token_is_replaced(rsps, canvas):
    tokens: list = []
    token_endpoint(rsps, canvas, tokens)
    first = f"{canvas.api_base_url}/api/lti/courses/7/names_and_roles"
    second = f"{canvas.api_base_url}/api/lti/courses/7/names_and_roles?page=bookmark:AbCdEf"
    rsps.add("GET", first, status=401, json={"error": "revoked"})
    rsps.add(
        "GET",
        first,
        json={"members": [{"user_id": "a"}]},
        headers={"Link": f'<{first}>; rel="current", <{second}>; rel="next"'},
    )
    rsps.add("GET", second, match=[responses.matchers.query_param_matcher({"page": "bookmark:AbCdEf"})],
             json={"members": [{"user_id": "b"}]})  # fmt: skip

    members = NamesRolesProvisioningService(
        connector.service_connector(platform=canvas.platform), {"context_memberships_url": first}
    ).get_members()

    assert [m["user_id"] for m in members] == ["a", "b"]
    assert len(tokens) == 2  # the 401 dropped the cached token once
