"""X-Forwarded-For / -Proto are anyone's to write: they count only when the operator says how many
proxies stand in front of gunicorn (TRUSTED_PROXY_COUNT), and the compose file does not publish
gunicorn to the world."""

from pathlib import Path

import pytest
import responses
import yaml
from django.core.checks import run_checks
from django.test import RequestFactory

from lti import views
from skillsforward.ratelimit import client_address
from tests.lti.test_dynamic_registration import OPENID_URL

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_a_forged_forwarded_for_does_not_escape_the_registration_limit(client, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add("GET", OPENID_URL, status=500)
        for n in range(views.REGISTRATIONS_PER_CLIENT + 1):
            response = client.get(
                "/lti/register/",
                {"openid_configuration": OPENID_URL},
                HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
                secure=True,
            )
    assert response.status_code == 429


def test_the_client_address_comes_from_the_trusted_hops_only(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7, 10.0.0.1")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 2  # a load balancer, then the TLS proxy
    assert client_address(request) == "203.0.113.7"
    settings.TRUSTED_PROXY_COUNT = 5  # fewer entries than proxies: the header was not written by them
    assert client_address(request) == "10.0.0.2"


def test_forwarded_proto_is_believed_only_behind_trusted_proxies():
    from tests.security.test_settings_safety import _settings_in_a_clean_environment

    assert _settings_in_a_clean_environment().get("SECURE_PROXY_SSL_HEADER") is None
    behind = _settings_in_a_clean_environment(TRUSTED_PROXY_COUNT="1")
    assert behind["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_check_deploy_refuses_forwarded_proto_without_a_trusted_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.TRUSTED_PROXY_COUNT = 0
    assert "skillsforward.E002" in {m.id for m in run_checks(include_deployment_checks=True)}
    settings.TRUSTED_PROXY_COUNT = 1
    assert "skillsforward.E002" not in {m.id for m in run_checks(include_deployment_checks=True)}


def test_compose_publishes_gunicorn_on_the_hosts_loopback_behind_one_proxy():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        for published in service.get("ports", []):
            assert str(published).startswith("127.0.0.1:"), f"{name} publishes {published} to every interface"
    assert compose["x-app"]["environment"]["TRUSTED_PROXY_COUNT"] == "1"
