"""The OIDC login and the launch it leads to, checked completely (see lti.adapter for what pylti1p3
lacks).
"""

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import jwt
from django.core.cache import cache
from pylti1p3.contrib.django import DjangoCacheDataStorage, DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.contrib.django.request import DjangoRequest
from pylti1p3.exception import LtiException, OIDCException

from lti import keyset, selectors
from lti.adapter.tool_conf import DbToolConf
from lti.claims import LTI
from lti.errors import Refused
from lti.models import Platform
from lti.platform_http import http_session

ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512")


CLOCK_LEEWAY_SECONDS = 60


MAX_LAUNCH_BYTES = 64 * 1024


LOGIN_STATE_SECONDS = 600


LOGIN_PARAMS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "lti_deployment_id", "client_id")


COOKIE_PREFIX = "lti1p3-"


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
        try:
            key = keyset.signing_key(self.platform.keyset_url, kid=header["kid"], alg=header["alg"])
        except keyset.KeySetUnavailable as exc:
            raise Refused("keyset_unavailable", str(exc)) from exc
        except keyset.UnknownKey as exc:
            raise Refused("unknown_key", str(exc)) from exc
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
