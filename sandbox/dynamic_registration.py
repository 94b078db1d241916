"""LTI Dynamic Registration as Canvas implements it (IMS LTI Dynamic Registration 1.0): the
platform's OpenID configuration, the address Canvas opens to register a tool by URL, and the
installation of the tool from its registration request."""

import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core import signing

from sandbox.models import SandboxInstance
from sandbox.platform import LTI_SCOPES, PlatformError

REGISTRATION_SALT = "sandbox.lti_registration_token"
REGISTRATION_TOKEN_LIFETIME = 3600  # Canvas: REGISTRATION_TOKEN_EXPIRATION = 1.hour
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"


def registration_start(*, instance: SandboxInstance, tool_registration_url: str) -> str:
    """The address Canvas opens when an admin registers a tool by URL: the tool's registration URL
    with `openid_configuration` (on the issuer's host) and a one-hour `registration_token` added to
    its own query (dynamic_registration_controller.rb `registration_token`, `oidc_configuration_url`)."""
    token = signing.dumps({"i": instance.id, "u": secrets.token_hex(8)}, salt=REGISTRATION_SALT)
    openid_url = f"{instance.openid_configuration_url}?{urlencode({'registration_token': token})}"
    parts = urlsplit(tool_registration_url)
    query = [*parse_qsl(parts.query), ("openid_configuration", openid_url), ("registration_token", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def registration_token_read(*, instance: SandboxInstance, token: str) -> None:
    try:
        data = signing.loads(token, salt=REGISTRATION_SALT, max_age=REGISTRATION_TOKEN_LIFETIME)
    except signing.BadSignature:
        raise PlatformError("the registration token is not valid or has expired")
    if data.get("i") != instance.id:
        raise PlatformError("the registration token is for another Canvas")


def openid_configuration(*, instance: SandboxInstance) -> dict:
    """The platform's OpenID configuration, in Canvas's shape: issuer, endpoints, and the
    lti-platform-configuration with product_family_code "canvas"."""
    return {
        "issuer": instance.issuer,
        "authorization_endpoint": instance.auth_login_url,
        "registration_endpoint": instance.registration_endpoint,
        "jwks_uri": instance.keyset_url,
        "token_endpoint": instance.auth_token_url,
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", *sorted(LTI_SCOPES)],
        "response_types_supported": ["id_token"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "picture", "email", "name", "given_name", "family_name", "locale"],
        "subject_types_supported": ["public"],
        "authorization_server": urlsplit(instance.issuer).netloc,
        PLATFORM_CONFIGURATION: {
            "product_family_code": "canvas",
            "version": "sandbox",
            "messages_supported": [{"type": "LtiResourceLinkRequest"}],
            "https://canvas.instructure.com/lti/account_name": instance.name,
        },
    }


REQUIRED_REGISTRATION = {
    "application_type": "web",
    "token_endpoint_auth_method": "private_key_jwt",
}


def registration_create(*, instance: SandboxInstance, body: dict) -> dict:
    """Installs the tool in this Canvas from its registration request and answers as Canvas does
    (render_registration): client_id, the registration echoed, and the deployment created with it,
    at the top level as well as in the tool configuration."""
    for key, value in REQUIRED_REGISTRATION.items():
        if body.get(key) != value:
            raise PlatformError(f"{key} must be {value!r}")
    if not {"client_credentials", "implicit"} <= set(body.get("grant_types") or []):
        raise PlatformError("grant_types must include client_credentials and implicit")
    if "id_token" not in (body.get("response_types") or []):
        raise PlatformError("response_types must include id_token")
    if not isinstance(body.get("scope"), str):
        raise PlatformError("scope is required (a space-separated string, possibly empty)")
    redirect_uris = body.get("redirect_uris") or []
    tool_conf = body.get(TOOL_CONFIGURATION)
    if not redirect_uris or not body.get("initiate_login_uri") or not body.get("jwks_uri"):
        raise PlatformError("redirect_uris, initiate_login_uri and jwks_uri are required")
    if not isinstance(tool_conf, dict):
        raise PlatformError(f"{TOOL_CONFIGURATION} is required")
    custom = tool_conf.get("custom_parameters")
    instance.tool_login_url = body["initiate_login_uri"]
    instance.tool_launch_url = tool_conf.get("target_link_uri") or redirect_uris[0]
    instance.tool_jwks_url = body["jwks_uri"]
    instance.tool_custom_fields = custom if isinstance(custom, dict) else {}
    instance.tool_name = str(body.get("client_name") or instance.tool_name)[:100]
    instance.save(
        update_fields=["tool_login_url", "tool_launch_url", "tool_jwks_url", "tool_custom_fields", "tool_name"]
    )
    scopes = [s for s in body["scope"].split() if s in LTI_SCOPES]
    return {
        "client_id": instance.client_id,
        "deployment_id": instance.deployment_id,
        "application_type": body["application_type"],
        "grant_types": body["grant_types"],
        "initiate_login_uri": body["initiate_login_uri"],
        "redirect_uris": redirect_uris,
        "response_types": body["response_types"],
        "client_name": body.get("client_name"),
        "jwks_uri": body["jwks_uri"],
        "token_endpoint_auth_method": body["token_endpoint_auth_method"],
        "scope": " ".join(scopes),
        TOOL_CONFIGURATION: {**tool_conf, "deployment_id": instance.deployment_id},
    }
