"""Opt-in: the product's real push, revoke and resync against a live badgr-server.

Skipped unless BADGR_TEST_URL, BADGR_TEST_CLIENT_ID, BADGR_TEST_CLIENT_SECRET,
BADGR_TEST_USERNAME, BADGR_TEST_PASSWORD, BADGR_TEST_BADGE_CLASS and BADGR_TEST_BADGE_CLASS_2 are
set; the README ("Canvas Credentials (Badgr)") says how to start one locally and
scripts/badgr_local_setup.py prints these variables. Every run uses fresh recipient emails, so it
can be repeated against the same server. Nothing is mocked: HTTP goes to that server.
"""

import os
import secrets

import pytest
import requests
from django.utils import timezone

from badging.models import AuditEvent, CanvasCredentialsConnection, Delivery
from badging.services import canvas_credentials, notifications
from badging.services.canvas_credentials import assertions
from badging.services.issuance.review import award_revoke
from tests.badging.test_public import issued_award

# BADGR_TEST_FOREIGN_ASSERTION (optional): another account's assertion, for the permission case.
NAMES = ["URL", "CLIENT_ID", "CLIENT_SECRET", "USERNAME", "PASSWORD", "BADGE_CLASS", "BADGE_CLASS_2"]
ENV = {name: os.environ.get(f"BADGR_TEST_{name}", "") for name in NAMES}
BASE = "https://badges.uni.example.edu"

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not all(ENV.values()), reason="no live badgr-server configured (BADGR_TEST_* variables)"),
]


@pytest.fixture
def live(settings):
    settings.PUBLIC_BASE_URL = BASE
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    run = secrets.token_hex(4)
    first = issued_award(base=BASE, recipient_email=f"ada-{run}@uni.example.edu")
    type(first).objects.filter(pk=first.pk).update(
        evidence_narrative=(
            "Mastered every credentialing assessment in Data <b>Data</b> 101 & <Stats>:\n\n"
            "- ![chart](x) *Cleaning* a_data_set\n- 1. Intro\n\nand received a final grade."
        )
    )
    first.refresh_from_db()
    connection = CanvasCredentialsConnection.objects.create(
        issuer=first.badge_class.issuer,
        enabled=True,
        api_base_url=ENV["URL"],
        client_id=ENV["CLIENT_ID"],
        client_secret=ENV["CLIENT_SECRET"],
        badge_class_entity_ids={first.badge_class.key: ENV["BADGE_CLASS"]},
    )
    return run, first, connection


def other_award(first, email, *, entity=None, same_badge_class=False):
    award = issued_award(base=BASE, recipient_email=email)
    if same_badge_class:
        type(award).objects.filter(pk=award.pk).update(badge_class=first.badge_class)
    else:
        type(award.badge_class).objects.filter(pk=award.badge_class.pk).update(issuer=first.badge_class.issuer)
        connection = CanvasCredentialsConnection.objects.get(issuer=first.badge_class.issuer)
        mapping = {**connection.badge_class_entity_ids, award.badge_class.key: entity}
        CanvasCredentialsConnection.objects.filter(pk=connection.pk).update(badge_class_entity_ids=mapping)
    return type(award).objects.select_related("badge_class").get(pk=award.pk)


def push(award):
    delivery, _ = Delivery.objects.get_or_create(award=award, kind=Delivery.KIND_CANVAS_CREDENTIALS)
    notifications.deliveries_send(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    return delivery


def there(entity_id):
    """The assertion as Badgr holds it, read with the product's stored token."""
    connection = CanvasCredentialsConnection.objects.get()
    response = requests.get(
        f"{ENV['URL']}/v2/assertions/{entity_id}",
        headers={"Authorization": f"Bearer {connection.access_token}"},
        timeout=20,
    )
    assert response.status_code == 200, response.text
    return response.json()["result"][0]


def test_push_revoke_and_resync_against_badgr_server(live, monkeypatch, enqueued):
    run, first, connection = live
    # Push, with Canvas names Badgr would otherwise refuse ("![") or strip (<b>, <Stats>).
    delivery = push(first)
    assert delivery.status == Delivery.SENT, delivery.last_error
    assertion = there(delivery.external_id)
    assert assertion["recipient"]["plaintextIdentity"] == first.recipient_email
    assert assertion["evidence"][0]["url"] == f"{BASE}/public/assertions/{first.public_id}"
    assert "Data &lt;b&gt;Data&lt;/b&gt; 101 &amp; &lt;Stats&gt;" in assertion["narrative"]
    assert "![" not in assertion["narrative"]
    assert CanvasCredentialsConnection.objects.get().token_scope == "rw:issuer"

    # A lost answer: the retry adopts this award's assertion, by its marker.
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.FAILED, external_id="", next_attempt_at=timezone.now()
    )
    notifications.deliveries_send(delivery_ids=[delivery.pk])
    assert Delivery.objects.get(pk=delivery.pk).external_id == delivery.external_id

    # Another badge class on its own Badgr badge class, same learner: its own assertion.
    second = other_award(first, first.recipient_email, entity=ENV["BADGE_CLASS_2"])
    second_delivery = push(second)
    assert second_delivery.status == Delivery.SENT and second_delivery.external_id != delivery.external_id

    # An assertion of the same badge class and email that is not this award's is never adopted.
    third = other_award(first, f"lin-{run}@uni.example.edu", same_badge_class=True)
    token = CanvasCredentialsConnection.objects.get().access_token
    hand = requests.post(
        f"{ENV['URL']}/v2/badgeclasses/{ENV['BADGE_CLASS']}/assertions",
        json={"recipient": {"identity": third.recipient_email}, "issuedOn": "2024-01-15T10:00:00+00:00"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )
    assert hand.status_code == 201, hand.text
    hand_id = hand.json()["result"][0]["entityId"]
    third_delivery = push(third)
    assert third_delivery.status == Delivery.FAILED and "not this award" in third_delivery.last_error
    assert third_delivery.external_id == ""

    # Revoked in Badgr first (400 "Assertion is already revoked"): done, not retried.
    revoked = requests.delete(
        f"{ENV['URL']}/v2/assertions/{delivery.external_id}",
        json={"revocation_reason": "Revoked in Badgr by an admin"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )
    assert revoked.status_code == 200, revoked.text
    award_revoke(award_id=first.pk, reason="Issued in error", actor="admin:alice")
    canvas_credentials.canvas_credentials_revoke(delivery_id=delivery.pk)
    event = AuditEvent.objects.get(action="canvas_credentials_revoked", award=first)
    assert "Assertion is already revoked" in event.detail["answer"]

    # Resync: the hand-made assertion is revoked there by an admin; the second award is revoked
    # here while its propagation never ran; the third award is then pushed again.
    requests.delete(
        f"{ENV['URL']}/v2/assertions/{hand_id}",
        json={"revocation_reason": "made by hand"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    ).raise_for_status()
    award_revoke(award_id=second.pk, reason="Grade corrected", actor="admin:alice")
    monkeypatch.setattr(assertions, "PAGE_SIZE", 2)  # follow Badgr's cursor pages (Link rel="next")
    report = canvas_credentials.canvas_credentials_resync(
        connection_id=connection.pk, links=notifications.delivery_links(), actor="admin:alice"
    )
    assert report[first.badge_class.key]["repushed"] == 1, report
    assert report[first.badge_class.key]["assertions"] >= 3, report  # more than one page
    assert report[second.badge_class.key]["revoked_there"] == 1, report
    assert there(second_delivery.external_id)["revoked"] is True
    notifications.deliveries_send(delivery_ids=[third_delivery.pk])
    third_delivery.refresh_from_db()
    assert third_delivery.status == Delivery.SENT, third_delivery.last_error
    assert there(third_delivery.external_id)["evidence"][0]["url"] == f"{BASE}/public/assertions/{third.public_id}"


def test_password_logins_get_every_scope_and_a_refused_login_is_not_repeated(live):
    run, first, connection = live
    CanvasCredentialsConnection.objects.filter(pk=connection.pk).update(
        client_id="", client_secret="", username=ENV["USERNAME"], password=ENV["PASSWORD"]
    )
    assert push(first).status == Delivery.SENT
    assert set(CanvasCredentialsConnection.objects.get().token_scope.split()) >= {"rw:issuer", "rw:backpack"}

    # A wrong login (an unknown account, so the real one is not locked out by Badgr's back-off).
    CanvasCredentialsConnection.objects.filter(pk=connection.pk).update(
        username=f"nobody-{run}@badgr.local", password="wrong", access_token="", refresh_token=""
    )
    refused = push(other_award(first, f"grace-{run}@uni.example.edu", same_badge_class=True))
    assert refused.status == Delivery.FAILED and refused.next_attempt_at is None
    assert "refused the login (400)" in refused.last_error or "refused the login (401)" in refused.last_error
    assert CanvasCredentialsConnection.objects.get().login_refused
    again = push(other_award(first, f"lin-{run}@uni.example.edu", same_badge_class=True))
    assert "not trying again until an admin changes the credentials" in again.last_error


@pytest.mark.skipif(
    not os.environ.get("BADGR_TEST_FOREIGN_ASSERTION"), reason="no other account's assertion configured"
)
def test_an_assertion_the_login_may_not_revoke_is_a_failure_not_success(live):
    """Another account's live assertion (scripts/badgr_local_setup.py makes one): Badgr answers
    the DELETE with 404 "entity not found or insufficient privileges", as for a missing one."""
    _run, first, _connection = live
    delivery = push(first)
    award_revoke(award_id=first.pk, reason="Issued in error", actor="admin:alice")
    Delivery.objects.filter(pk=delivery.pk).update(external_id=os.environ["BADGR_TEST_FOREIGN_ASSERTION"])
    with pytest.raises(canvas_credentials.CanvasCredentialsRefused):
        canvas_credentials.canvas_credentials_revoke(delivery_id=delivery.pk)
    assert not AuditEvent.objects.filter(action="canvas_credentials_revoked", award=first).exists()
    assert "entity not found or insufficient privileges" in Delivery.objects.get(pk=delivery.pk).last_error
    public = requests.get(
        f"{ENV['URL']}/public/assertions/{os.environ['BADGR_TEST_FOREIGN_ASSERTION']}",
        headers={"Accept": "application/json"},
        timeout=20,
    )
    assert public.status_code == 200 and not public.json().get("revoked")  # still live there
