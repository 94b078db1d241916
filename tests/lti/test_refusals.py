"""Every refused launch: a 4xx page that says what went wrong, a log line, and nothing recorded."""

import base64
import json
import logging
import time

import jwt
import pytest
from django.contrib.sessions.models import Session
from jwcrypto.jwk import JWK

from lti.models import Course, LaunchContext, Person
from tests.lti.platform import DROP, LEARNER, LTI

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _log_level(caplog):
    caplog.set_level(logging.WARNING, logger="lti")


def assert_refused(response, code: str, status: int, caplog, *, phrase: str | None = None):
    assert response.status_code == status, response.content.decode()[:1500]
    html = response.content.decode()
    assert f"<code>{code}</code>" in html
    assert "Open Badges" in html or "administrator" in html or "Try again" in html  # says what to do
    if phrase:
        assert phrase in html
    assert any(code in record.getMessage() for record in caplog.records), "the refusal is logged"
    assert not LaunchContext.objects.exists()
    assert not Session.objects.exists()
    assert "sessionid" not in response.cookies


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def login_and_claims(client, canvas, **kwargs):
    _, state, nonce = canvas.login(client)
    return state, canvas.claims(nonce=nonce, roles=LEARNER, **kwargs)


def test_bad_signature(client, canvas, caplog):
    state, body = login_and_claims(client, canvas)
    impostor = JWK.generate(kty="RSA", size=2048, kid=canvas.signing_key.kid)  # same kid, other key
    response = canvas.post_launch(client, state=state, id_token=canvas.sign(body, key=impostor))
    assert_refused(response, "bad_signature", 403, caplog, phrase="signature")


def test_tampered_claims_break_the_signature(client, canvas, caplog):
    state, body = login_and_claims(client, canvas)
    header, _payload, signature = canvas.sign(body).split(".")
    body[LTI + "roles"] = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]  # promote oneself
    response = canvas.post_launch(client, state=state, id_token=f"{header}.{b64(body)}.{signature}")
    assert_refused(response, "bad_signature", 403, caplog)


def test_alg_none_is_refused(client, canvas, caplog):
    state, body = login_and_claims(client, canvas)
    token = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': canvas.signing_key.kid})}.{b64(body)}."
    response = canvas.post_launch(client, state=state, id_token=token)
    assert_refused(response, "algorithm_refused", 403, caplog)
    assert canvas.jwks_requests == 0


def test_hs256_signed_with_the_public_key_is_refused(client, canvas, caplog):
    """The classic key-confusion attack: HMAC keyed with the platform's public key."""
    state, body = login_and_claims(client, canvas)
    secret = canvas.signing_key.export_to_pem()
    token = jwt.encode(body, secret[:64], algorithm="HS256", headers={"kid": canvas.signing_key.kid})
    response = canvas.post_launch(client, state=state, id_token=token)
    assert_refused(response, "algorithm_refused", 403, caplog)


def test_wrong_issuer(client, canvas, caplog):
    state, body = login_and_claims(client, canvas)
    body["iss"] = "https://canvas.evil.example"
    response = canvas.post_launch(client, state=state, id_token=canvas.sign(body))
    assert_refused(response, "unknown_platform", 403, caplog, phrase="not connected")


def test_wrong_audience(client, canvas, caplog):
    """azp names us, but we are not among the audiences."""
    state, body = login_and_claims(client, canvas)
    body["aud"] = ["some-other-tool"]
    response = canvas.post_launch(client, state=state, id_token=canvas.sign(body))
    assert_refused(response, "wrong_audience", 403, caplog, phrase="different tool")


def test_several_audiences_without_azp(client, canvas, caplog):
    state, body = login_and_claims(client, canvas)
    body["aud"] = [canvas.client_id, "some-other-tool"]
    del body["azp"]
    response = canvas.post_launch(client, state=state, id_token=canvas.sign(body))
    assert_refused(response, "wrong_audience", 403, caplog)


def test_azp_of_another_client(client, canvas, caplog):
    state, body = login_and_claims(client, canvas)
    body["aud"] = canvas.client_id
    body["azp"] = "some-other-tool"
    response = canvas.post_launch(client, state=state, id_token=canvas.sign(body))
    assert_refused(response, "unknown_platform", 403, caplog)


def test_expired(client, canvas, caplog):
    state, body = login_and_claims(client, canvas, now=time.time() - 7200)
    response = canvas.post_launch(client, state=state, id_token=canvas.sign(body))
    assert_refused(response, "expired", 403, caplog, phrase="too old")


def test_issued_in_the_future(client, canvas, caplog):
    state, body = login_and_claims(client, canvas)
    body["iat"] = int(time.time()) + 600
    response = canvas.post_launch(client, state=state, id_token=canvas.sign(body))
    assert_refused(response, "issued_in_future", 403, caplog, phrase="dated in the future")


def test_small_clock_skew_is_tolerated(client, canvas):
    state, body = login_and_claims(client, canvas)
    body["iat"] = int(time.time()) + 20
    assert canvas.post_launch(client, state=state, id_token=canvas.sign(body)).status_code == 302


def test_replayed_id_token(client, canvas, caplog):
    first = canvas.launch(client, seed_jwks=False)
    assert first.status_code == 302
    # Replay the very same form post with the state cookie put back (as an attacker with it could).
    client.cookies[f"lti1p3-{canvas.last_state}"] = canvas.last_state
    LaunchContext.objects.all().delete()

    response = canvas.post_launch(client, state=canvas.last_state, id_token=canvas.last_id_token)

    assert_refused(response, "replayed", 403, caplog, phrase="already used")


def test_state_mismatch(client, canvas, caplog):
    _state, body = login_and_claims(client, canvas)
    response = canvas.post_launch(client, state="state-of-another-login", id_token=canvas.sign(body))
    assert_refused(response, "state_mismatch", 403, caplog)


def test_nonce_mismatch(client, canvas, caplog):
    state, body = login_and_claims(client, canvas)
    body["nonce"] = "a-nonce-this-tool-never-issued"
    response = canvas.post_launch(client, state=state, id_token=canvas.sign(body))
    assert_refused(response, "nonce_mismatch", 403, caplog)


def test_unknown_deployment(client, canvas, caplog):
    response = canvas.launch(client, seed_jwks=False, claims={LTI + "deployment_id": "99:unknown"})
    assert_refused(response, "unknown_deployment", 403, caplog, phrase="deployment")
    assert canvas.platform.deployments.count() == 1


def test_inactive_deployment(client, canvas, caplog):
    canvas.platform.deployments.update(active=False)
    response = canvas.launch(client, seed_jwks=False)
    assert_refused(response, "unknown_deployment", 403, caplog)


def test_unknown_client_id(client, canvas, caplog):
    state, body = login_and_claims(client, canvas)
    body["aud"] = body["azp"] = "10000000009999"
    response = canvas.post_launch(client, state=state, id_token=canvas.sign(body))
    assert_refused(response, "unknown_platform", 403, caplog)


def test_inactive_platform(client, canvas, caplog):
    state, body = login_and_claims(client, canvas)
    canvas.platform.active = False
    canvas.platform.save()
    response = canvas.post_launch(client, state=state, id_token=canvas.sign(body))
    assert_refused(response, "unknown_platform", 403, caplog)


def test_unknown_kid_is_refused_after_one_refetch(client, canvas, caplog):
    assert canvas.launch(client, seed_jwks=False).status_code == 302
    assert canvas.jwks_requests == 1
    LaunchContext.objects.all().delete()
    stranger = JWK.generate(kty="RSA", size=2048, kid="not-published")

    state, body = login_and_claims(client, canvas)
    response = canvas.post_launch(client, state=state, id_token=canvas.sign(body, key=stranger))
    assert_refused(response, "unknown_key", 403, caplog)
    assert canvas.jwks_requests == 2  # refetched once

    state, body = login_and_claims(client, canvas)
    response = canvas.post_launch(client, state=state, id_token=canvas.sign(body, key=stranger))
    assert response.status_code == 403
    assert canvas.jwks_requests == 2  # no refetch storm


def test_key_rotation_is_followed_with_one_refetch(client, canvas):
    assert canvas.launch(client, seed_jwks=False).status_code == 302
    assert canvas.jwks_requests == 1
    canvas.rotate_key()

    ctx = canvas.launch_context(client, seed_jwks=False)

    assert ctx.role == "learner"
    assert canvas.jwks_requests == 2
    assert canvas.launch(client, seed_jwks=False).status_code == 302
    assert canvas.jwks_requests == 2  # the refreshed set is cached


def test_missing_roles(client, canvas, caplog):
    response = canvas.launch(client, seed_jwks=False, claims={LTI + "roles": DROP})
    assert_refused(response, "missing_roles", 403, caplog)


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOi.sig", "a.b"])
def test_malformed_jwt(client, canvas, caplog, token):
    state, _ = login_and_claims(client, canvas)
    response = canvas.post_launch(client, state=state, id_token=token)
    assert_refused(response, "malformed_token", 400, caplog)


def test_missing_required_claim(client, canvas, caplog):
    response = canvas.launch(client, seed_jwks=False, claims={"exp": DROP})
    assert_refused(response, "malformed_token", 400, caplog)


def test_oversized_form_post(client, canvas, caplog):
    state, _ = login_and_claims(client, canvas)
    response = canvas.post_launch(client, state=state, id_token="x" * (70 * 1024))
    assert_refused(response, "too_large", 413, caplog)


def test_deep_linking_request_is_not_supported(client, canvas, caplog):
    response = canvas.launch(client, seed_jwks=False, claims={LTI + "message_type": "LtiDeepLinkingRequest"})
    assert_refused(response, "invalid_message", 400, caplog)


def test_launch_without_parameters(client, canvas, caplog):
    assert_refused(client.get("/lti/launch/", secure=True), "missing_parameters", 400, caplog)
    assert_refused(client.post("/lti/launch/", {"state": "x"}, secure=True), "missing_parameters", 400, caplog)


def test_platform_keyset_unreachable(client, canvas, rsps, caplog):
    rsps.replace("GET", canvas.keyset_url, status=503, body="down")
    response = canvas.launch(client, seed_jwks=False)
    assert_refused(response, "keyset_unavailable", 502, caplog, phrase="could not be reached")


def test_blocked_cookies_offer_a_new_window(client, canvas, caplog):
    """Third-party cookies blocked: the launch comes back without our cookies."""
    state, body = login_and_claims(client, canvas)
    client.cookies.clear()

    response = canvas.post_launch(client, state=state, id_token=canvas.sign(body))

    assert_refused(response, "cookies_blocked", 403, caplog, phrase="Open Badges in a new window")
    html = response.content.decode()
    assert 'target="_blank"' in html and "<script" not in html
    link = html.split('href="/lti/login/?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert "login_hint=a-login-hint" in link and "lti1p3_new_window=1" in link
    # The new window starts a fresh login, first-party this time.
    again = client.get("/lti/login/?" + link, secure=True)
    assert again.status_code == 302 and again["Location"].startswith(canvas.auth_login_url)


def test_login_from_an_unknown_platform(client, canvas, caplog):
    response, _, _ = canvas.login(client, iss="https://canvas.evil.example")
    assert_refused(response, "unknown_platform", 403, caplog)


def test_login_with_an_unknown_client_id(client, canvas, caplog):
    response, _, _ = canvas.login(client, client_id="10000000009999")
    assert_refused(response, "unknown_platform", 403, caplog)


def test_login_without_login_hint(client, canvas, caplog):
    response, _, _ = canvas.login(client, login_hint=DROP)
    assert_refused(response, "missing_parameters", 400, caplog)


def test_nothing_is_written_by_refusals(client, canvas):
    canvas.launch(client, seed_jwks=False, claims={LTI + "deployment_id": "99:unknown"})
    assert not Course.objects.exists() and not Person.objects.exists()


def test_platform_calls_have_a_timeout(client, canvas, rsps, settings):
    settings.LTI_HTTP_TIMEOUT = 4.5
    assert canvas.launch(client, seed_jwks=False).status_code == 302
    (call,) = [c for c in rsps.calls if c.request.url == canvas.keyset_url]
    assert call.request.req_kwargs["timeout"] == 4.5


def test_platform_keyset_timeout_is_a_clear_error(client, canvas, rsps, caplog):
    import requests

    rsps.replace("GET", canvas.keyset_url, body=requests.exceptions.ReadTimeout("slow"))
    response = canvas.launch(client, seed_jwks=False)
    assert_refused(response, "keyset_unavailable", 502, caplog)


def test_oidc_error_response_from_the_platform(client, canvas, caplog):
    _, state, _ = canvas.login(client)
    response = client.post(
        "/lti/launch/",
        {"state": state, "error": "login_required", "error_description": "<b>Not signed in</b>"},
        secure=True,
    )
    assert_refused(response, "platform_error", 400, caplog, phrase="Canvas said: “&lt;b&gt;Not signed in&lt;/b&gt;”")
