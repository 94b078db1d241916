"""Operators' pages (Django admin) and the LTI system checks."""

import pytest
from django.core.checks import run_checks
from django.urls import reverse

from lti.models import Platform
from tests.factories import DeploymentFactory, PlatformFactory

pytestmark = pytest.mark.django_db


def change_form_data(platform: Platform, **overrides) -> dict:
    data = {
        "name": platform.name,
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "auth_login_url": platform.auth_login_url,
        "auth_token_url": platform.auth_token_url,
        "auth_audience": "",
        "keyset_url": platform.keyset_url,
        "api_base_url": platform.api_base_url,
        "api_token": "",
        "active": "on",
        "deployments-TOTAL_FORMS": "0",
        "deployments-INITIAL_FORMS": "0",
        "deployments-MIN_NUM_FORMS": "0",
        "deployments-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_platform_list_shows_which_need_an_api_token(admin_client):
    PlatformFactory(name="With token", api_token="tok")
    PlatformFactory(name="Dynamic one", api_token="", registered_via="dynamic")

    html = admin_client.get(reverse("admin:lti_platform_changelist")).content.decode()

    assert "needs API token" in html and "With token" in html and "Dynamic one" in html


def test_api_token_is_write_only(admin_client):
    platform = PlatformFactory(api_token="very-secret-token")
    url = reverse("admin:lti_platform_change", args=[platform.pk])

    page = admin_client.get(url).content.decode()
    assert "very-secret-token" not in page
    assert "A token is stored" in page

    # Saving without typing a token keeps the stored one.
    response = admin_client.post(url, change_form_data(platform, name="Renamed"))
    assert response.status_code == 302, response.content.decode()[:3000]
    platform.refresh_from_db()
    assert platform.name == "Renamed" and platform.api_token == "very-secret-token"

    admin_client.post(url, change_form_data(platform, api_token="new-token"))
    platform.refresh_from_db()
    assert platform.api_token == "new-token"

    admin_client.post(url, change_form_data(platform, clear_api_token="on"))
    platform.refresh_from_db()
    assert platform.api_token == "" and platform.needs_api_token


def test_an_address_typed_without_a_scheme_is_saved_as_https(admin_client):
    platform = PlatformFactory()
    url = reverse("admin:lti_platform_change", args=[platform.pk])

    response = admin_client.post(url, change_form_data(platform, api_base_url="canvas.uni.example.edu"))

    assert response.status_code == 302, response.content.decode()[:3000]
    platform.refresh_from_db()
    assert platform.api_base_url == "https://canvas.uni.example.edu"


def test_platform_page_lists_its_deployments(admin_client):
    deployment = DeploymentFactory(deployment_id="6:8865aa05")
    html = admin_client.get(reverse("admin:lti_platform_change", args=[deployment.platform.pk])).content.decode()
    assert "6:8865aa05" in html


def test_tool_keys_and_launches_are_read_only(admin_client, client):
    from tests.lti.platform import FakeCanvas

    canvas = FakeCanvas()
    canvas.register()
    ctx = canvas.launch_context(client)
    assert admin_client.get(reverse("admin:lti_toolkey_add")).status_code == 403
    assert admin_client.get(reverse("admin:lti_launchcontext_add")).status_code == 403
    keys_page = admin_client.get(reverse("admin:lti_toolkey_changelist")).content.decode()
    assert "PRIVATE" not in keys_page
    page = admin_client.get(reverse("admin:lti_launchcontext_change", args=[ctx.pk])).content.decode()
    assert 'name="_save"' not in page


def _ids(settings_overrides, settings):
    for key, value in settings_overrides.items():
        setattr(settings, key, value)
    return {m.id for m in run_checks() if m.id and m.id.startswith("lti.")}


def test_check_invalid_field_encryption_key(settings):
    assert "lti.E001" in _ids({"FIELD_ENCRYPTION_KEY": "not-a-fernet-key"}, settings)


def test_check_valid_configuration(settings):
    from cryptography.fernet import Fernet

    ids = _ids(
        {
            "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "CACHES": {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}},
        },
        settings,
    )
    assert ids == set()


def test_check_per_process_cache_in_production(settings):
    settings.DEBUG = False
    assert "lti.W001" in {m.id for m in run_checks()}  # the tests' cache is LocMem
    settings.DEBUG = True
    assert "lti.W001" not in {m.id for m in run_checks()}


def test_check_dummy_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert "lti.E002" in {m.id for m in run_checks()}
