"""LTI Dynamic Registration 1.0 (the tool side), as Canvas implements it (doc/api/registration.md).

Canvas opens GET /lti/register/?openid_configuration=…&registration_token=… in an iframe; the tool
reads the platform's OpenID configuration, posts its own registration, records the Platform and
asks Canvas to close the dialog. A registration never overwrites an existing one: otherwise anyone
who can reach this URL could re-point a live registration at keys of their own.
"""

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction

from lti import config, services
from lti.adapter import http_session
from lti.errors import Refused
from lti.models import Platform

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
    parts = urlsplit(url or "")
    plain_http_ok = settings.DEBUG or settings.SANDBOX_ENABLED  # the local Canvas stand-in speaks http
    if not parts.netloc or parts.scheme not in (("https", "http") if plain_http_ok else ("https",)):
        raise Refused("registration_failed", f"{what} is not an https URL: {url!r}")
    return url


def _json(response: requests.Response, what: str) -> dict:
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise Refused("registration_failed", f"{what}: response larger than {MAX_RESPONSE_BYTES} bytes")
    if response.status_code >= 400:
        raise Refused("registration_failed", f"{what}: HTTP {response.status_code} {response.text[:300]}")
    try:
        data = response.json()
    except ValueError as exc:
        raise Refused("registration_failed", f"{what}: not JSON") from exc
    if not isinstance(data, dict):
        raise Refused("registration_failed", f"{what}: not a JSON object")
    return data


def platform_register_dynamic(
    *, openid_configuration_url: str, registration_token: str, base_url: str
) -> RegistrationResult:
    """Runs the whole registration exchange; raises Refused (nothing recorded) when any step fails."""
    _check_url(openid_configuration_url, "openid_configuration")
    session = http_session()
    auth = {"Authorization": f"Bearer {registration_token}"} if registration_token else {}
    try:
        openid = _json(
            session.get(openid_configuration_url, headers={"Accept": "application/json", **auth}),
            "OpenID configuration",
        )
    except requests.RequestException as exc:
        raise Refused("registration_failed", f"OpenID configuration: {exc}") from exc
    missing = [f for f in REQUIRED_OPENID_FIELDS if not isinstance(openid.get(f), str) or not openid.get(f)]
    if missing:
        raise Refused("registration_failed", f"OpenID configuration lacks {missing}")
    for field in REQUIRED_OPENID_FIELDS:
        _check_url(openid[field], field)
    algs = openid.get("id_token_signing_alg_values_supported")
    if isinstance(algs, list) and "RS256" not in algs:
        raise Refused("registration_failed", f"platform does not sign with RS256: {algs}")
    platform_conf = openid.get(PLATFORM_CONFIGURATION) or {}
    scopes_supported = openid.get("scopes_supported")

    body = config.registration_request(
        base_url=base_url, scopes_supported=scopes_supported if isinstance(scopes_supported, list) else None
    )
    try:
        answer = _json(
            session.post(
                openid["registration_endpoint"],
                json=body,
                headers={"Accept": "application/json", **auth},
            ),
            "registration",
        )
    except requests.RequestException as exc:
        raise Refused("registration_failed", f"registration: {exc}") from exc
    client_id = str(answer.get("client_id") or "").strip()
    if not client_id:
        raise Refused("registration_failed", "the registration answer has no client_id")
    tool_conf = answer.get(TOOL_CONFIGURATION) or {}
    deployment_id = str(tool_conf.get("deployment_id") or "").strip() if isinstance(tool_conf, dict) else ""

    issuer = openid["issuer"].rstrip("/")
    origin = urlsplit(openid_configuration_url)
    api_base_url = (
        f"{origin.scheme}://{origin.netloc}"
        if isinstance(platform_conf, dict) and platform_conf.get("product_family_code") == "canvas"
        else ""
    )
    name = ""
    if isinstance(platform_conf, dict):
        name = str(platform_conf.get("https://canvas.instructure.com/lti/account_name") or "")
    with transaction.atomic():
        if Platform.objects.filter(issuer=issuer, client_id=client_id).exists():
            raise Refused("registration_exists", f"{issuer} client_id={client_id} is already registered")
        platform = services.platform_upsert(
            issuer=issuer,
            client_id=client_id,
            deployment_ids=[deployment_id] if deployment_id else [],
            api_base_url=api_base_url,
            name=name or origin.netloc,
            auth_login_url=openid["authorization_endpoint"],
            auth_token_url=openid["token_endpoint"],
            keyset_url=openid["jwks_uri"],
            registered_via="dynamic",
        )
        if not deployment_id:
            platform.accept_new_deployments = True
            platform.save(update_fields=["accept_new_deployments", "updated_at"])
    logger.info(
        "lti dynamic registration: %s client_id=%s deployment=%s (API token still to be added)",
        issuer,
        client_id,
        deployment_id or "(first launch)",
    )
    return RegistrationResult(platform=platform, deployment_id=deployment_id)
