"""The only module that touches pylti1p3: tool configuration from our models, OIDC login, launch.

pylti1p3 2.0.0 leaves gaps that this module closes (reference/lti-canvas.md §A):
- every HTTP call goes through the guarded outbound client (skillsforward.outbound): a timeout,
  no redirects, no internal addresses, the checked address is the one connected to;
- the platform JWKS is cached in the Django cache and refetched once when a token names an
  unknown `kid` (Canvas rotates its keys);
- only RS256/384/512 are accepted (never `none` or HMAC), `aud` must contain our client_id and
  `azp`, when present or when `aud` lists several audiences, must equal it; exp/iat are checked
  with a small leeway;
- the nonce is single-use (an atomic `cache.add`), so a replayed id_token is refused;
- the nonce is bound to the state of its login: pylti1p3 accepts any nonce it issued, so an
  id_token from another login of the same browser (another tab, another course) would pass with
  this login's state; the login step records which nonce went with which state, the launch step
  requires the id_token's nonce to be that one;
- several registrations may share one issuer (Canvas cloud): lookups are always by iss + client_id.
"""

import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from django.conf import settings
from django.core.cache import cache
from pylti1p3.contrib.django import DjangoCacheDataStorage, DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.contrib.django.request import DjangoRequest
from pylti1p3.deployment import Deployment as PyltiDeployment
from pylti1p3.exception import LtiException, LtiServiceException, OIDCException
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector
from pylti1p3.tool_config.abstract import ToolConfAbstract

from lti import selectors, services
from lti.claims import LTI
from lti.errors import Refused
from lti.models import Platform
from skillsforward.outbound import GuardedSession, outbound_session

logger = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512")
CLOCK_LEEWAY_SECONDS = 60
MAX_LAUNCH_BYTES = 64 * 1024
LOGIN_STATE_SECONDS = 600
PLATFORM_JWKS_CACHE_SECONDS = 3600
# At most one forced JWKS refetch per key set URL in this window: a flood of tokens naming
# random kids must not turn into a flood of requests to Canvas.
JWKS_REFETCH_MIN_INTERVAL_SECONDS = 10
# A key set is a few KB (Canvas publishes three keys); a registration made through open dynamic
# registration chooses its own key set URL, so its answer must not be able to fill our memory.
MAX_KEYSET_BYTES = 256 * 1024
TOKEN_EXPIRY_MARGIN_SECONDS = 60
LOGIN_PARAMS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "lti_deployment_id", "client_id")
COOKIE_PREFIX = "lti1p3-"


def http_session() -> GuardedSession:
    """A session for calls to a platform (key sets, tokens, services): the guarded outbound client
    (checked and pinned addresses, no redirects), and every request times out."""
    return outbound_session(timeout=settings.LTI_HTTP_TIMEOUT)


def body_within(response: requests.Response, *, limit: int) -> bytes | None:
    """The body of a streamed response, or None as soon as it passes `limit` bytes: a URL chosen
    by whoever registers a platform must not be able to fill our memory."""
    body = b""
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > limit:
            return None
    return body


# --- Tool configuration from our models ------------------------------------------------------------


class DbToolConf(ToolConfAbstract):
    """pylti1p3 registrations built from Platform/Deployment/ToolKey rows.

    Always "many client ids per issuer": Canvas cloud uses one issuer for every institution.
    """

    def __init__(self) -> None:
        super().__init__()
        self.platforms: dict[tuple[str, str], Platform] = {}

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def platform(self, iss: str, client_id: str | None) -> Platform | None:
        key = (iss, client_id or "")
        if key not in self.platforms:
            found = selectors.platform_for_launch(issuer=iss, client_id=client_id)
            if found is None:
                return None
            self.platforms[key] = found
        return self.platforms[key]

    def _registration(self, platform: Platform) -> Registration:
        reg = DbRegistration()
        reg.set_issuer(platform.issuer).set_client_id(platform.client_id)
        reg.set_auth_login_url(platform.auth_login_url).set_auth_token_url(platform.auth_token_url)
        reg.set_key_set_url(platform.keyset_url).set_key_set(None)
        if platform.auth_audience:
            reg.set_auth_audience(platform.auth_audience)
        return reg

    def find_registration_by_issuer(self, iss: str, *args, **kwargs):
        platform = self.platform(iss, None)
        return self._registration(platform) if platform else None

    def find_registration_by_params(self, iss: str, client_id: str, *args, **kwargs):
        platform = self.platform(iss, client_id)
        return self._registration(platform) if platform else None

    def find_deployment(self, iss: str, deployment_id: str):
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str | None, *args, **kwargs):
        platform = self.platform(iss, client_id)
        if platform is None:
            return None
        known = platform.deployments.filter(deployment_id=deployment_id, active=True).exists()
        if not known and not platform.accept_new_deployments:
            return None
        return PyltiDeployment().set_deployment_id(deployment_id)

    def get_jwks(self, iss: str | None = None, client_id: str | None = None, **kwargs):
        return selectors.tool_jwks()


class DbRegistration(Registration):
    """A registration whose tool signing key (our current ToolKey) is read when something signs with
    it (LTI services, a client assertion), not for every OIDC login and launch, which never do."""

    _tool_key_loaded = False

    def _tool_key_load(self) -> None:
        if not self._tool_key_loaded:
            key = services.tool_key_current()
            self.set_tool_private_key(key.private_key_pem)
            self.set_tool_public_key(_public_pem(json.dumps(key.public_jwk, sort_keys=True)))
            self._tool_key_loaded = True

    def get_tool_private_key(self):
        self._tool_key_load()
        return super().get_tool_private_key()

    def get_tool_public_key(self):
        self._tool_key_load()
        return super().get_tool_public_key()


@lru_cache(maxsize=16)
def _public_pem(public_jwk_json: str) -> str:
    from jwcrypto.jwk import JWK

    return JWK(**json.loads(public_jwk_json)).export_to_pem().decode()


def service_registration(*, platform: Platform) -> Registration:
    """A pylti1p3 Registration for LTI services (NRPS, AGS) called from workers, without a launch;
    only for a trusted (approved, active) platform."""
    if not platform.is_trusted:
        raise LtiException(f"{platform} is not an approved, active platform")
    return DbToolConf()._registration(platform)


class CachedTokenServiceConnector(ServiceConnector):
    """pylti1p3's ServiceConnector with its two service gaps closed:

    - the access token is kept in the shared cache until shortly before it expires, instead of
      being fetched anew by every connector (each get_nrps()/get_ags() makes one), which has
      rate-limited tools on Canvas;
    - the next-page URL from `Link` keeps its case (Canvas page bookmarks are case-sensitive).
    A 401 drops the cached token and retries once (the platform may have revoked it).
    """

    def __init__(self, registration: Registration, platform: Platform):
        super().__init__(registration, http_session())
        self.platform = platform

    def _token_cache_key(self, scopes) -> str:
        digest = hashlib.sha256("|".join(sorted(scopes)).encode()).hexdigest()[:32]
        return f"lti:service-token:{self.platform.pk}:{self.platform.client_id}:{digest}"

    def get_access_token(self, scopes) -> str:
        """An OAuth2 client-credentials token (LTI Security Framework §4.1, RFC 7523 assertion)."""
        key = self._token_cache_key(scopes)
        token = cache.get(key)
        if token:
            return token
        reg = self._registration
        token_url = reg.get_auth_token_url()
        if not token_url:
            raise LtiException(f"{self.platform} has no token URL")
        now = int(time.time())
        assertion = {
            "iss": reg.get_client_id(),
            "sub": reg.get_client_id(),
            "aud": reg.get_auth_audience() or token_url,
            "iat": now - 5,
            "exp": now + 60,
            "jti": f"sfb-{uuid.uuid4()}",
        }
        private_key = reg.get_tool_private_key()
        if not private_key:
            raise LtiException("no tool key to sign the client assertion")
        signed = jwt.encode(assertion, private_key, algorithm="RS256", headers={"kid": reg.get_kid()})
        response = self._requests_session.post(
            token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": signed,
                "scope": " ".join(scopes),
            },
        )
        if not response.ok:
            raise LtiServiceException(response)
        body = response.json()
        token = body["access_token"]
        try:
            expires_in = int(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            expires_in = 3600
        cache.set(key, token, max(expires_in - TOKEN_EXPIRY_MARGIN_SECONDS, 30))
        return token

    def make_service_request(self, scopes, url, is_post=False, data=None, content_type="application/json",
                             accept="application/json", case_insensitive_headers=False):  # fmt: skip
        try:
            result = super().make_service_request(
                scopes, url, is_post, data, content_type, accept, case_insensitive_headers=True
            )
        except LtiServiceException as exc:
            if getattr(exc, "response", None) is None or exc.response.status_code != 401:
                raise
            cache.delete(self._token_cache_key(scopes))
            result = super().make_service_request(
                scopes, url, is_post, data, content_type, accept, case_insensitive_headers=True
            )
        headers = result["headers"]
        match = re.search(r'<([^>]*)>;\s*rel="next"', str(headers.get("link", "")).replace("\n", " "), re.IGNORECASE)
        result["next_page_url"] = match.group(1) if match else None
        if not case_insensitive_headers:
            result["headers"] = dict(headers)
        return result


def service_connector(*, platform: Platform) -> CachedTokenServiceConnector:
    """A connector for LTI Advantage services (NRPS, AGS) of this platform, usable from workers:
    ``NamesRolesProvisioningService(service_connector(platform=p), {"context_memberships_url": url})``."""
    return CachedTokenServiceConnector(service_registration(platform=platform), platform)


# --- Platform key sets ------------------------------------------------------------------------------


def _url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def _keyset_cache_key(url: str) -> str:
    return f"lti:platform-jwks:{_url_hash(url)}"


def platform_keyset(url: str, *, refresh: bool = False) -> tuple[dict, bool]:
    """The platform's JWKS and whether it was fetched just now (else it came from the cache)."""
    if not refresh:
        cached = cache.get(_keyset_cache_key(url))
        if cached:
            return cached, False
    try:
        with http_session().get(url, headers={"Accept": "application/json"}, stream=True) as response:
            response.raise_for_status()
            body = body_within(response, limit=MAX_KEYSET_BYTES)
            if body is None:
                raise Refused("keyset_unavailable", f"GET {url}: larger than {MAX_KEYSET_BYTES} bytes")
        keyset = json.loads(body)
    except (requests.RequestException, ValueError) as exc:
        raise Refused("keyset_unavailable", f"GET {url}: {exc}") from exc
    if not isinstance(keyset, dict) or not isinstance(keyset.get("keys"), list):
        raise Refused("keyset_unavailable", f"GET {url}: not a JWKS")
    platform_keyset_store(url, keyset)
    return keyset, True


def platform_keyset_store(url: str, keyset: dict) -> None:
    """Caches a platform JWKS (also how tests and the sandbox can pre-seed a key set)."""
    cache.set(_keyset_cache_key(url), keyset, PLATFORM_JWKS_CACHE_SECONDS)


def _find_key(keyset: dict, kid: str, alg: str):
    for jwk in keyset["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kid") != kid or jwk.get("kty") != "RSA":
            continue
        if jwk.get("alg", alg) != alg or jwk.get("use", "sig") != "sig":
            continue
        try:
            return _public_key(json.dumps(jwk, sort_keys=True), alg)
        except jwt.PyJWKError as exc:
            raise Refused("unknown_key", f"kid {kid} is not a usable RSA key: {exc}") from exc
    return None


@lru_cache(maxsize=64)
def _public_key(jwk_json: str, alg: str):
    # Building an RSA key from its JWK costs more than checking a signature with it; a platform
    # signs with one key for weeks. Keyed by the whole JWK, so a changed key is built afresh.
    return jwt.PyJWK(json.loads(jwk_json), algorithm=alg).key


def platform_signing_key(url: str, *, kid: str, alg: str):
    """The platform's public key for this kid; one forced refetch when the cached set lacks it."""
    keyset, fresh = platform_keyset(url)
    key = _find_key(keyset, kid, alg)
    if (
        key is None
        and not fresh
        and cache.add(f"lti:jwks-refetch:{_url_hash(url)}", 1, JWKS_REFETCH_MIN_INTERVAL_SECONDS)
    ):
        logger.info("lti: kid %s not in the cached key set of %s: refetching once", kid, url)
        keyset, _ = platform_keyset(url, refresh=True)
        key = _find_key(keyset, kid, alg)
    if key is None:
        raise Refused("unknown_key", f"kid {kid} ({alg}) not in {url}")
    return key


# --- Launch -------------------------------------------------------------------------------------------


class BadgesMessageLaunch(DjangoMessageLaunch):
    """DjangoMessageLaunch with the checks pylti1p3 lacks; every failure raises Refused."""

    def get_client_id(self) -> str:
        body = self._jwt.get("body", {})
        azp = body.get("azp")
        if isinstance(azp, str) and azp:
            return azp
        aud = body.get("aud")
        if isinstance(aud, list):
            return aud[0] if aud and isinstance(aud[0], str) else ""
        return aud if isinstance(aud, str) else ""

    def validate(self):
        if self._restored:
            raise LtiException("Can't validate restored launch")
        self._validated = True
        try:
            self.validate_jwt_format()
            self.validate_nonce()
            self.validate_registration()
            self.validate_jwt_signature()
            self.consume_nonce()
            self.validate_deployment()
            self.validate_message()
        except Exception:
            self._validated = False
            raise
        return self

    def validate_jwt_format(self):
        try:
            super().validate_jwt_format()
        except LtiException as exc:
            raise Refused("malformed_token", str(exc)) from exc
        header, body = self._jwt.get("header"), self._jwt.get("body")
        if not isinstance(header, dict) or not isinstance(body, dict):
            raise Refused("malformed_token", "header or body is not a JSON object")
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise Refused("algorithm_refused", f"alg {header.get('alg')!r}")
        if not isinstance(header.get("kid"), str) or not header["kid"]:
            raise Refused("malformed_token", "no kid in the JWT header")
        return self

    # The SHA-256 of the nonce issued with the posted state (set by launch_validate).
    expected_nonce_digest: str | None = None

    def validate_nonce(self):
        try:
            super().validate_nonce()
        except LtiException as exc:
            raise Refused("nonce_mismatch", str(exc)) from exc
        nonce = str(self._jwt["body"].get("nonce") or "")
        if not self.expected_nonce_digest or not hmac.compare_digest(
            hashlib.sha256(nonce.encode()).hexdigest(), self.expected_nonce_digest
        ):
            raise Refused("nonce_mismatch", "the id_token's nonce was not issued with the posted state")
        return self

    def validate_registration(self):
        body = self._jwt["body"]
        iss, client_id = body.get("iss"), self.get_client_id()
        if not isinstance(iss, str) or not iss or not client_id:
            raise Refused("malformed_token", "iss or aud missing")
        platform = self._tool_config.platform(iss, client_id)
        if platform is None:
            raise Refused("unknown_platform", f"iss={iss} client_id={client_id}")
        self._registration = self._tool_config._registration(platform)
        self.platform = platform
        return self

    def validate_jwt_signature(self):
        header = self._jwt["header"]
        key = platform_signing_key(self.platform.keyset_url, kid=header["kid"], alg=header["alg"])
        try:
            verified = jwt.decode(
                self._get_id_token(),
                key,
                algorithms=[header["alg"]],
                audience=self.platform.client_id,
                issuer=self.platform.issuer,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Refused("expired", str(exc)) from exc
        except jwt.ImmatureSignatureError as exc:
            raise Refused("issued_in_future", str(exc)) from exc
        except jwt.InvalidAudienceError as exc:
            raise Refused("wrong_audience", f"{exc}; aud={self._jwt['body'].get('aud')!r}") from exc
        except jwt.InvalidIssuerError as exc:
            raise Refused("wrong_issuer", str(exc)) from exc
        except jwt.InvalidSignatureError as exc:
            raise Refused("bad_signature", str(exc)) from exc
        except jwt.InvalidTokenError as exc:  # a required claim missing, a bad format, ...
            raise Refused("malformed_token", str(exc)) from exc
        aud = verified["aud"]
        azp = verified.get("azp")
        if azp is not None and azp != self.platform.client_id:
            raise Refused("wrong_audience", f"azp={azp!r}")
        if isinstance(aud, list) and len(aud) > 1 and azp is None:
            raise Refused("wrong_audience", "several audiences and no azp")
        self._jwt["body"] = cast(Any, verified)  # from here on, only the verified claims
        return self

    def consume_nonce(self):
        """A nonce admits one launch: the atomic cache.add is the lock across web processes."""
        body = cast(dict[str, Any], self._jwt["body"])
        digest = hashlib.sha256(f"{body['iss']}|{self.platform.client_id}|{body['nonce']}".encode()).hexdigest()
        lifetime = max(int(body["exp"] - time.time()) + CLOCK_LEEWAY_SECONDS, CLOCK_LEEWAY_SECONDS)
        if not cache.add(f"lti:nonce-used:{digest}", 1, min(lifetime, 86400)):
            raise Refused("replayed", f"nonce of sub={body.get('sub')} seen before")
        return self

    def validate_deployment(self):
        try:
            return super().validate_deployment()
        except LtiException as exc:
            deployment_id = self._jwt["body"].get(LTI + "deployment_id")
            raise Refused("unknown_deployment", f"{exc}: {deployment_id!r} for {self.platform}") from exc

    def validate_message(self):
        body = self._jwt["body"]
        if body.get(LTI + "roles") is None:
            raise Refused("missing_roles", "no roles claim")
        message_type = body.get(LTI + "message_type")
        if message_type != "LtiResourceLinkRequest":
            raise Refused("invalid_message", f"message_type {message_type!r}")
        try:
            return super().validate_message()
        except LtiException as exc:
            raise Refused("invalid_message", str(exc)) from exc


@dataclass(frozen=True)
class ValidatedLaunch:
    platform: Platform
    deployment_id: str
    claims: dict[str, Any]
    state: str


def _lti_cookie_names(request) -> list[str]:
    return [name for name in request.COOKIES if name.startswith(COOKIE_PREFIX)]


def launch_validate(request) -> ValidatedLaunch:
    """Checks the OIDC launch POST (state, id_token) completely; raises Refused on any failure."""
    # Django reads no more of a body than its Content-Length says, so checking it bounds the post.
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_LAUNCH_BYTES:
        raise Refused("too_large", f"Content-Length {length}")
    if request.method != "POST":
        raise Refused("missing_parameters", f"method {request.method}")
    state, id_token = request.POST.get("state", ""), request.POST.get("id_token", "")
    if request.POST.get("error") and not id_token:
        # An OIDC error response (OpenID Connect Core §3.2.2.6), e.g. login_required.
        error, description = request.POST["error"][:100], request.POST.get("error_description", "")[:300]
        raise Refused("platform_error", f"{error}: {description}", extra={"platform_message": description or error})
    if not state or not id_token:
        raise Refused("missing_parameters", "state or id_token missing")
    if request.COOKIES.get(COOKIE_PREFIX + state) != state:
        if not _lti_cookie_names(request):
            raise Refused("cookies_blocked", "no lti1p3 cookie came back", extra={"state": state})
        raise Refused("state_mismatch", "the state cookie does not match the posted state")

    tool_conf = DbToolConf()
    launch = BadgesMessageLaunch(DjangoRequest(request, post_only=True), tool_conf, requests_session=http_session())
    launch.expected_nonce_digest = cache.get(_login_nonce_cache_key(state))
    storage = DjangoCacheDataStorage()
    try:
        launch.set_launch_data_storage(storage)
    except LtiException as exc:
        raise Refused("cookies_blocked", str(exc), extra={"state": state}) from exc
    launch.validate()
    claims = dict(launch.get_launch_data())
    return ValidatedLaunch(
        platform=launch.platform,
        deployment_id=str(claims[LTI + "deployment_id"]),
        claims=claims,
        state=state,
    )


# --- OIDC login ------------------------------------------------------------------------------------


def _login_params_cache_key(state: str) -> str:
    return f"lti:login-params:{hashlib.sha256(state.encode()).hexdigest()}"


def _login_nonce_cache_key(state: str) -> str:
    return f"lti:login-nonce:{hashlib.sha256(state.encode()).hexdigest()}"


def login_params_for_state(state: str) -> dict[str, str] | None:
    """The login request that produced this state, kept so a blocked-cookie launch can start over."""
    return cache.get(_login_params_cache_key(state))


def oidc_login(request, *, launch_url: str):
    """Answers Canvas's third-party-initiated login with the redirect to its authorization endpoint."""
    params = {key: request.GET.get(key) or request.POST.get(key) or "" for key in LOGIN_PARAMS}
    if not params["iss"] or not params["login_hint"]:
        raise Refused("missing_parameters", "iss or login_hint missing in the login request")
    tool_conf = DbToolConf()
    if tool_conf.platform(params["iss"], params["client_id"] or None) is None:
        # Never redirect to the login URL of a registration nobody approved (an open redirect).
        code = (
            "platform_pending"
            if selectors.platform_pending_exists(issuer=params["iss"], client_id=params["client_id"] or None)
            else "unknown_platform"
        )
        raise Refused(code, f"login iss={params['iss']} client_id={params['client_id']}")
    login = DjangoOIDCLogin(request, tool_conf)
    login.set_launch_data_storage(DjangoCacheDataStorage())
    login.set_launch_data_lifetime(LOGIN_STATE_SECONDS)
    try:
        redirect = login.get_redirect_object(launch_url)
    except (OIDCException, LtiException) as exc:
        raise Refused("unknown_platform", str(exc)) from exc
    location = redirect.get_redirect_url()
    state = _query_value(location, "state")
    nonce = _query_value(location, "nonce")
    cache.set(_login_params_cache_key(state), {k: v for k, v in params.items() if v}, LOGIN_STATE_SECONDS)
    # Which nonce this login issued: the launch posting this state must carry exactly that one.
    cache.set(_login_nonce_cache_key(state), hashlib.sha256(nonce.encode()).hexdigest(), LOGIN_STATE_SECONDS)
    return redirect.do_redirect()


def _query_value(url: str, key: str) -> str:
    return parse_qs(urlsplit(url).query).get(key, [""])[0]
