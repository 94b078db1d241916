"""Our JWKS, key rotation, the Canvas developer-key JSON and the platform commands."""

from datetime import timedelta

import jwt
import pytest
from django.core.management import call_command
from django.utils import timezone
from freezegun import freeze_time

from lti.adapter.tool_conf import DbToolConf
from lti.models import Deployment, Platform, ToolKey
from lti.services.platforms import platform_upsert
from lti.services.tool_keys import tool_key_current

pytestmark = pytest.mark.django_db


def test_jwks_publishes_a_first_key_on_demand(client):
    response = client.get("/lti/jwks.json")

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["keys"]  # {"keys": [...]}: not double-wrapped
    assert len(body["keys"]) == 1
    key = body["keys"][0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert key["kid"] == ToolKey.objects.get().kid
    assert "d" not in key and "p" not in key  # public parts only
    assert client.get("/lti/jwks.json").json() == body  # stable


def test_current_key_signs_what_the_jwks_verifies():
    key = tool_key_current()
    token = jwt.encode({"iss": "tool"}, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid})
    public = jwt.PyJWK(tool_key_current().public_jwk).key
    assert jwt.decode(token, public, algorithms=["RS256"]) == {"iss": "tool"}
    assert tool_key_current() == key


def test_private_key_is_encrypted_at_rest():
    from django.db import connection

    key = tool_key_current()
    with connection.cursor() as cursor:
        cursor.execute("SELECT private_key_pem FROM lti_toolkey WHERE id = %s", [key.pk])
        stored = cursor.fetchone()[0]
    assert stored.startswith("fernet:") and "PRIVATE KEY" not in stored


def test_rotation_keeps_the_old_key_published_for_the_grace_period(client, settings, capsys):
    settings.LTI_KEY_ROTATION_GRACE_DAYS = 14
    old = tool_key_current()

    call_command("lti_rotate_keys")

    new = tool_key_current()
    assert new != old
    old.refresh_from_db()
    assert old.superseded_at is not None
    assert timedelta(days=13, hours=23) < old.retire_after - timezone.now() <= timedelta(days=14)
    kids = [k["kid"] for k in client.get("/lti/jwks.json").json()["keys"]]
    assert kids == [new.kid, old.kid]
    assert "New signing key" in capsys.readouterr().out
    # Service calls (client assertions) are signed by the new key.
    assert DbToolConf()._registration(_platform()).get_kid() == new.kid

    with freeze_time(timezone.now() + timedelta(days=15)):
        kids = [k["kid"] for k in client.get("/lti/jwks.json").json()["keys"]]
        assert kids == [new.kid]
        call_command("lti_rotate_keys")
        assert not ToolKey.objects.filter(pk=old.pk).exists()  # past its grace period: deleted


def _platform():
    return platform_upsert(
        issuer="https://canvas.instructure.com",
        client_id="10000000000042",
        deployment_ids=["1:abc"],
        api_base_url="https://uni.instructure.com",
    )


def test_config_json_is_a_canvas_developer_key(client, settings):
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["badges.uni.example.edu"]
    response = client.get("/lti/config.json", secure=True, HTTP_HOST="badges.uni.example.edu")

    assert response.status_code == 200
    config = response.json()
    base = "https://badges.uni.example.edu"
    assert config["title"] == "Badges" and config["description"]
    assert config["oidc_initiation_url"] == base + "/lti/login/"
    assert config["target_link_uri"] == base + "/lti/launch/"
    assert config["public_jwk_url"] == base + "/lti/jwks.json"
    assert config["scopes"] == []  # no LTI service is used: tests/lti/test_dynamic_registration.py
    assert config["custom_fields"] == {
        "canvas_user_id": "$Canvas.user.id",
        "canvas_course_id": "$Canvas.course.id",
        "canvas_api_base_url": "$Canvas.api.baseUrl",
        "email": "$Person.email.primary",
        "concluded_roles": "$Canvas.membership.concludedRoles",
    }
    (extension,) = config["extensions"]
    assert extension["platform"] == "canvas.instructure.com"
    assert extension["privacy_level"] == "public"
    assert extension["domain"] == "badges.uni.example.edu"
    placement, *my_badges = extension["settings"]["placements"]
    # The account and user menus' "My badges": tests/lti/test_my_badges_launch.py.
    assert [p["placement"] for p in my_badges] == ["account_navigation", "user_navigation"]
    assert placement == {
        "placement": "course_navigation",
        "text": "Badges",
        "message_type": "LtiResourceLinkRequest",
        "target_link_uri": base + "/lti/launch/",
        "enabled": True,
        "default": "enabled",
        "visibility": "members",
    }


def test_config_json_uses_public_base_url_behind_a_proxy(client, settings):
    settings.PUBLIC_BASE_URL = "https://badges.example.org"
    config = client.get("/lti/config.json").json()
    assert config["oidc_initiation_url"] == "https://badges.example.org/lti/login/"


def test_platform_upsert_fills_canvas_defaults_and_is_idempotent():
    platform = platform_upsert(
        issuer="https://canvas.instructure.com/",
        client_id="10000000000001",
        deployment_ids=["1:abc"],
        api_base_url="https://uni.instructure.com/",
        api_token="secret-token",
    )
    assert platform.issuer == "https://canvas.instructure.com"
    assert platform.auth_login_url == "https://sso.canvaslms.com/api/lti/authorize_redirect"
    assert platform.keyset_url == "https://sso.canvaslms.com/api/lti/security/jwks"
    assert platform.auth_token_url == "https://uni.instructure.com/login/oauth2/token"
    assert platform.name == "uni.instructure.com"
    assert platform.registered_via == "manual" and not platform.accept_new_deployments

    again = platform_upsert(
        issuer="https://canvas.instructure.com",
        client_id="10000000000001",
        deployment_ids=["1:abc", "2:def"],
        name="Uni Canvas",
    )
    assert again.pk == platform.pk
    again.refresh_from_db()
    assert again.api_token == "secret-token"  # not erased by an omitted token
    assert again.name == "Uni Canvas"
    assert sorted(again.deployments.values_list("deployment_id", flat=True)) == ["1:abc", "2:def"]


def test_canvas_platform_add_command_is_idempotent(capsys):
    args = [
        "--issuer=https://canvas.instructure.com",
        "--client-id=10000000000077",
        "--deployment-id=6:8865aa",
        "--deployment-id=7:99aa",
        "--api-base-url=https://uni.instructure.com",
        "--api-token=tok-1",
        "--name=Uni",
    ]
    call_command("canvas_platform_add", *args)
    call_command("canvas_platform_add", *args[:-2], "--api-token=tok-2", "--auth-token-url=https://uni.example/t")

    platform = Platform.objects.get()
    assert platform.client_id == "10000000000077" and platform.name == "Uni"
    assert platform.api_token == "tok-2"
    assert platform.auth_token_url == "https://uni.example/t"
    assert Deployment.objects.count() == 2
    assert "deployments 6:8865aa, 7:99aa" in capsys.readouterr().out


def test_canvas_platform_add_rejects_a_bad_url():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="could not register"):
        call_command(
            "canvas_platform_add",
            "--issuer=https://canvas.instructure.com",
            "--client-id=1",
            "--deployment-id=1:a",
            "--api-base-url=not a url",
            "--api-token=t",
        )
    assert not Platform.objects.exists()


def test_platform_upsert_accepts_the_local_canvas_stand_in():
    platform = platform_upsert(
        issuer="http://testserver/sandbox/main",
        client_id="sandbox-client",
        deployment_ids=["1:sandbox"],
        api_base_url="http://testserver/sandbox/main",
    )
    assert platform.auth_token_url == "http://testserver/sandbox/main/login/oauth2/token"


def test_a_new_platform_may_frame_the_tool_at_once(client, django_capture_on_commit_callbacks):
    """The CSP frame-ancestors list is cached; registering a platform must not wait for it to expire."""
    assert "https://new-uni.instructure.com" not in client.get("/lti/config.json")["Content-Security-Policy"]
    with django_capture_on_commit_callbacks(execute=True):
        platform_upsert(
            issuer="https://canvas.instructure.com",
            client_id="10000000000099",
            deployment_ids=["1:x"],
            api_base_url="https://new-uni.instructure.com",
        )
    assert "https://new-uni.instructure.com" in client.get("/lti/config.json")["Content-Security-Policy"]


def test_expired_launch_contexts_are_purged_and_refused(client, capsys):
    from tests.lti.platform import FakeCanvas

    canvas = FakeCanvas()
    canvas.register()
    ctx = canvas.launch_context(client)
    with freeze_time(timezone.now() + timedelta(hours=8, minutes=1)):
        assert client.get(f"/l/{ctx.public_id}/").status_code == 404  # "This page has expired"
        call_command("lti_purge_launches")
    assert "Deleted 1 expired launch context(s)" in capsys.readouterr().out
    assert not type(ctx).objects.exists()


def test_rotation_with_grace_days_keeps_the_old_key_that_long_and_says_so(settings, capsys):
    settings.LTI_KEY_ROTATION_GRACE_DAYS = 14
    old = tool_key_current()

    call_command("lti_rotate_keys", "--grace-days", "3")

    old.refresh_from_db()
    assert timedelta(days=2, hours=23) < old.retire_after - timezone.now() <= timedelta(days=3)
    assert f"Superseded {old.kid}: published for 3 more days" in capsys.readouterr().out
