"""The one HTTP client for every request to a URL that came from outside the server's own settings:
platform key sets, dynamic registration, the Live Events key set, the Canvas API, Canvas Credentials.

Such URLs are chosen by whoever registers a platform or edits its settings, so a request must not
reach the cloud metadata service, localhost or the campus network behind the firewall:

- the host name is resolved here, every address checked, and the connection made to the checked
  address (a DNS answer that changes between check and connect cannot redirect it), while TLS still
  checks the certificate for the host name (SNI and the Host header stay the name);
- a name that does not resolve, and any loopback, private, link-local, multicast or reserved
  address, is refused, unless the host is in OUTBOUND_ALLOWED_HOSTS (an admin's explicit choice,
  e.g. a self-hosted Canvas on the campus network, or the local sandbox in development);
- plain http only to an allowed host;
- redirects are never followed: a 3xx answer raises OutboundRefused;
- no proxy from the environment (a proxy would resolve the name itself); every call times out.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

USER_AGENT = "SkillsForwardBadges/1.0 (+LTI 1.3 tool)"
DEFAULT_PORTS = {"http": 80, "https": 443}


class OutboundRefused(requests.ConnectionError):
    """A request the guard refused before (or instead of) following it; a requests error, so
    callers that handle an unreachable host handle this the same way."""


def allowed_hosts() -> set[str]:
    return {h.strip().lower().strip("[]") for h in settings.OUTBOUND_ALLOWED_HOSTS if h.strip()}


def _resolve(host: str, port: int) -> list[str]:
    """Every address of `host` (a literal address is its own)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def url_check(url: str) -> tuple[str, str]:
    """(host, address to connect to) for `url`, or OutboundRefused saying why not."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    scheme = parts.scheme.lower()
    if not host or scheme not in DEFAULT_PORTS:
        raise OutboundRefused(f"not an http(s) URL: {url!r}")
    allowed = host in allowed_hosts()
    if scheme != "https" and not allowed:
        raise OutboundRefused(f"not an https URL: {url!r}")
    addresses = _resolve(host, parts.port or DEFAULT_PORTS[scheme])
    if not addresses:
        raise OutboundRefused(f"{host} does not resolve")
    if not allowed:
        internal = [a for a in addresses if not address_is_public(a)]
        if internal:
            raise OutboundRefused(
                f"{host} points at a non-public address ({internal[0]}); "
                "an admin may allow the host in OUTBOUND_ALLOWED_HOSTS"
            )
    return host, addresses[0]


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to the address url_check approved, not to whatever the name resolves to later."""

    def send(self, request, *args, **kwargs):
        host, address = url_check(request.url)
        request.pinned_address = address  # read by build_connection_pool_key_attributes
        port = urlsplit(request.url).port
        request.headers["Host"] = host if port is None else f"{host}:{port}"
        response = super().send(request, *args, **kwargs)
        if response.is_redirect:
            location = response.headers.get("Location", "")
            response.close()
            raise OutboundRefused(f"{request.url} redirects to {location!r}: not followed", response=response)
        return response

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host = host_params["host"]
        address = getattr(request, "pinned_address", None)
        if address is None:  # only ever reached through send(), which sets it
            raise OutboundRefused(f"{request.url}: address not checked")
        host_params["host"] = address
        if host_params["scheme"] == "https":
            # TLS for the name: SNI and the certificate check use it, the socket uses the address.
            pool_kwargs["server_hostname"] = host
            pool_kwargs["assert_hostname"] = host
        return host_params, pool_kwargs


class GuardedSession(requests.Session):
    """A requests session that only goes through PinnedAddressAdapter, never follows redirects and
    always times out."""

    def __init__(self, timeout: float | None = None):
        super().__init__()
        self.timeout = timeout if timeout is not None else settings.OUTBOUND_HTTP_TIMEOUT
        self.trust_env = False  # no proxies from the environment: they would resolve names themselves
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self.verify = bundle
        self.max_redirects = 0
        self.headers["User-Agent"] = USER_AGENT
        adapter = PinnedAddressAdapter()
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method, url, *args, **kwargs):
        if kwargs.get("verify") in (None, True) and isinstance(self.verify, str):
            # Without trust_env, a per-call verify=True would drop the operator's CA bundle.
            kwargs["verify"] = self.verify
        kwargs.setdefault("timeout", self.timeout)
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


def outbound_session(*, timeout: float | None = None) -> GuardedSession:
    """The session for any request to a URL that came from outside (see the module docstring)."""
    return GuardedSession(timeout=timeout)


def allowed_host_risks() -> tuple[list[str], list[str]]:
    """(link-local, loopback) entries of OUTBOUND_ALLOWED_HOSTS, by their literal address (or the
    name localhost): allowing the cloud metadata range or this machine itself is rarely meant."""
    link_local, loopback = [], []
    for host in sorted(allowed_hosts()):
        if host == "localhost" or host.endswith(".localhost"):
            loopback.append(host)
            continue
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            continue
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if ip.is_link_local:
            link_local.append(host)
        elif ip.is_loopback or ip.is_unspecified:
            loopback.append(host)
    return link_local, loopback
