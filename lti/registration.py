"""LTI Dynamic Registration 1.0 (the tool side), as Canvas implements it (doc/api/registration.md).

Canvas opens GET /lti/register/?openid_configuration=…&registration_token=… in an iframe; the tool
reads the platform's OpenID configuration, posts its own registration, records the Platform and
asks Canvas to close the dialog. A registration never overwrites an existing one: otherwise anyone
who can reach this URL could re-point a live registration at keys of their own.
"""

import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction

from lti import config, services
from lti.adapter import body_within, http_session
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


def _internal_address(host: str) -> str:
    """The first address of `host` that is not on the public internet, or "" if there is none.

    Anyone who can reach /lti/register/ chooses the URLs this server then fetches (and later uses as
    the platform's key set and token endpoint): they must not point it at the cloud metadata
    service, localhost or the campus network behind the firewall. A name that does not resolve is
    left to fail when it is fetched.
    """
    try:
        candidates = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return ""
        candidates = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in candidates:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            return str(address)
    return ""


def _check_url(url: str, what: str) -> str:
    parts = urlsplit(url or "")
    local_ok = settings.DEBUG or settings.SANDBOX_ENABLED  # the local Canvas stand-in speaks http on localhost
    if not parts.hostname or parts.scheme not in (("https", "http") if local_ok else ("https",)):
        raise Refused("registration_failed", f"{what} is not an https URL: {url!r}")
    if not local_ok and (address := _internal_address(parts.hostname)):
        raise Refused("registration_failed", f"{what} points at a non-public address ({address}): {url!r}")
    return url


def _fetch(method: str, url: str, what: str, **kwargs) -> dict:
    """One bounded request: no redirects (each URL is checked before it is fetched), at most
    MAX_RESPONSE_BYTES read, a JSON object back."""
    try:
        with http_session().request(method, url, allow_redirects=False, stream=True, **kwargs) as response:
            body = body_within(response, limit=MAX_RESPONSE_BYTES)
            if body is None:
                raise Refused("registration_failed", f"{what}: response larger than {MAX_RESPONSE_BYTES} bytes")
    except requests.RequestException as exc:
        raise Refused("registration_failed", f"{what}: {exc}") from exc
    if response.is_redirect:
        raise Refused("registration_failed", f"{what}: redirected to {response.headers.get('Location')!r}")
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


def platform_register_dynamic(
    *, openid_configuration_url: str, registration_token: str, base_url: str
) -> RegistrationResult:
    """Runs the whole registration exchange; raises Refused (nothing recorded) when any step fails."""
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
    tool_conf = answer.get(TOOL_CONFIGURATION) or {}
    deployment_id = str(tool_conf.get("deployment_id") or "").strip() if isinstance(tool_conf, dict) else ""

    issuer = openid["issuer"].rstrip("/")
    origin = urlsplit(openid_configuration_url)
    is_canvas = platform_conf.get("product_family_code") == "canvas"
    api_base_url = f"{origin.scheme}://{origin.netloc}" if is_canvas else ""
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
