"""The admin's sign-in is throttled and its cookies stay SameSite=Lax; secrets at rest need their own
key in production (FIELD_ENCRYPTION_KEY), and that key can be rotated."""

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import connection

from lti.models import Platform
from skillsforward.fields import PREFIX
from tests.factories import PlatformFactory

LOGIN = "/admin/login/?next=/admin/"


def _deploy_ids():
    return {m.id for m in run_checks(include_deployment_checks=True)}


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("root", "root@example.edu", "right-password-123")


def sign_in(client, username, password, address="198.51.100.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_failed_admin_sign_ins_are_throttled_per_address_and_user(client, admin_user, settings):
    for _ in range(settings.ADMIN_LOGIN_FAILURES_PER_USER):
        assert sign_in(client, "root", "guess").status_code == 200

    locked = sign_in(client, "root", "right-password-123")

    assert locked.status_code == 200 and b"Too many failed sign-ins" in locked.content
    assert "_auth_user_id" not in client.session
    # The same account from another address is not locked out by the guesser.
    assert sign_in(client, "root", "right-password-123", address="203.0.113.20").status_code == 302


def test_one_address_cannot_spray_many_user_names(client, admin_user, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS = 3
    for n in range(3):
        sign_in(client, f"user{n}", "guess")
    assert b"Too many failed sign-ins" in sign_in(client, "root", "right-password-123").content


def test_a_successful_sign_in_clears_the_count(client, admin_user, settings):
    for _ in range(settings.ADMIN_LOGIN_FAILURES_PER_USER - 1):
        sign_in(client, "root", "guess")
    assert sign_in(client, "root", "right-password-123").status_code == 302
    client.logout()
    sign_in(client, "root", "guess")
    assert sign_in(client, "root", "right-password-123").status_code == 302


def test_the_admin_session_cookie_is_lax_over_https(client, admin_user, settings):
    settings.SESSION_COOKIE_SECURE = True
    response = client.post(
        LOGIN, {"username": "root", "password": "right-password-123"}, secure=True, REMOTE_ADDR="198.51.100.8"
    )
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["samesite"] == "Lax" and cookie["secure"] and cookie["httponly"]


def test_check_deploy_fails_on_unsafe_admin_settings(settings):
    settings.SESSION_COOKIE_SAMESITE = "None"
    assert "skillsforward.E004" in _deploy_ids()
    settings.SESSION_COOKIE_SAMESITE = "Lax"
    settings.ADMIN_LOGIN_FAILURES_PER_USER = 0
    assert "skillsforward.E005" in _deploy_ids()


def test_check_deploy_fails_without_a_field_encryption_key(settings):
    settings.DEBUG = False
    settings.FIELD_ENCRYPTION_KEY = ""
    assert "skillsforward.E003" in _deploy_ids()
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    assert "skillsforward.E003" not in _deploy_ids()


def _stored(platform) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_token FROM lti_platform WHERE id = %s", [platform.pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_rotation_re_encrypts_every_secret_with_the_new_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old
    platform = PlatformFactory(api_token="canvas-token-1")
    assert Fernet(old).decrypt(_stored(platform)[len(PREFIX) :].encode()) == b"canvas-token-1"

    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"
    call_command("rotate_field_encryption")

    settings.FIELD_ENCRYPTION_KEY = new  # the old key removed
    assert Fernet(new).decrypt(_stored(platform)[len(PREFIX) :].encode()) == b"canvas-token-1"
    assert Platform.objects.get(pk=platform.pk).api_token == "canvas-token-1"


@pytest.mark.django_db
def test_secrets_stored_before_the_key_was_set_are_read_then_rotated(settings):
    """Demo-style installs encrypted with a key derived from SECRET_KEY: setting FIELD_ENCRYPTION_KEY
    must not lose those secrets, and rotation moves them to the new key."""
    settings.FIELD_ENCRYPTION_KEY = ""
    platform = PlatformFactory(api_token="legacy-token")
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = new
    assert Platform.objects.get(pk=platform.pk).api_token == "legacy-token"

    call_command("rotate_field_encryption")

    assert Fernet(new).decrypt(_stored(platform)[len(PREFIX) :].encode()) == b"legacy-token"


@pytest.mark.django_db(transaction=True)
def test_rotation_stopped_half_way_then_run_again_loses_no_secret(settings, monkeypatch):
    """The rotation killed after some rows (each row is its own transaction): every secret stays
    readable with both keys configured, and running it again finishes the job."""
    from django.db.models import QuerySet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old
    platforms = [PlatformFactory(api_token=f"canvas-token-{i}") for i in range(3)]
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"

    real_update, writes = QuerySet.update, []

    def dies_after_two_rows(self, **kwargs):
        if self.model is Platform and "api_token" in kwargs:
            if len(writes) == 2:
                raise KeyboardInterrupt  # the operator's Ctrl-C, or the process killed
            writes.append(kwargs)
        return real_update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", dies_after_two_rows)
    with pytest.raises(KeyboardInterrupt):
        call_command("rotate_field_encryption")
    monkeypatch.undo()

    stored = [_stored(p) for p in platforms]
    on_new = [p for p, value in zip(platforms, stored, strict=True) if _decrypts(new, value)]
    assert len(on_new) == 2  # half-way: two rows moved, the third still on the old key
    assert [Platform.objects.get(pk=p.pk).api_token for p in platforms] == [f"canvas-token-{i}" for i in range(3)]

    call_command("rotate_field_encryption")
    call_command("rotate_field_encryption")  # and once more: nothing changes but the ciphertexts
    settings.FIELD_ENCRYPTION_KEY = new  # the old key removed
    assert all(_decrypts(new, _stored(p)) for p in platforms)
    assert [Platform.objects.get(pk=p.pk).api_token for p in platforms] == [f"canvas-token-{i}" for i in range(3)]


def _decrypts(key: str, stored: str) -> bool:
    from cryptography.fernet import InvalidToken

    try:
        Fernet(key).decrypt(stored[len(PREFIX) :].encode())
    except InvalidToken:
        return False
    return True
