"""Secrets (Canvas API token, our LTI and issuer private keys, Canvas Credentials password, client
secret and tokens) are encrypted at rest and never shown on an admin page."""

import pytest
from django.db import connection
from django.urls import reverse

from badging.models import CanvasCredentialsConnection, IssuerKey
from badging.services.issuance import issuer_keys
from lti.models import ToolKey
from lti.services.tool_keys import tool_key_current
from tests import factories as f

pytestmark = pytest.mark.django_db


def raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_secrets_are_ciphertext_in_the_database_and_absent_from_admin_pages(admin_client):
    platform = f.PlatformFactory(api_token="canvas-api-token-PLAINTEXT")
    tool_key = tool_key_current()
    issuer = f.IssuerFactory()
    issuer_keys.issuer_keys_current(issuer=issuer)
    issuer_key = IssuerKey.objects.filter(issuer=issuer).first()
    cc = CanvasCredentialsConnection.objects.create(
        issuer=issuer,
        username="badgr-user",
        password="cc-password-PLAINTEXT",
        client_secret="cc-client-secret-PLAINTEXT",
        access_token="cc-access-token-PLAINTEXT",
        refresh_token="cc-refresh-token-PLAINTEXT",
    )
    secrets = {
        ("lti_platform", "api_token", platform.pk): platform.api_token,
        ("lti_toolkey", "private_key_pem", tool_key.pk): tool_key.private_key_pem,
        ("badging_issuerkey", "private_key_pem", issuer_key.pk): issuer_key.private_key_pem,
        ("badging_canvascredentialsconnection", "password", cc.pk): cc.password,
        ("badging_canvascredentialsconnection", "client_secret", cc.pk): cc.client_secret,
        ("badging_canvascredentialsconnection", "access_token", cc.pk): cc.access_token,
        ("badging_canvascredentialsconnection", "refresh_token", cc.pk): cc.refresh_token,
    }
    for (table, column, pk), plaintext in secrets.items():
        stored = raw(table, column, pk)
        assert stored.startswith("fernet:") and plaintext not in stored, (table, column)

    pages = [
        reverse("admin:lti_platform_change", args=[platform.pk]),
        reverse("admin:lti_platform_changelist"),
        reverse("admin:lti_toolkey_change", args=[tool_key.pk]),
        reverse("admin:lti_toolkey_changelist"),
        reverse("admin:badging_issuer_change", args=[issuer.pk]),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for plaintext in secrets.values():
            assert plaintext.strip().splitlines()[1 if "PRIVATE KEY" in plaintext else 0] not in html, url
        assert "PRIVATE KEY" not in html, url
    assert ToolKey.objects.count() == 1
