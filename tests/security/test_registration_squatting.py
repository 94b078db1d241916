"""Squatting: someone pre-registers a client id through open dynamic registration, with key set and
login URLs of their own. When the admin later registers that client id by hand
(`canvas_platform_add`), the manual registration must never merge into that row: its endpoints, key
set and deployments would stay the squatter's while it gains the real API token."""

import pytest
from django.core.management import CommandError, call_command

from lti.models import Deployment, Platform
from tests.factories import CourseFactory

pytestmark = pytest.mark.django_db

CLIENT_ID = "10000000000555"


def squat(*, status=Platform.STATUS_PENDING) -> Platform:
    platform = Platform.objects.create(
        name="Squatter",
        issuer="https://canvas.instructure.com",
        client_id=CLIENT_ID,
        auth_login_url="https://attacker.example/authorize",
        keyset_url="https://attacker.example/jwks",
        auth_token_url="https://attacker.example/token",
        registered_via="dynamic",
        accept_new_deployments=True,
        status=status,
        requested_ip="203.0.113.9",
    )
    Deployment.objects.create(platform=platform, deployment_id="1:evil")
    return platform


def add(*extra):
    call_command(
        "canvas_platform_add",
        "--issuer=https://canvas.instructure.com",
        f"--client-id={CLIENT_ID}",
        "--deployment-id=6:real",
        "--api-base-url=https://uni.instructure.com",
        "--api-token=the-real-admin-token",
        *extra,
    )


@pytest.mark.parametrize("status", [Platform.STATUS_PENDING, Platform.STATUS_APPROVED])
def test_a_manual_registration_refuses_to_merge_into_a_dynamic_one(status):
    squat(status=status)

    with pytest.raises(CommandError) as refused:
        add()

    message = str(refused.value)
    assert "dynamic registration" in message and "203.0.113.9" in message and "--replace-dynamic" in message
    platform = Platform.objects.get()
    assert platform.api_token == "" and platform.keyset_url == "https://attacker.example/jwks"
    assert list(platform.deployments.values_list("deployment_id", flat=True)) == ["1:evil"]


def test_replace_dynamic_starts_from_a_clean_row():
    squat()

    add("--replace-dynamic")

    platform = Platform.objects.get()
    assert platform.registered_via == "manual" and platform.is_trusted
    assert platform.api_token == "the-real-admin-token"
    assert platform.keyset_url == "https://sso.canvaslms.com/api/lti/security/jwks"
    assert platform.auth_login_url == "https://sso.canvaslms.com/api/lti/authorize_redirect"
    assert platform.auth_token_url == "https://uni.instructure.com/login/oauth2/token"
    assert not platform.accept_new_deployments
    assert list(platform.deployments.values_list("deployment_id", flat=True)) == ["6:real"]


def test_replace_dynamic_never_deletes_a_registration_with_courses():
    squatter = squat(status=Platform.STATUS_APPROVED)
    CourseFactory(platform=squatter)

    with pytest.raises(CommandError, match="not replaced"):
        add("--replace-dynamic")

    assert Platform.objects.get().pk == squatter.pk


def test_a_manual_registration_still_updates_itself():
    add()
    add("--api-token=newer-token")
    assert Platform.objects.get().api_token == "newer-token"
