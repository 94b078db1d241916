"""Canvas Credentials (Badgr API v2) against tests/badging/badgr_double.py, which behaves as
badgr-server does (each behaviour cites its badgr-server file there and in the tests below)."""

import json
from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from badging.models import AuditEvent, CanvasCredentialsConnection, Delivery
from badging.services import canvas_credentials, notifications
from badging.services.canvas_credentials import assertions, markdown
from badging.services.issuance.review import award_revoke
from badging.tasks import issuance as tasks
from tests.badging.badgr_double import API, OWNER, PASSWORD, BadgrDouble
from tests.badging.test_public import issued_award

pytestmark = pytest.mark.django_db
ENTITY = "bc-entity-1"
ENTITY2 = "bc-entity-2"
BASE = "https://badges.uni.example.edu"


@pytest.fixture
def badgr():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield BadgrDouble(rsps)


@pytest.fixture
def award(settings):
    settings.PUBLIC_BASE_URL = BASE
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    award = issued_award(base=settings.PUBLIC_BASE_URL)
    CanvasCredentialsConnection.objects.create(
        issuer=award.badge_class.issuer,
        enabled=True,
        api_base_url=API,
        username=OWNER,
        password=PASSWORD,
        badge_class_entity_ids={award.badge_class.key: ENTITY},
    )
    return award


def second_award(award, *, recipient_email="grace@uni.example.edu", entity=ENTITY2):
    """Another award of a second badge class of the same issuer, mapped to its own Badgr badge class."""
    other = issued_award(base=BASE, recipient_email=recipient_email)
    type(other.badge_class).objects.filter(pk=other.badge_class.pk).update(issuer=award.badge_class.issuer)
    connection = CanvasCredentialsConnection.objects.get()
    mapping = {**connection.badge_class_entity_ids, other.badge_class.key: entity}
    CanvasCredentialsConnection.objects.update(badge_class_entity_ids=mapping)
    return type(other).objects.select_related("badge_class").get(pk=other.pk)


def push(award):
    delivery, _ = Delivery.objects.get_or_create(award=award, kind=Delivery.KIND_CANVAS_CREDENTIALS)
    notifications.deliveries_send(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    return delivery


def revoke(award, reason="Issued in error"):
    award_revoke(award_id=award.pk, reason=reason, actor="admin:alice")
    delivery = Delivery.objects.get(award=award, kind=Delivery.KIND_CANVAS_CREDENTIALS)
    return delivery


def marker(award):
    return f"{BASE}/public/assertions/{award.public_id}"


def test_award_is_issued_in_canvas_credentials(badgr, award):
    delivery = push(award)
    assert delivery.status == Delivery.SENT and delivery.external_id in badgr.assertions
    sent = badgr.assertions[delivery.external_id]["body"]
    assert sent["recipient"] == {"identity": "ada@uni.example.edu", "type": "email", "hashed": True}
    assert sent["notify"] is False  # the learner already gets our email; Badgr's is opt-in
    assert sent["evidence"][0]["url"] == marker(award)
    assert sent["issuedOn"].endswith("+00:00")
    assert badgr.token_requests == ["password"]
    connection = CanvasCredentialsConnection.objects.get()
    assert connection.access_token and connection.token_expires_at > timezone.now()
    assert connection.last_result.startswith(f"Issued award {award.public_id} as assertion {delivery.external_id}")


def test_expired_token_is_refreshed_on_401(badgr, award):
    push(award)
    badgr.expire_tokens()  # expired there before our clock says so
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


def test_lost_answer_on_a_first_attempt_is_caught_by_badgrs_duplicate_refusal(badgr, award):
    """badgr-server issuer/serializers_v2.py: allowDuplicateAwards false refuses a second live
    award; the assertion carrying this award's marker is then adopted, not issued twice."""
    entity_id = badgr.add_assertion(ENTITY, award.recipient_email, evidence_url=marker(award))
    delivery = push(award)  # attempts == 0: no lookup first
    assert delivery.status == Delivery.SENT and delivery.external_id == entity_id
    assert len(badgr.assertions) == 1


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


def test_revocation_propagates(badgr, award, django_capture_on_commit_callbacks, enqueued):
    delivery = push(award)
    with django_capture_on_commit_callbacks(execute=True):
        award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    assert enqueued.calls == [("badging.canvas_credentials_revoke", [delivery.pk])]
    canvas_credentials.canvas_credentials_revoke(delivery_id=delivery.pk)
    there = badgr.assertions[delivery.external_id]
    assert there["revoked"] is True and there["reason"] == "Issued in error"
    assert AuditEvent.objects.filter(action="canvas_credentials_revoked", award=award).exists()
    assert "revoked (200)" in CanvasCredentialsConnection.objects.get().last_result


def test_a_passing_revoke_failure_is_retried_by_the_task(badgr, award):
    """A 503 from Canvas Credentials is passing: the task retries (Celery autoretry, the task
    backoff; run eagerly here, so without the waits) until the copy is revoked."""
    delivery = push(award)
    delivery = revoke(award)
    badgr.fail_next_revoke = 2
    tasks.canvas_credentials_revoke.apply(args=[delivery.pk])
    assert [m for m, _ in badgr.requests].count("DELETE") == 3
    assert badgr.assertions[delivery.external_id]["revoked"] is True
    assert AuditEvent.objects.filter(action="canvas_credentials_revoked", award=award).exists()


# --- 1. Revoking what Badgr already revoked ------------------------------------------------------


def test_revoking_what_badgr_already_revoked_is_done(badgr, award):
    """badgr-server issuer/models.py BadgeInstance.revoke raises "Assertion is already revoked",
    which issuer/api.py BadgeInstanceDetail.delete answers as 400 (entity/views.py envelope).
    It happens when an admin revoked it in Badgr first, or a worker died after the DELETE."""
    delivery = push(award)
    badgr.assertions[delivery.external_id].update(revoked=True, reason="revoked in Badgr by an admin")
    delivery = revoke(award)
    canvas_credentials.canvas_credentials_revoke(delivery_id=delivery.pk)
    event = AuditEvent.objects.get(action="canvas_credentials_revoked", award=award)
    assert "Assertion is already revoked" in event.detail["answer"]
    delivery.refresh_from_db()
    assert delivery.last_error == ""
    # and the reconciler no longer has anything to re-queue for it
    Delivery.objects.filter(pk=delivery.pk)
    assert not Delivery.objects.filter(pk=delivery.pk).exclude(
        award__in=AuditEvent.objects.filter(action="canvas_credentials_revoked").values("award")
    )


# --- 2. A permission failure on revoke -----------------------------------------------------------


def test_revoke_refused_for_lack_of_permission_is_a_visible_failure_not_success(badgr, award):
    """badgr-server entity/api.py VersionedObjectMixin.get_object raises Http404 when the token's
    user may not edit the assertion, and entity/views.py answers it as 404 "entity not found or
    insufficient privileges", the same as for a missing one. The public assertion page
    (issuer/public_api.py BadgeInstanceJson) still shows it live: that is not done."""
    push(award)
    theirs = badgr.add_assertion(ENTITY, award.recipient_email, owner="someone-else")
    delivery = revoke(award)
    Delivery.objects.filter(pk=delivery.pk).update(external_id=theirs)
    with pytest.raises(canvas_credentials.CanvasCredentialsRefused) as refused:
        canvas_credentials.canvas_credentials_revoke(delivery_id=delivery.pk)
    assert refused.value.permanent
    assert not AuditEvent.objects.filter(action="canvas_credentials_revoked", award=award).exists()
    assert badgr.assertions[theirs]["revoked"] is False
    delivery.refresh_from_db()
    assert "entity not found or insufficient privileges" in delivery.last_error
    assert "still live there" in delivery.last_error
    connection = CanvasCredentialsConnection.objects.get()
    assert "entity not found or insufficient privileges" in connection.last_result
    # The task records it and stops (no retry loop); the reconciler may try again later.
    tasks.canvas_credentials_revoke.apply(args=[delivery.pk]).get()


def test_revoke_of_an_assertion_deleted_in_badgr_is_done(badgr, award):
    """badgr-server: 404 from the DELETE and from the public page (issuer/public_api.py): gone."""
    delivery = push(award)
    del badgr.assertions[delivery.external_id]
    delivery = revoke(award)
    canvas_credentials.canvas_credentials_revoke(delivery_id=delivery.pk)
    event = AuditEvent.objects.get(action="canvas_credentials_revoked", award=award)
    assert "no longer exists" in event.detail["answer"]


# --- 3. Mapping rule: one badge class to one Badgr badge class ----------------------------------


def test_two_badge_classes_on_one_badgr_badge_class_are_refused(badgr, award):
    """badgr-server issuer/serializers_v2.py refuses a second live award of a badge class to one
    email, so two of our badge classes mapped to one Badgr badge class would share an assertion."""
    other = second_award(award, recipient_email=award.recipient_email, entity=ENTITY)
    delivery = push(other)
    assert delivery.status == Delivery.FAILED and delivery.next_attempt_at is None
    assert "mapped from several badge classes" in delivery.last_error
    assert badgr.token_requests == [] and badgr.assertions == {}


def test_lost_answer_lookup_never_adopts_another_awards_assertion(badgr, award):
    """badgr-server issuer/api.py BadgeInstanceList filters by recipient email only; an
    assertion of the same badge class and email that another award (or an admin by hand) made
    must not be taken for this award's: only this award's marker (its public URL) counts."""
    theirs = badgr.add_assertion(ENTITY, award.recipient_email, evidence_url=f"{BASE}/public/assertions/other-award")
    badgr.fail_next_issue = 1
    delivery = push(award)
    assert delivery.status == Delivery.FAILED
    notifications.deliveries_send(delivery_ids=[delivery.pk])  # attempts >= 1: the lookup runs
    delivery.refresh_from_db()
    assert delivery.external_id != theirs
    assert delivery.status == Delivery.FAILED and "not this award" in delivery.last_error
    assert delivery.next_attempt_at is not None  # clears once a pending revocation reaches Badgr
    # Once the other one is revoked there, this award gets its own assertion.
    badgr.assertions[theirs]["revoked"] = True
    notifications.deliveries_send(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == Delivery.SENT and delivery.external_id not in ("", theirs)
    assert badgr.assertions[delivery.external_id]["evidence"][0]["url"] == marker(award)


# --- 4. Canvas text in Badgr's Markdown, and permanent 400s ---------------------------------------


def test_canvas_text_is_escaped_for_badgrs_markdown(badgr, award):
    """badgr-server mainsite/serializers.py MarkdownCharField: strip_tags, then 400 "Images not
    supported in markdown" for "![". Canvas names reach Badgr intact and its list stays a list."""
    type(award).objects.filter(pk=award.pk).update(
        evidence_narrative=(
            "Mastered every credentialing assessment in Data <b>Data</b> 101 & <Stats>:\n\n"
            "- ![chart](x) *Cleaning* a_data_set\n- 1. Intro\n\nand received a final grade."
        )
    )
    award.refresh_from_db()
    delivery = push(award)
    assert delivery.status == Delivery.SENT, delivery.last_error
    stored = badgr.assertions[delivery.external_id]["narrative"]
    assert "Data &lt;b&gt;Data&lt;/b&gt; 101 &amp; &lt;Stats&gt;:" in stored
    assert "![" not in stored and "\n- \\!\\[chart\\](x) \\*Cleaning\\* a\\_data\\_set\n" in stored
    assert "\n- 1\\. Intro\n" in stored
    assert badgr.assertions[delivery.external_id]["evidence"][0]["narrative"] == stored


def test_markdown_escaping_renders_back_to_the_canvas_text():
    """What Badgr shows after rendering the Markdown is the text Canvas had."""
    import html

    text = "Data <b>Data</b> 101 & <Stats> ![x](y) *a* _b_ `c` #d [e]"
    escaped = markdown._escape_text(text)
    unescaped = html.unescape(escaped.replace("\\", ""))
    assert unescaped == text and "<" not in escaped and "![" not in escaped


def test_a_permanent_400_is_shown_and_not_retried(badgr, award, caplog):
    """badgr-server answers validation failures as 400 "bad request" with fieldErrors
    (entity/views.py): retrying the same request cannot help."""
    badgr.refuse_next_issue = {"issuedOn": ["Only issuedOn dates after the introduction of the Gregorian calendar"]}
    delivery = push(award)
    assert delivery.status == Delivery.FAILED and delivery.next_attempt_at is None
    assert "(400): bad request" in delivery.last_error and "Gregorian" in delivery.last_error
    assert "Not retried" in delivery.last_error
    assert "Gregorian" in CanvasCredentialsConnection.objects.get().last_result
    # The reconciler does not pick it up again.
    from badging.services.issuance.queueing import awards_reconcile

    assert awards_reconcile()["deliveries_queued"] == 0


# --- 5. A refused login ---------------------------------------------------------------------------


def test_refused_login_is_not_retried_until_the_credentials_change(badgr, award):
    """badgr-server mainsite/utils.py throttleable: each failed login backs the username off
    2^n seconds up to an hour (429 "login attempts throttled"). One refusal stops all logins
    with those credentials until an admin changes them."""
    CanvasCredentialsConnection.objects.update(password="wrong")
    first = push(award)
    assert first.status == Delivery.FAILED and first.next_attempt_at is None
    assert "refused the login (400): invalid_grant Invalid credentials given." in first.last_error
    connection = CanvasCredentialsConnection.objects.get()
    assert connection.login_refused and connection.login_refused_at
    assert badgr.token_requests == ["password"]

    other = push(second_award(award))
    assert other.status == Delivery.FAILED and "not trying again until an admin changes" in other.last_error
    delivery = revoke(award)
    Delivery.objects.filter(pk=delivery.pk).update(external_id="some-assertion")
    with pytest.raises(canvas_credentials.CanvasCredentialsLoginRefused):
        canvas_credentials.canvas_credentials_revoke(delivery_id=delivery.pk)
    assert badgr.token_requests == ["password"]  # Badgr was not asked again

    connection = CanvasCredentialsConnection.objects.get()
    connection.password = PASSWORD
    connection.save(update_fields=["password"])
    assert not CanvasCredentialsConnection.objects.get().login_refused
    badgr.backoff.clear()  # the 2 s lock-out of the one failure has passed
    Delivery.objects.filter(pk=other.pk).update(next_attempt_at=timezone.now())
    assert push(other.award).status == Delivery.SENT
    assert CanvasCredentialsConnection.objects.get().login_refused_at is None


def test_client_credentials_login_and_renewal_without_a_refresh_token(badgr, award):
    CanvasCredentialsConnection.objects.update(username="", password="", client_id="app-1", client_secret="app-s3cret")
    assert push(award).status == Delivery.SENT
    connection = CanvasCredentialsConnection.objects.get()
    assert connection.refresh_token == ""
    badgr.expire_tokens()  # expired there: a 401, then a new client-credentials token
    assert push(second_award(award)).status == Delivery.SENT
    assert badgr.token_requests == ["client_credentials", "client_credentials"]
    CanvasCredentialsConnection.objects.update(client_secret="wrong", token_expires_at=timezone.now())
    third = issued_award(base=BASE, recipient_email="lin@uni.example.edu")
    type(third.badge_class).objects.filter(pk=third.badge_class.pk).update(issuer=award.badge_class.issuer)
    mapping = {**CanvasCredentialsConnection.objects.get().badge_class_entity_ids, third.badge_class.key: "bc-3"}
    CanvasCredentialsConnection.objects.update(badge_class_entity_ids=mapping)
    failed = push(type(third).objects.get(pk=third.pk))
    assert failed.status == Delivery.FAILED and "refused the login (401): invalid_client" in failed.last_error
    assert "refused the login" in CanvasCredentialsConnection.objects.get().last_error


def test_client_credentials_renew_by_their_grant_not_a_refresh_token(badgr, award):
    """badgr-server mainsite/utils.py keys the login back-off by username, or by the client's
    address when there is none: a refused refresh would throttle the client-credentials grant
    too. Applications issue refresh tokens unless told not to (mainsite/models.py ApplicationInfo)."""
    badgr.apps["app-1"] = ("app-s3cret", OWNER, ["rw:issuer"], True)
    CanvasCredentialsConnection.objects.update(username="", password="", client_id="app-1", client_secret="app-s3cret")
    assert push(award).status == Delivery.SENT
    assert CanvasCredentialsConnection.objects.get().refresh_token
    badgr.refresh_tokens.clear()  # rotated there, e.g. by a refresh whose answer was lost
    badgr.expire_tokens()
    assert push(second_award(award)).status == Delivery.SENT
    assert badgr.token_requests == ["client_credentials", "client_credentials"]


# --- 6. Scopes ------------------------------------------------------------------------------------


def test_client_credentials_are_preferred_and_scoped_to_rw_issuer(badgr, award):
    """badgr-server mainsite/oauth_validator.py gives password logins rw:profile rw:issuer
    rw:backpack whatever is asked; mainsite/oauth2_api.py TokenView limits an application's
    token to the scopes asked for and allowed to it."""
    push(award)
    assert CanvasCredentialsConnection.objects.get().token_scope == "rw:profile rw:issuer rw:backpack"
    CanvasCredentialsConnection.objects.update(
        client_id="app-1", client_secret="app-s3cret", access_token="", refresh_token=""
    )
    assert push(second_award(award)).status == Delivery.SENT
    assert badgr.token_requests == ["password", "client_credentials"]
    assert CanvasCredentialsConnection.objects.get().token_scope == "rw:issuer"


# --- Resync ---------------------------------------------------------------------------------------


def test_resync_reconciles_awards_with_what_badgr_holds(
    badgr, award, monkeypatch, enqueued, django_capture_on_commit_callbacks
):
    """Lists every assertion of the badge class (badgr-server issuer/api.py BadgeInstanceList
    with include_revoked, cursor pages and Link rel="next", mainsite/pagination.py) and matches
    them to awards by marker."""
    monkeypatch.setattr(assertions, "PAGE_SIZE", 2)
    kept = award
    dropped_there = issued_award(base=BASE, recipient_email="grace@uni.example.edu")
    revoked_here = issued_award(base=BASE, recipient_email="lin@uni.example.edu")
    badge_class = award.badge_class
    for other in (dropped_there, revoked_here):
        type(other).objects.filter(pk=other.pk).update(badge_class=badge_class)
        other.refresh_from_db()
    kept_delivery, dropped_delivery, revoked_delivery = push(kept), push(dropped_there), push(revoked_here)
    assert {d.status for d in (kept_delivery, dropped_delivery, revoked_delivery)} == {Delivery.SENT}
    del badgr.assertions[dropped_delivery.external_id]  # deleted in Badgr by hand
    badgr.order.remove(dropped_delivery.external_id)
    # The revoke task is left queued: its propagation is what resync catches up on.
    award_revoke(award_id=revoked_here.pk, reason="Grade corrected", actor="admin:alice")
    Delivery.objects.filter(pk=kept_delivery.pk).update(external_id="stale")  # pointing elsewhere
    badgr.add_assertion(ENTITY, "someone@else.example", evidence_url="https://elsewhere.example/a/1")
    badgr.add_assertion(ENTITY, "old@uni.example.edu", revoked=True)

    enqueued.clear()
    connection = CanvasCredentialsConnection.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        report = canvas_credentials.canvas_credentials_resync(
            connection_id=connection.pk, links=notifications.delivery_links(), actor="admin:alice"
        )
    counts = report[badge_class.key]
    assert counts["assertions"] == 4 and counts["matched"] == 1 and counts["relinked"] == 1
    assert counts["repushed"] == 1 and counts["revoked_there"] == 1 and counts["not_ours"] == 1
    assert badgr.assertions[revoked_delivery.external_id]["reason"] == "Grade corrected"
    assert enqueued.calls == [("badging.deliveries_send", [[dropped_delivery.pk]])]
    kept_delivery.refresh_from_db()
    assert kept_delivery.external_id in badgr.assertions
    assert "1 pushed again" in CanvasCredentialsConnection.objects.get().last_result
    notifications.deliveries_send(delivery_ids=[dropped_delivery.pk])
    dropped_delivery.refresh_from_db()
    assert dropped_delivery.status == Delivery.SENT and dropped_delivery.external_id in badgr.assertions
    listing = [url for method, url in badgr.requests if method == "GET" and "cursor=" in url]
    assert listing, "the second page was followed"
    assert AuditEvent.objects.filter(action="canvas_credentials_resynced").exists()
    # A second resync finds everything in place.
    report = canvas_credentials.canvas_credentials_resync(
        connection_id=connection.pk, links=notifications.delivery_links(), actor="admin:alice"
    )
    assert report[badge_class.key]["matched"] == 2 and report[badge_class.key]["repushed"] == 0
    assert report[badge_class.key]["revoked_there"] == 0


def test_resync_reports_what_it_could_not_read(badgr, award):
    CanvasCredentialsConnection.objects.update(badge_class_entity_ids={award.badge_class.key: "not-there"})
    report = canvas_credentials.canvas_credentials_resync(
        connection_id=CanvasCredentialsConnection.objects.get().pk,
        links=notifications.delivery_links(),
        actor="admin:alice",
    )
    assert "entity not found or insufficient privileges" in report[award.badge_class.key]["error"]
    assert json.dumps(report)
