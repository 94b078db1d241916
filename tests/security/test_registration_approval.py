"""Dynamic registration is open to anyone who can reach /lti/register/: what it creates is pending,
trusted nowhere (launch, OIDC login, CSP frame-ancestors, Live Events, Canvas calls) until an admin
approves it after seeing what they approve; the queue of pending registrations is bounded."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from canvas.client import CanvasClient
from canvas.errors import CanvasConfigurationError
from lti.models import LaunchContext, Platform, RegistrationInvite
from lti.services.platforms import platforms_pending_purge
from tests.lti.platform import FakeCanvas
from tests.lti.test_dynamic_registration import OPENID_URL, REGISTRATION_URL, openid_configuration

pytestmark = pytest.mark.django_db

ATTACKER_OPENID = "https://attacker.example/openid-configuration"
ATTACKER_REGISTER = "https://attacker.example/register"


@pytest.fixture
def attacker(rsps):
    """A 'Canvas' of the attacker's own: issuer canvas.instructure.com, everything else theirs."""
    rsps.add(
        "GET",
        ATTACKER_OPENID,
        json=openid_configuration(
            authorization_endpoint="https://attacker.example/authorize",
            registration_endpoint=ATTACKER_REGISTER,
            jwks_uri="https://attacker.example/jwks",
            token_endpoint="https://attacker.example/login/oauth2/token",
        ),
    )
    rsps.add("POST", ATTACKER_REGISTER, json={"client_id": "10000000000666", "deployment_id": "1:evil"})
    return rsps


def register(client, url=ATTACKER_OPENID, path="/lti/register/"):
    return client.get(path, {"openid_configuration": url, "registration_token": "t"}, secure=True)


def test_an_anonymous_registration_is_trusted_nowhere(client, attacker, settings):
    settings.LIVE_EVENTS_ALLOW_UNSIGNED = True
    settings.LIVE_EVENTS_SHARED_SECRET = "s3cret"
    assert register(client).status_code == 200
    platform = Platform.objects.get()
    assert platform.status == Platform.STATUS_PENDING and platform.deployments.get().deployment_id == "1:evil"

    # CSP: the attacker's hosts may not frame the tool's pages.
    csp = client.get("/lti/config.json")["Content-Security-Policy"]
    assert "attacker.example" not in csp

    # OIDC login: refused, and no redirect to the attacker's login URL (an open redirect).
    login = client.get(
        "/lti/login/",
        {"iss": platform.issuer, "login_hint": "x", "client_id": platform.client_id, "target_link_uri": "x"},
        secure=True,
    )
    assert login.status_code == 403 and "Location" not in login
    assert b"waiting for approval" in login.content

    # Live Events posted to its URL are not accepted.
    event = client.post(
        f"/events/canvas/{platform.live_events_key}/?secret=s3cret",
        data='{"metadata": {"event_name": "grade_change"}, "body": {}}',
        content_type="application/json",
    )
    assert event.status_code == 404

    # Workers never call its Canvas API (nor send an API token there).
    platform.api_base_url, platform.api_token = "https://attacker.example", "token"
    with pytest.raises(CanvasConfigurationError, match="approved"):
        CanvasClient(platform)


def test_a_launch_from_a_platform_no_longer_approved_is_refused(client, rsps):
    """A launch is checked against the trusted platforms too, not only the login before it."""
    canvas = FakeCanvas()
    canvas.register()
    canvas.seed_jwks()
    login, state, nonce = canvas.login(client)
    assert login.status_code == 302
    Platform.objects.filter(pk=canvas.platform.pk).update(status=Platform.STATUS_PENDING)
    token = canvas.sign(canvas.claims(nonce=nonce, roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]))

    response = canvas.post_launch(client, state=state, id_token=token)

    assert response.status_code == 403
    assert not LaunchContext.objects.exists()


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.edu", "pw-long-enough-123")
    client.force_login(user)
    return client


def test_the_admin_sees_what_they_approve_then_the_platform_is_trusted(client, admin_client, attacker):
    register(client)
    platform = Platform.objects.get()
    changelist = "/admin/lti/platform/"

    page = admin_client.post(
        changelist, {"action": "approve_registrations", "_selected_action": [platform.pk]}, secure=True
    )

    assert page.status_code == 200
    html = page.content.decode()
    for shown in (
        platform.issuer,
        platform.client_id,
        "1:evil",
        "https://attacker.example/jwks",
        "https://attacker.example/authorize",
        "https://attacker.example/login/oauth2/token",
        "https://attacker.example</code> (new)",
        "127.0.0.1",
    ):
        assert shown in html, shown
    platform.refresh_from_db()
    assert platform.status == Platform.STATUS_PENDING  # nothing approved before the confirmation

    done = admin_client.post(
        changelist,
        {"action": "approve_registrations", "_selected_action": [platform.pk], "confirm": "yes"},
        secure=True,
    )

    assert done.status_code == 302
    platform.refresh_from_db()
    assert platform.is_trusted and platform.approved_by == "root (admin)" and platform.approved_at
    assert "https://attacker.example" in client.get("/lti/config.json")["Content-Security-Policy"]


def test_pending_registrations_are_bounded_and_expire(client, attacker, settings):
    settings.LTI_PENDING_REGISTRATIONS_MAX = 1
    assert register(client).status_code == 200
    fetched = len(attacker.calls)

    full = register(client, url=OPENID_URL)

    assert full.status_code == 503
    assert len(attacker.calls) == fetched  # refused before this server fetched anything
    assert Platform.objects.count() == 1

    # After LTI_PENDING_REGISTRATION_DAYS a pending registration is gone, making room again.
    Platform.objects.update(created_at=timezone.now() - timedelta(days=settings.LTI_PENDING_REGISTRATION_DAYS + 1))
    attacker.add("GET", OPENID_URL, json=openid_configuration())
    attacker.add("POST", REGISTRATION_URL, json={"client_id": "10000000000777"})
    assert register(client, url=OPENID_URL).status_code == 200
    assert list(Platform.objects.values_list("client_id", flat=True)) == ["10000000000777"]


def test_an_approved_platform_is_kept_when_pending_ones_expire(client):
    canvas = FakeCanvas()
    canvas.register()
    Platform.objects.update(created_at=timezone.now() - timedelta(days=365))
    assert platforms_pending_purge() == 0
    assert Platform.objects.filter(pk=canvas.platform.pk).exists()


def test_an_admins_one_time_link_registers_approved_once(client, admin_client, rsps):
    rsps.add("GET", OPENID_URL, json=openid_configuration())
    rsps.add("POST", REGISTRATION_URL, json={"client_id": "10000000000888"})
    added = admin_client.post(
        "/admin/lti/registrationinvite/add/", {"note": "State University", "days": 7}, secure=True, follow=True
    )
    (message,) = [str(m) for m in added.context["messages"] if "Registration link" in str(m)]
    link = message.split("): ", 1)[1].split(" ", 1)[0]
    path = link.split("://", 1)[1].split("/", 1)[1]
    admin_client.logout()

    assert register(client, url=OPENID_URL, path="/" + path).status_code == 200

    platform = Platform.objects.get()
    assert platform.is_trusted and platform.approved_by.startswith("invite: State University (by root)")
    invite = RegistrationInvite.objects.get()
    assert invite.used_at and invite.platform == platform
    again = register(client, url=OPENID_URL, path="/" + path)
    assert again.status_code == 403 and b"registration link is not valid" in again.content


def test_lti_services_are_never_called_for_a_pending_platform(client, attacker):
    from pylti1p3.exception import LtiException

    from lti.adapter.connector import service_connector

    register(client)
    with pytest.raises(LtiException, match="approved"):
        service_connector(platform=Platform.objects.get())


def test_a_view_only_staff_user_cannot_approve(client, attacker):
    from django.contrib.auth.models import Permission

    register(client)
    platform = Platform.objects.get()
    viewer = get_user_model().objects.create_user("viewer", "v@example.edu", "pw-long-enough-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_platform"))
    client.force_login(viewer)

    client.post(
        "/admin/lti/platform/",
        {"action": "approve_registrations", "_selected_action": [platform.pk], "confirm": "yes"},
        secure=True,
    )

    platform.refresh_from_db()
    assert platform.status == Platform.STATUS_PENDING
