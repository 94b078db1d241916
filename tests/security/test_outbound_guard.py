"""Every request to a URL that came from outside (platform key sets, registration, the Live Events key
set, the Canvas API, Canvas Credentials) goes through skillsforward.outbound: no redirects, no
names that do not resolve, no internal addresses unless an admin allows the host, and the checked
address is the one connected to."""

import http.server
import socket
import threading
from types import SimpleNamespace

import pytest
import requests

from canvas.client import CanvasClient
from canvas.errors import CanvasConfigurationError
from skillsforward import outbound
from skillsforward.outbound import OutboundRefused, outbound_session, url_check
from tests.lti.platform import FakeCanvas

METADATA = "https://169.254.169.254/latest/meta-data/iam/security-credentials/"


@pytest.fixture(autouse=True)
def production(settings):
    settings.DEBUG = False
    settings.SANDBOX_ENABLED = False
    settings.OUTBOUND_ALLOWED_HOSTS = []


@pytest.mark.django_db
def test_a_stored_key_set_url_that_redirects_to_the_metadata_service_is_not_followed(client, rsps):
    """The key set URL passed every check when it was registered; later it answers with a redirect."""
    canvas = FakeCanvas()
    canvas.register()
    rsps.add("GET", canvas.keyset_url, status=302, headers={"Location": METADATA})
    rsps.add("GET", METADATA, json={"keys": []})

    response = canvas.launch(client, seed_jwks=False)

    assert response.status_code == 502  # keyset_unavailable
    assert [call.request.url for call in rsps.calls] == [canvas.keyset_url]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://169.254.169.254/latest/meta-data/", "non-public"),
        ("https://10.0.0.5/api/v1", "non-public"),
        ("https://[fd00::1]/", "non-public"),
        ("https://[::ffff:127.0.0.1]/", "non-public"),
        ("https://224.0.0.1/", "non-public"),
        ("https://240.0.0.1/", "non-public"),  # reserved
        ("https://localhost/", "non-public"),
        ("https://canvas.nowhere.invalid/", "does not resolve"),
        ("http://uni.canvas.test/", "not an https URL"),
        ("ftp://uni.canvas.test/", "not an http"),
    ],
)
def test_internal_unresolvable_and_plain_http_urls_are_refused(url, why):
    with pytest.raises(OutboundRefused, match=why):
        url_check(url)


def test_an_admin_may_allow_a_host_explicitly(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["10.0.0.5", "canvas.campus.test"]
    assert url_check("https://10.0.0.5/api/v1") == ("10.0.0.5", "10.0.0.5")
    assert url_check("http://canvas.campus.test/")[0] == "canvas.campus.test"
    with pytest.raises(OutboundRefused):
        url_check("https://10.0.0.6/")


def test_a_refused_url_is_never_requested(rsps):
    rsps.add("GET", METADATA, body="secret")
    with pytest.raises(requests.RequestException):
        outbound_session().get(METADATA)
    assert len(rsps.calls) == 0


class _Recorder(http.server.BaseHTTPRequestHandler):
    hosts: list[str] = []

    def do_GET(self):
        _Recorder.hosts.append(self.headers["Host"])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"keys": []}')

    def log_message(self, *args):
        pass


def test_the_checked_address_is_the_one_connected_to(settings, monkeypatch):
    """DNS rebinding: the name is resolved once, checked, and the connection goes to that address;
    a second lookup (which could answer an internal address) never happens. The Host header keeps
    the name."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    settings.OUTBOUND_ALLOWED_HOSTS = ["keys.rebind.test"]
    real_getaddrinfo = socket.getaddrinfo
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "keys.rebind.test":
            lookups.append(host)
            if len(lookups) > 1:
                raise AssertionError("the name was resolved again at connect time")
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        response = outbound_session().get(f"http://keys.rebind.test:{port}/jwks")
    finally:
        server.shutdown()
    assert response.json() == {"keys": []}
    assert _Recorder.hosts[-1] == f"keys.rebind.test:{port}"


def test_tls_is_checked_for_the_name_while_the_socket_uses_the_address():
    adapter = outbound.PinnedAddressAdapter()
    request = requests.Request("GET", "https://sso.canvaslms.com/api/lti/security/jwks").prepare()
    request.pinned_address = "93.184.215.14"
    host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(request, True)
    assert host_params["host"] == "93.184.215.14"
    assert pool_kwargs["server_hostname"] == "sso.canvaslms.com"
    assert pool_kwargs["assert_hostname"] == "sso.canvaslms.com"
    assert pool_kwargs["cert_reqs"] == "CERT_REQUIRED"


def test_the_canvas_api_client_does_not_follow_a_redirect(rsps):
    base = "https://uni.canvas.test"
    rsps.add("GET", f"{base}/api/v1/users/self/profile", status=301, headers={"Location": METADATA})
    rsps.add("GET", METADATA, json={"id": 1})
    platform = SimpleNamespace(api_base_url=base, api_token="t", is_trusted=True)

    with pytest.raises(CanvasConfigurationError, match="refused"):
        CanvasClient(platform, sleep=lambda s: None).get_self()

    assert len(rsps.calls) == 1  # not followed, not retried


def test_the_canvas_api_client_refuses_an_internal_api_base(rsps):
    platform = SimpleNamespace(api_base_url="https://169.254.169.254", api_token="t", is_trusted=True)
    with pytest.raises(CanvasConfigurationError, match="non-public"):
        CanvasClient(platform, sleep=lambda s: None).get_self()
    assert len(rsps.calls) == 0


def test_the_live_events_key_set_is_fetched_through_the_guard(settings, rsps):
    from badging import live_events
    from tests.badging.test_live_events import event, signed

    settings.LIVE_EVENTS_JWKS_URL = "https://8ow0a3w4x4.canvas.test/jwks"
    rsps.add("GET", settings.LIVE_EVENTS_JWKS_URL, status=302, headers={"Location": METADATA})
    rsps.add("GET", METADATA, json={"keys": []})
    with pytest.raises(live_events.LiveEventRejected) as refused:
        live_events.live_event_parse(body=signed(event()).encode())
    assert refused.value.status == 503
    assert [c.request.url for c in rsps.calls] == [settings.LIVE_EVENTS_JWKS_URL]


@pytest.mark.django_db
def test_canvas_credentials_calls_go_through_the_guard(rsps):
    from badging.services.canvas_credentials import client

    connection = SimpleNamespace(api_base_url="https://169.254.169.254")
    rsps.add("POST", "https://169.254.169.254/o/token", json={"access_token": "x"})
    with pytest.raises(client.CanvasCredentialsError, match="unreachable"):
        client._token_request(connection, {"grant_type": "client_credentials"})
    assert len(rsps.calls) == 0


def test_check_deploy_flags_a_risky_allow_list(settings):
    from django.core.checks import run_checks

    def ids():
        return {m.id for m in run_checks(include_deployment_checks=True)}

    settings.OUTBOUND_ALLOWED_HOSTS = ["169.254.169.254", "canvas.campus.test"]
    assert "skillsforward.E006" in ids()
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    assert "skillsforward.W002" in ids() and "skillsforward.E006" not in ids()
    settings.OUTBOUND_ALLOWED_HOSTS = ["canvas.campus.test"]
    assert not {"skillsforward.E006", "skillsforward.W002"} & ids()


def test_the_operators_ca_bundle_is_kept_when_a_caller_asks_for_verification(monkeypatch, rsps):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/campus-ca.pem")
    rsps.add("GET", "https://uni.canvas.test/api/v1/x", json={})
    sent = {}
    real_send = outbound.PinnedAddressAdapter.send

    def send(self, request, *args, **kwargs):
        sent["verify"] = kwargs.get("verify")
        return real_send(self, request, *args, **kwargs)

    monkeypatch.setattr(outbound.PinnedAddressAdapter, "send", send)
    outbound_session().get("https://uni.canvas.test/api/v1/x", verify=True)
    assert sent["verify"] == "/etc/ssl/campus-ca.pem"
