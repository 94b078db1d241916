"""The one fetcher of JSON Web Key Sets, and the key a signed token names in one.

Used for the LTI launch (the platform's key set, Platform.keyset_url) and for Canvas Live Events
(the key set at LIVE_EVENTS_JWKS_URL); both get the same guarantees:
- every fetch goes through the guarded outbound client (timeout LTI_HTTP_TIMEOUT, no redirects,
  no internal addresses) and reads at most MAX_KEYSET_BYTES: a key set URL may be chosen by whoever
  registered a platform;
- a key set is cached per URL for KEYSET_CACHE_SECONDS (tests and the sandbox may store one);
- a kid the cached set lacks refetches it once (Canvas rotates its keys), at most once per URL in
  KEYSET_REFETCH_MIN_INTERVAL_SECONDS, so that tokens naming random kids cannot turn into a flood
  of requests to Canvas;
- only an RSA signing key whose `alg`, when it states one, is the token's is used.
Failures raise KeySetUnavailable (the set could not be read: a passing fault, not a verdict on the
token) or UnknownKey (no usable key for that kid); each caller turns them into its own answer.
"""

import hashlib
import json
import logging
from functools import lru_cache

import jwt
import requests
from django.core.cache import cache

from lti.platform_http import body_within, http_session

logger = logging.getLogger(__name__)

# Canvas rotates its keys monthly, announcing the next one ahead; an hour bounds how long a key the
# platform withdrew is still believed.
KEYSET_CACHE_SECONDS = 3600
KEYSET_REFETCH_MIN_INTERVAL_SECONDS = 60
# A key set is a few KB (Canvas publishes three keys).
MAX_KEYSET_BYTES = 256 * 1024


class KeySetUnavailable(Exception):
    """The key set could not be read (unreachable, an error status, too large, not a JWKS)."""


class UnknownKey(Exception):
    """The key set has no usable key for the token's kid and algorithm."""


def _url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def _keyset_cache_key(url: str) -> str:
    return f"lti:platform-jwks:{_url_hash(url)}"


def key_set(url: str, *, refresh: bool = False) -> tuple[dict, bool]:
    """The JWKS at `url` and whether it was fetched just now (else it came from the cache)."""
    if not refresh:
        cached = cache.get(_keyset_cache_key(url))
        if cached:
            return cached, False
    try:
        with http_session().get(url, headers={"Accept": "application/json"}, stream=True) as response:
            response.raise_for_status()
            body = body_within(response, limit=MAX_KEYSET_BYTES)
            if body is None:
                raise KeySetUnavailable(f"GET {url}: larger than {MAX_KEYSET_BYTES} bytes")
        keyset = json.loads(body)
    except (requests.RequestException, ValueError) as exc:
        raise KeySetUnavailable(f"GET {url}: {exc}") from exc
    if not isinstance(keyset, dict) or not isinstance(keyset.get("keys"), list):
        raise KeySetUnavailable(f"GET {url}: not a JWKS")
    key_set_store(url, keyset)
    return keyset, True


def key_set_store(url: str, keyset: dict) -> None:
    """Caches a JWKS (also how tests and the sandbox can pre-seed a key set)."""
    cache.set(_keyset_cache_key(url), keyset, KEYSET_CACHE_SECONDS)


def _find_key(keyset: dict, kid: str, alg: str):
    for jwk in keyset["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kid") != kid or jwk.get("kty") != "RSA":
            continue
        if jwk.get("alg", alg) != alg or jwk.get("use", "sig") != "sig":
            continue
        try:
            return _public_key(json.dumps(jwk, sort_keys=True), alg)
        except jwt.PyJWKError as exc:
            raise UnknownKey(f"kid {kid} is not a usable RSA key: {exc}") from exc
    return None


@lru_cache(maxsize=64)
def _public_key(jwk_json: str, alg: str):
    # Building an RSA key from its JWK costs more than checking a signature with it; a platform
    # signs with one key for weeks. Keyed by the whole JWK, so a changed key is built afresh.
    return jwt.PyJWK(json.loads(jwk_json), algorithm=alg).key


def signing_key(url: str, *, kid: str, alg: str):
    """The public key for this kid in the JWKS at `url`; one forced refetch when the cached set
    lacks it. Raises KeySetUnavailable or UnknownKey."""
    keyset, fresh = key_set(url)
    key = _find_key(keyset, kid, alg)
    if (
        key is None
        and not fresh
        and cache.add(f"lti:jwks-refetch:{_url_hash(url)}", 1, KEYSET_REFETCH_MIN_INTERVAL_SECONDS)
    ):
        logger.info("kid %s not in the cached key set of %s: refetching once", kid, url)
        keyset, _ = key_set(url, refresh=True)
        key = _find_key(keyset, kid, alg)
    if key is None:
        raise UnknownKey(f"kid {kid} ({alg}) not in {url}")
    return key
