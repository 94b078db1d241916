"""LTI Dynamic Registration 1.0 (the tool side), as Canvas implements it (doc/api/registration.md).

Canvas opens GET /lti/register/?openid_configuration=…&registration_token=… in an iframe; the tool
reads the platform's OpenID configuration, posts its own registration, records the Platform and
asks Canvas to close the dialog. Anyone can reach this URL, so what it records is pending (trusted
nowhere) until an admin approves it, unless it came through an admin's one-time link; it never
overwrites an existing registration; every URL it fetches goes through the guarded outbound client.
"""

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from lti import config
from lti.errors import Refused
from lti.models import Platform
from lti.platform_http import body_within, http_session
from lti.services.platforms import platform_create_registered, platforms_pending_full, registration_invite_find
from skillsforward.outbound import OutboundRefused, url_check

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 1024 * 1024
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
REQUIRED_OPENID_FIELDS = ("issuer", "authorization_endpoint", "registration_endpoint", "jwks_uri", "token_endpoint")


@dataclass(frozen=True)
class RegistrationResult:
    platform: Platform
    deployment_id: str


def _check_url(url: str, what: str) -> str:
    """Refuses, before anything is fetched, a URL the guarded client would not reach: anyone who can
    open /lti/register/ chooses these URLs (and the key set and token URLs used later)."""
    try:
        url_check(url or "")
    except OutboundRefused as exc:
        raise Refused("registration_failed", f"{what}: {exc}") from exc
    return url


def _fetch(method: str, url: str, what: str, **kwargs) -> dict:
    """One bounded request through the guarded client (no redirects, checked addresses), at most
    MAX_RESPONSE_BYTES read, a JSON object back."""
    try:
        with http_session().request(method, url, stream=True, **kwargs) as response:
            body = body_within(response, limit=MAX_RESPONSE_BYTES)
            if body is None:
                raise Refused("registration_failed", f"{what}: response larger than {MAX_RESPONSE_BYTES} bytes")
    except requests.RequestException as exc:
        raise Refused("registration_failed", f"{what}: {exc}") from exc
    response._content = body
    return _json(response, what)


def _json(response: requests.Response, what: str) -> dict:
    if response.status_code >= 400:
        raise Refused("registration_failed", f"{what}: HTTP {response.status_code} {response.text[:300]}")
    try:
        data = response.json()
    except ValueError as exc:
        raise Refused("registration_failed", f"{what}: not JSON") from exc
    if not isinstance(data, dict):
        raise Refused("registration_failed", f"{what}: not a JSON object")
    return data


def registration_deployment_id(answer: dict) -> str:
    """The deployment Canvas created with the registration: at the top level of its answer
    (render_registration), or inside the tool configuration (IMS Dynamic Registration §3.6)."""
    tool_conf = answer.get(TOOL_CONFIGURATION)
    for source in (answer, tool_conf if isinstance(tool_conf, dict) else {}):
        value = source.get("deployment_id")
        if isinstance(value, (str, int)) and str(value).strip():
            return str(value).strip()
    return ""


def platform_register_dynamic(
    *,
    openid_configuration_url: str,
    registration_token: str,
    base_url: str,
    requested_ip: str | None = None,
    requested_with: str = "",
    invite_token: str = "",
) -> RegistrationResult:
    """Runs the whole registration exchange; raises Refused (nothing recorded) when any step fails.

    The platform is recorded pending (trusted nowhere until an admin approves it), or approved when
    the registration came through an admin's one-time link (`invite_token`).
    """
    invite = registration_invite_find(token=invite_token) if invite_token else None
    if invite is None and platforms_pending_full():
        # Refused before this server fetches anything for an anonymous caller.
        raise Refused("registrations_full", "too many registrations wait for approval")
    _check_url(openid_configuration_url, "openid_configuration")
    auth = {"Authorization": f"Bearer {registration_token}"} if registration_token else {}
    headers = {"Accept": "application/json", **auth}
    openid = _fetch("GET", openid_configuration_url, "OpenID configuration", headers=headers)
    missing = [f for f in REQUIRED_OPENID_FIELDS if not isinstance(openid.get(f), str) or not openid.get(f)]
    if missing:
        raise Refused("registration_failed", f"OpenID configuration lacks {missing}")
    for field in REQUIRED_OPENID_FIELDS:
        _check_url(openid[field], field)
    algs = openid.get("id_token_signing_alg_values_supported")
    if isinstance(algs, list) and "RS256" not in algs:
        raise Refused("registration_failed", f"platform does not sign with RS256: {algs}")
    platform_conf = openid.get(PLATFORM_CONFIGURATION)
    if not isinstance(platform_conf, dict):
        platform_conf = {}
    scopes_supported = openid.get("scopes_supported")

    body = config.registration_request(
        base_url=base_url, scopes_supported=scopes_supported if isinstance(scopes_supported, list) else None
    )
    answer = _fetch("POST", openid["registration_endpoint"], "registration", json=body, headers=headers)
    client_id = str(answer.get("client_id") or "").strip()
    if not client_id:
        raise Refused("registration_failed", "the registration answer has no client_id")
    deployment_id = registration_deployment_id(answer)

    issuer = openid["issuer"].rstrip("/")
    origin = urlsplit(openid_configuration_url)
    name = str(platform_conf.get("https://canvas.instructure.com/lti/account_name") or "")
    platform = platform_create_registered(
        issuer=issuer,
        client_id=client_id,
        deployment_id=deployment_id,
        api_base_url=registration_api_base_url(
            openid_configuration_url=openid_configuration_url, issuer=issuer, platform_conf=platform_conf
        ),
        name=name or origin.netloc,
        auth_login_url=openid["authorization_endpoint"],
        auth_token_url=openid["token_endpoint"],
        keyset_url=openid["jwks_uri"],
        requested_ip=requested_ip,
        requested_with=requested_with,
        invite=invite,
    )
    logger.info(
        "lti dynamic registration (%s): %s client_id=%s deployment=%s from %s",
        platform.status,
        issuer,
        client_id,
        deployment_id or "(first launch)",
        requested_ip or "?",
    )
    return RegistrationResult(platform=platform, deployment_id=deployment_id)


def registration_api_base_url(*, openid_configuration_url: str, issuer: str, platform_conf: dict) -> str:
    """Canvas's REST base as far as registration can tell; "" when it cannot.

    Hosted Canvas serves the OpenID configuration on its LTI issuer host (https://canvas.instructure.com
    for every customer; app/controllers/lti/ims/dynamic_registration_controller.rb
    `oidc_configuration_url` uses the issuer's host outside development), so that host says nothing
    about the institution's. Only a configuration served from another host than the issuer's is
    the institution's own Canvas. A signed launch's $Canvas.api.baseUrl fills or corrects this
    (lti.services.launches.launch_record).
    """
    if platform_conf.get("product_family_code") != "canvas":
        return ""
    origin = urlsplit(openid_configuration_url)
    if not origin.netloc or origin.netloc == urlsplit(issuer).netloc:
        return ""
    return f"{origin.scheme}://{origin.netloc}"
