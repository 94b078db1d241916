"""LTI Advantage services (NRPS, AGS) from workers: a pylti1p3 service connector whose access token is
shared through the cache.
"""

import hashlib
import re
import time
import uuid

import jwt
from django.core.cache import cache
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector

from lti.adapter.tool_conf import DbToolConf
from lti.models import Platform
from lti.platform_http import http_session

TOKEN_EXPIRY_MARGIN_SECONDS = 60


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
