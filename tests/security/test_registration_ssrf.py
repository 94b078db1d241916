"""Dynamic registration fetches URLs chosen by whoever opens /lti/register/: in production it must
only reach public https hosts, follow no redirects and read bounded answers."""

import json
import logging

import pytest

from lti.models import Platform
from tests.lti.test_dynamic_registration import OPENID_URL, REGISTRATION_URL, openid_configuration

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def production(settings):
    settings.DEBUG = False
    settings.SANDBOX_ENABLED = False
    settings.OUTBOUND_ALLOWED_HOSTS = []


def register(client, url):
    return client.get("/lti/register/", {"openid_configuration": url, "registration_token": "t"}, secure=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata
        "https://127.0.0.1:8443/admin/",
        "https://[::1]/",
        "https://[::ffff:10.0.0.8]/",
        "https://10.1.2.3/openid",
        "https://localhost/openid",  # a name that resolves to loopback
    ],
)
def test_registration_refuses_internal_addresses_without_fetching(client, rsps, caplog, url):
    rsps.add("GET", url, json=openid_configuration())
    with caplog.at_level(logging.WARNING, logger="lti.views"):
        response = register(client, url)
    assert response.status_code == 400 and b"Badges could not be registered" in response.content
    assert len(rsps.calls) == 0
    assert "non-public address" in caplog.text
    assert not Platform.objects.exists()


def test_registration_refuses_an_internal_registration_endpoint(client, rsps):
    rsps.add("GET", OPENID_URL, json=openid_configuration(registration_endpoint="https://192.168.0.10/register"))
    rsps.add("POST", "https://192.168.0.10/register", json={"client_id": "1"})
    assert register(client, OPENID_URL).status_code == 400
    assert [c.request.method for c in rsps.calls] == ["GET"]
    assert not Platform.objects.exists()


def test_registration_refuses_internal_key_set_and_token_urls(client, rsps):
    """The key set and token URLs are fetched later by launches and workers: checked now."""
    rsps.add("GET", OPENID_URL, json=openid_configuration(jwks_uri="https://169.254.169.254/keys"))
    rsps.add("POST", REGISTRATION_URL, json={"client_id": "1"})
    assert register(client, OPENID_URL).status_code == 400
    assert not Platform.objects.exists()


def test_registration_does_not_follow_redirects(client, rsps, caplog):
    rsps.add("GET", OPENID_URL, status=302, headers={"Location": "https://169.254.169.254/latest/meta-data/"})
    rsps.add("GET", "https://169.254.169.254/latest/meta-data/", json=openid_configuration())
    with caplog.at_level(logging.WARNING, logger="lti.views"):
        assert register(client, OPENID_URL).status_code == 400
    assert [c.request.url for c in rsps.calls] == [OPENID_URL]
    assert "redirects to" in caplog.text and "not followed" in caplog.text
    assert not Platform.objects.exists()


def test_registration_stops_reading_an_oversized_answer(client, rsps, caplog):
    huge = json.dumps({**openid_configuration(), "padding": "x" * (3 * 1024 * 1024)})
    rsps.add("GET", OPENID_URL, body=huge, content_type="application/json")
    with caplog.at_level(logging.WARNING, logger="lti.views"):
        assert register(client, OPENID_URL).status_code == 400
    assert "larger than" in caplog.text
    assert not Platform.objects.exists()


def test_a_public_canvas_still_registers(client, rsps):
    rsps.add("GET", OPENID_URL, json=openid_configuration())
    rsps.add("POST", REGISTRATION_URL, json={"client_id": "10000000000777"})
    assert register(client, OPENID_URL).status_code == 200
    assert Platform.objects.get().client_id == "10000000000777"


def test_registration_attempts_are_rate_limited_per_client(client, rsps):
    from lti import views

    rsps.add("GET", OPENID_URL, status=500)
    for _ in range(views.REGISTRATIONS_PER_CLIENT):
        assert register(client, OPENID_URL).status_code == 400
    fetched = len(rsps.calls)
    limited = register(client, OPENID_URL)
    assert limited.status_code == 429 and b"Too many attempts" in limited.content
    assert len(rsps.calls) == fetched  # refused before fetching anything
