import pytest
from django.db import IntegrityError

from skillsforward.fields import decrypt_text, encrypt_text
from tests.factories import PlatformFactory


def test_encrypted_text_roundtrip():
    token = encrypt_text("s3cret")
    assert token.startswith("fernet:") and "s3cret" not in token
    assert decrypt_text(token) == "s3cret"


@pytest.mark.django_db
def test_platform_api_token_is_encrypted_at_rest(django_db_blocker):
    from django.db import connection

    platform = PlatformFactory(api_token="tok-123")
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_token FROM lti_platform WHERE id = %s", [platform.pk])
        stored = cursor.fetchone()[0]
    assert "tok-123" not in stored
    platform.refresh_from_db()
    assert platform.api_token == "tok-123"


@pytest.mark.django_db
def test_same_issuer_and_client_id_is_refused():
    PlatformFactory(issuer="https://canvas.instructure.com", client_id="1")
    with pytest.raises(IntegrityError):
        PlatformFactory(issuer="https://canvas.instructure.com", client_id="1")


@pytest.mark.django_db
def test_health_reports_each_dependency(client):
    response = client.get("/health/")
    body = response.json()
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert body["checks"]["database"]["ok"] is True
    assert response.status_code == (200 if body["status"] == "ok" else 503)
