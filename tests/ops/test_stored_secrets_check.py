"""skillsforward.E007: a database whose secrets this FIELD_ENCRYPTION_KEY cannot open is refused by
the database checks (`migrate`, `check --database default`), with the reason; the right key, or the
old key kept next to the new one during a rotation, passes."""

import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks

from tests.factories import PlatformFactory

pytestmark = pytest.mark.django_db


def _e007(databases=("default",)):
    return [m for m in run_checks(databases=list(databases)) if m.id == "skillsforward.E007"]


def test_secrets_written_with_another_key_are_reported_with_the_reason(settings):
    old, other = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old
    PlatformFactory(api_token="canvas-token")
    assert _e007() == []

    settings.FIELD_ENCRYPTION_KEY = other
    (error,) = _e007()
    assert "lti.Platform.api_token: 1 of 1" in error.msg and "cannot be decrypted" in error.msg
    assert "none of the keys in FIELD_ENCRYPTION_KEY" in error.msg
    assert "kept with that backup" in error.hint
    assert _e007(databases=()) == []  # only the database checks read the database

    settings.FIELD_ENCRYPTION_KEY = ""
    (error,) = _e007()
    assert "FIELD_ENCRYPTION_KEY is not set" in error.msg

    settings.FIELD_ENCRYPTION_KEY = f"{other},{old}"  # mid-rotation: new key first, old one kept
    assert _e007() == []


@pytest.mark.django_db(transaction=True)
def test_a_rotation_stopped_half_way_needs_the_old_key_kept(settings):
    """Rows still on the old key are found even when the newest row opens with the new key alone."""

    from lti.models import Platform

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old
    platforms = [PlatformFactory(api_token=f"canvas-token-{i}") for i in range(3)]
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"
    for platform in platforms[1:]:  # the rotation re-encrypted the two newest rows, then stopped
        Platform.objects.filter(pk=platform.pk).update(api_token=platform.api_token)
    assert _e007() == []

    settings.FIELD_ENCRYPTION_KEY = new  # the old key removed too early
    (error,) = _e007()
    assert "lti.Platform.api_token: 1 of 3" in error.msg
    assert "rotate_field_encryption" in error.hint
