"""Canvas Credentials (Badgr API v2) against a stand-in built with `responses`, shaped like
badgr-server's v2 API (reference openbadges.md §3): /o/token, badge class assertions, revoke."""

import json
import re
import secrets
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import responses
from django.utils import timezone

from badging.models import AuditEvent, CanvasCredentialsConnection, Delivery
from badging.services import canvas_credentials, notifications
from badging.services.issuance import award_revoke
from tests.badging.test_public import issued_award

pytestmark = pytest.mark.django_db
API = "https://api.eu.badgr.io"
ENTITY = "bc-entity-1"


class BadgrStandIn:
    """Issues bearer tokens, creates and revokes assertions, and can be told to misbehave."""

    def __init__(self, rsps):
        self.tokens = {}  # access token -> expired?
        self.refresh_tokens = set()
        self.assertions = {}
        self.token_requests = []
        self.fail_next_issue = 0
        rsps.add_callback(responses.POST, f"{API}/o/token", callback=self.token)
        rsps.add_callback(responses.POST, f"{API}/v2/badgeclasses/{ENTITY}/assertions", callback=self.issue)
        rsps.add_callback(responses.GET, f"{API}/v2/badgeclasses/{ENTITY}/assertions", callback=self.list)
        rsps.add_callback(responses.DELETE, re.compile(rf"{API}/v2/assertions/[\w-]+"), callback=self.revoke)

    def _new_token(self):
        access, refresh = secrets.token_hex(8), secrets.token_hex(8)
        self.tokens[access] = False
        self.refresh_tokens.add(refresh)
        return (
            200,
            {},
            json.dumps(
                {
                    "access_token": access,
                    "token_type": "Bearer",
                    "expires_in": 86400,
                    "refresh_token": refresh,
                    "scope": "rw:issuer",
                }
            ),
        )

    def token(self, request):
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        self.token_requests.append(form["grant_type"])
        if form["grant_type"] == "password":
            if (form.get("username"), form.get("password")) != ("issuer@uni.example.edu", "s3cret"):
                return 400, {}, json.dumps({"error": "invalid_grant"})
            return self._new_token()
        if form["grant_type"] == "client_credentials":
            if (form.get("client_id"), form.get("client_secret"), form.get("scope")) != (
                "app-1",
                "app-s3cret",
                "rw:issuer",
            ):
                return 401, {}, json.dumps({"error": "invalid_client"})
            status, headers, body = self._new_token()
            payload = json.loads(body)
            self.refresh_tokens.discard(payload.pop("refresh_token"))  # this grant issues no refresh token
            return status, headers, json.dumps(payload)
        if form["grant_type"] == "refresh_token" and form.get("refresh_token") in self.refresh_tokens:
            self.refresh_tokens.discard(form["refresh_token"])
            return self._new_token()
        return 400, {}, json.dumps({"error": "invalid_grant"})

    def _authorised(self, request):
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return token in self.tokens and not self.tokens[token]

    def issue(self, request):
        if not self._authorised(request):
            return 401, {}, json.dumps({"detail": "Authentication credentials were not provided."})
        if self.fail_next_issue:
            self.fail_next_issue -= 1
            return 503, {}, "Service Unavailable"
        body = json.loads(request.body)
        if "@" not in body["recipient"]["identity"]:
            return (
                400,
                {},
                json.dumps(
                    {"status": {"success": False, "description": "invalid"}, "fieldErrors": {"recipient": ["bad"]}}
                ),
            )
        entity_id = secrets.token_hex(6)
        self.assertions[entity_id] = {"body": body, "revoked": False, "reason": None}
        result = {
            "entityType": "Assertion",
            "entityId": entity_id,
            "openBadgeId": f"https://api.badgr.io/public/assertions/{entity_id}",
            "badgeclass": ENTITY,
            "recipient": {
                "identity": "sha256$…",
                "hashed": True,
                "type": "email",
                "plaintextIdentity": body["recipient"]["identity"],
            },
            "issuedOn": body["issuedOn"],
            "revoked": False,
        }
        return 201, {}, json.dumps({"status": {"success": True, "description": "ok"}, "result": [result]})

    def list(self, request):
        if not self._authorised(request):
            return 401, {}, "{}"
        email = parse_qs(request.url.split("?", 1)[1])["recipient"][0]
        result = [
            {"entityId": k, "revoked": v["revoked"]}
            for k, v in self.assertions.items()
            if v["body"]["recipient"]["identity"] == email
        ]
        return 200, {}, json.dumps({"status": {"success": True}, "result": result})

    def revoke(self, request):
        if not self._authorised(request):
            return 401, {}, "{}"
        entity_id = request.url.rsplit("/", 1)[1]
        if entity_id not in self.assertions:
            return 404, {}, json.dumps({"status": {"success": False, "description": "not found"}})
        self.assertions[entity_id].update(revoked=True, reason=json.loads(request.body)["revocation_reason"])
        return 200, {}, json.dumps({"status": {"success": True}})


@pytest.fixture
def badgr():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield BadgrStandIn(rsps)


@pytest.fixture
def award(settings):
    settings.PUBLIC_BASE_URL = "https://badges.uni.example.edu"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    award = issued_award(base=settings.PUBLIC_BASE_URL)
    CanvasCredentialsConnection.objects.create(
        issuer=award.badge_class.issuer,
        enabled=True,
        api_base_url=API,
        username="issuer@uni.example.edu",
        password="s3cret",
        badge_class_entity_ids={award.badge_class.key: ENTITY},
    )
    return award


def second_award(award):
    """Another learner's award of a second badge class of the same issuer, mapped there too."""
    other = issued_award(base="https://badges.uni.example.edu", recipient_email="grace@uni.example.edu")
    type(other.badge_class).objects.filter(pk=other.badge_class.pk).update(issuer=award.badge_class.issuer)
    CanvasCredentialsConnection.objects.update(
        badge_class_entity_ids={award.badge_class.key: ENTITY, other.badge_class.key: ENTITY}
    )
    other.refresh_from_db()
    return type(other).objects.select_related("badge_class").get(pk=other.pk)


def push(award):
    delivery = Delivery.objects.create(award=award, kind=Delivery.KIND_CANVAS_CREDENTIALS)
    notifications.deliveries_send(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    return delivery


def test_award_is_issued_in_canvas_credentials(badgr, award):
    delivery = push(award)
    assert delivery.status == Delivery.SENT and delivery.external_id in badgr.assertions
    sent = badgr.assertions[delivery.external_id]["body"]
    assert sent["recipient"] == {"identity": "ada@uni.example.edu", "type": "email", "hashed": True}
    assert sent["notify"] is False  # the learner already gets our email; Badgr's is opt-in
    assert sent["evidence"][0]["url"] == f"https://badges.uni.example.edu/public/assertions/{award.public_id}"
    assert sent["issuedOn"].endswith("+00:00")
    assert badgr.token_requests == ["password"]
    connection = CanvasCredentialsConnection.objects.get()
    assert connection.access_token and connection.token_expires_at > timezone.now()


def test_expired_token_is_refreshed_on_401(badgr, award):
    push(award)
    connection = CanvasCredentialsConnection.objects.get()
    badgr.tokens[connection.access_token] = True  # expired there before our clock says so
    delivery = push(second_award(award))
    assert delivery.status == Delivery.SENT
    assert badgr.token_requests == ["password", "refresh_token"]


def test_outage_is_retried_without_issuing_twice_or_touching_the_award(badgr, award, caplog):
    badgr.fail_next_issue = 1
    delivery = push(award)
    assert delivery.status == Delivery.FAILED and "503" in delivery.last_error
    assert any(r.levelname == "ERROR" and "503" in r.message for r in caplog.records)  # alerts, then retries
    assert delivery.next_attempt_at > timezone.now()
    assert "503" in CanvasCredentialsConnection.objects.get().last_error
    award.refresh_from_db()
    assert not award.revoked  # the local award stands

    notifications.deliveries_send(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == Delivery.SENT and len(badgr.assertions) == 1
    notifications.deliveries_send(delivery_ids=[delivery.pk])
    assert len(badgr.assertions) == 1


def test_retry_after_a_lost_answer_finds_the_existing_assertion(badgr, award):
    delivery = push(award)
    entity_id = delivery.external_id
    # The push succeeded there but our record was lost (e.g. the worker died before commit).
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.FAILED, external_id="", next_attempt_at=timezone.now()
    )
    notifications.deliveries_send(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.external_id == entity_id and len(badgr.assertions) == 1


def test_wrong_password_is_a_visible_failure(badgr, award):
    CanvasCredentialsConnection.objects.update(password="wrong")
    delivery = push(award)
    assert delivery.status == Delivery.FAILED and "refused the login" in delivery.last_error


def test_revocation_propagates(badgr, award, django_capture_on_commit_callbacks, monkeypatch):
    delivery = push(award)
    sent = []
    monkeypatch.setattr(
        "badging.services.issuance.current_app.send_task", lambda name, args=None, **kw: sent.append((name, args))
    )
    with django_capture_on_commit_callbacks(execute=True):
        award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    assert sent == [("badging.canvas_credentials_revoke", [delivery.pk])]
    canvas_credentials.canvas_credentials_revoke(delivery_id=delivery.pk)
    there = badgr.assertions[delivery.external_id]
    assert there["revoked"] is True and there["reason"] == "Issued in error"
    assert AuditEvent.objects.filter(action="canvas_credentials_revoked", award=award).exists()


def test_disabled_connection_is_not_used(badgr, award):
    CanvasCredentialsConnection.objects.update(enabled=False)
    delivery = push(award)
    assert delivery.status == Delivery.FAILED and "not enabled" in delivery.last_error
    assert badgr.token_requests == []


def test_token_expiry_is_honoured_before_calling(badgr, award):
    push(award)
    CanvasCredentialsConnection.objects.update(token_expires_at=timezone.now() - timedelta(minutes=5))
    assert push(second_award(award)).status == Delivery.SENT
    assert badgr.token_requests == ["password", "refresh_token"]


def test_client_credentials_login_and_renewal_without_a_refresh_token(badgr, award):
    CanvasCredentialsConnection.objects.update(username="", password="", client_id="app-1", client_secret="app-s3cret")
    assert push(award).status == Delivery.SENT
    connection = CanvasCredentialsConnection.objects.get()
    assert connection.refresh_token == ""
    badgr.tokens[connection.access_token] = True  # expired there: a 401, then a new client-credentials token
    assert push(second_award(award)).status == Delivery.SENT
    assert badgr.token_requests == ["client_credentials", "client_credentials"]
    CanvasCredentialsConnection.objects.update(client_secret="wrong", token_expires_at=timezone.now())
    other = second_award(award)
    failed = push(other)
    assert failed.status == Delivery.FAILED and "refused the login (401)" in failed.last_error
    assert "refused the login" in CanvasCredentialsConnection.objects.get().last_error
