"""Issuance services: exactly once, failures recorded and retried, reconciler, revocation, review."""

import io
import json
import re
import secrets
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from freezegun import freeze_time
from openbadges_bakery import unbake

from badging.models import AuditEvent, Award, AwardImage, Delivery, IssuerKey, LearnerProgress
from badging.openbadges import ob2
from badging.services.issuance import documents, issue, issuer_keys, policy, queueing, review
from tests import factories as f
from tests.badging.test_issuance_support import course_badge_with_assessments, eligible_progress

pytestmark = pytest.mark.django_db


@contextmanager
def another_worker_inserts_first(make_award):
    """Another worker's award lands between this worker's read of live awards and its own insert:
    `make_award()` runs just before the first INSERT into the awards table. Yields [its award]."""
    made: list = []

    def before_insert(execute, sql, params, many, context):
        # SQLite's bulk insert that ignores conflicts is written INSERT OR IGNORE INTO.
        if not made and re.match(r'\s*INSERT (OR IGNORE )?INTO "BADGING_AWARD"', sql.upper()):
            made.append(None)  # the other worker's own insert must not trigger this again
            made[0] = make_award()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(before_insert):
        yield made
    assert made, "this worker never inserted an award"


CANVAS = "https://canvas.example.edu"


@pytest.fixture(autouse=True)
def public_base(settings):
    settings.PUBLIC_BASE_URL = "https://badges.example.edu"


def canvas_email(rsps, learner, email, status=200):
    """What Canvas answers for this learner's primary email: in the course's users list (issuance
    reads stale emails 100 learners per request) and, for a learner that list leaves without one,
    the profile and email channels."""
    listed = getattr(rsps, "listed_emails", None)
    if listed is None:
        listed = rsps.listed_emails = {}

        def users_page(request):
            named = parse_qs(urlsplit(request.url).query).get("user_ids[]", [])
            if any(listed.get(u, (None, 200))[1] != 200 for u in named):
                return 503, {}, json.dumps({"errors": [{"message": "down"}]})
            return 200, {}, json.dumps([{"id": int(u), "name": u, "email": listed[u][0]} for u in named if u in listed])

        rsps.add_callback(responses.GET, re.compile(rf"{CANVAS}/api/v1/courses/[^/]+/users"), callback=users_page)
    listed[str(learner.canvas_user_id)] = (email, status)
    rsps.add(
        responses.GET,
        f"{CANVAS}/api/v1/users/{learner.canvas_user_id}/profile",
        json={"id": 1, "primary_email": email} if status == 200 else {"errors": [{"message": "down"}]},
        status=status,
    )
    rsps.add(
        responses.GET,
        f"{CANVAS}/api/v1/users/{learner.canvas_user_id}/communication_channels",
        json=[],
        status=status,
    )


def test_award_issue_issues_once_with_documents_images_and_email_delivery(
    rsps, enqueued, django_capture_on_commit_callbacks
):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    progress = eligible_progress(course_badge, email="old@uni.example.edu")
    canvas_email(rsps, progress.learner, "  Ada.Lovelace@Uni.Example.EDU ")

    with django_capture_on_commit_callbacks(execute=True):
        award = issue.award_issue(progress_id=progress.pk)

    assert award is not None
    assert award.recipient_email == "ada.lovelace@uni.example.edu"
    assert award.issued_on.microsecond == 0
    assert "Cleaning a data set" in award.evidence_narrative and "Weekly quiz" not in award.evidence_narrative
    progress.refresh_from_db()
    assert progress.state == LearnerProgress.ISSUED and progress.issue_status == "" and progress.issue_error == ""
    progress.learner.refresh_from_db()
    assert progress.learner.email == "ada.lovelace@uni.example.edu"  # re-read from Canvas just before issuing

    baked = AwardImage.objects.get(award=award, content_type="image/png")
    embedded = json.loads(unbake(io.BytesIO(bytes(baked.data))))
    assert embedded["id"] == f"https://badges.example.edu/public/assertions/{award.public_id}"
    assert embedded["recipient"]["identity"] == ob2.identity_hash("ada.lovelace@uni.example.edu", award.salt)
    assert AwardImage.objects.filter(award=award, content_type=documents.OB3_PNG).exists()
    assert award.ob3_credential["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    assert award.ob3_jwt.count(".") == 2
    assert award.status_list_index is not None

    delivery = Delivery.objects.get(award=award)
    assert delivery.kind == Delivery.KIND_EMAIL and delivery.status == Delivery.PENDING
    assert enqueued.calls == [("badging.deliveries_send", [[delivery.pk]])]


def test_a_retried_task_returns_the_same_award(rsps, enqueued):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    progress = eligible_progress(course_badge)
    canvas_email(rsps, progress.learner, progress.learner.email)
    first = issue.award_issue(progress_id=progress.pk)
    again = issue.award_issue(progress_id=progress.pk)
    assert again.pk == first.pk
    assert Award.objects.count() == 1 and Delivery.objects.count() == 1


def test_losing_the_race_returns_the_winners_award(rsps, enqueued):
    """Two workers both see no award; the constraint lets one insert, the other gets its award."""
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    progress = eligible_progress(course_badge)
    canvas_email(rsps, progress.learner, progress.learner.email)
    with another_worker_inserts_first(
        lambda: f.AwardFactory(
            course_badge=course_badge, learner=progress.learner, recipient_email=progress.learner.email
        )
    ) as winner:
        award = issue.award_issue(progress_id=progress.pk)
    assert award.pk == winner[0].pk
    assert Award.objects.filter(learner=progress.learner).count() == 1
    assert Delivery.objects.count() == 0  # the loser sends nothing
    progress.refresh_from_db()
    assert progress.state == LearnerProgress.ISSUED


def test_a_status_slot_collision_is_retried_not_lost(rsps, enqueued, monkeypatch):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    f.AwardFactory(status_list_index=77)
    progress = eligible_progress(course_badge)
    canvas_email(rsps, progress.learner, progress.learner.email)
    slots = iter([77, 77, 78])  # the first two draws hit a slot in use
    monkeypatch.setattr(secrets, "randbelow", lambda n: next(slots))  # the slot's random draw
    award = issue.award_issue(progress_id=progress.pk)
    assert award.status_list_index == 78
    assert award.ob3_credential["credentialStatus"]["statusListIndex"] == "78"  # signed with the slot it got
    assert AwardImage.objects.filter(award=award).count() == 2


def test_no_free_status_slot_is_a_recorded_failure(rsps, enqueued, monkeypatch):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    f.AwardFactory(status_list_index=77)
    progress = eligible_progress(course_badge)
    canvas_email(rsps, progress.learner, progress.learner.email)
    monkeypatch.setattr(secrets, "randbelow", lambda n: 77)
    assert issue.award_issue(progress_id=progress.pk) is None
    progress.refresh_from_db()
    assert progress.issue_status == LearnerProgress.ISSUE_FAILED and "status slot" in progress.issue_error


def test_a_batch_issues_many_learners_and_skips_the_rest(rsps, enqueued, django_capture_on_commit_callbacks):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    eligible = [eligible_progress(course_badge) for _ in range(6)]
    for progress in eligible:
        canvas_email(rsps, progress.learner, progress.learner.email.upper())
    stale = f.LearnerProgressFactory(
        course_badge=course_badge, state=LearnerProgress.IN_PROGRESS, issue_status="queued"
    )
    with django_capture_on_commit_callbacks(execute=True):
        awards = issue.awards_issue_batch(progress_ids=[p.pk for p in [*eligible, stale]])
    assert len(awards) == 6 and Award.objects.count() == 6
    assert {a.recipient_email for a in awards} == {p.learner.email for p in eligible}
    assert len({a.status_list_index for a in awards}) == 6
    assert AwardImage.objects.count() == 12 and Delivery.objects.count() == 6
    assert [name for name, _ in enqueued.calls] == ["badging.deliveries_send"]
    stale.refresh_from_db()
    assert stale.issue_status == "" and stale.state == LearnerProgress.IN_PROGRESS
    # Run again (a duplicated task): same awards, nothing new.
    again = issue.awards_issue_batch(progress_ids=[p.pk for p in eligible])
    assert sorted(a.pk for a in again) == sorted(a.pk for a in awards) and Award.objects.count() == 6


def test_same_badge_class_in_a_second_course_is_not_issued_twice(rsps, enqueued):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    progress = eligible_progress(course_badge)
    canvas_email(rsps, progress.learner, progress.learner.email)
    first = issue.award_issue(progress_id=progress.pk)
    other_course = f.CourseFactory(platform=course_badge.course.platform)
    other = f.LearnerProgressFactory(
        course_badge=f.CourseBadgeFactory(course=other_course, badge_class=course_badge.badge_class),
        learner=progress.learner,
        state=LearnerProgress.ELIGIBLE,
    )
    # The learner holds it through the first course: nothing is issued, and the second course shows
    # "holds it from another course", never the first course's award as its own.
    assert issue.award_issue(progress_id=other.pk) is None
    assert list(Award.objects.all()) == [first]
    other.refresh_from_db()
    assert other.state == LearnerProgress.HELD_ELSEWHERE


def test_canvas_down_is_recorded_and_retried_later(rsps, enqueued, django_capture_on_commit_callbacks):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    progress = eligible_progress(course_badge)
    canvas_email(rsps, progress.learner, "", status=503)

    assert issue.award_issue(progress_id=progress.pk) is None
    progress.refresh_from_db()
    assert progress.state == LearnerProgress.ELIGIBLE
    assert progress.issue_status == LearnerProgress.ISSUE_FAILED
    assert progress.issue_attempts == 1
    assert "Could not read the learner's email from Canvas" in progress.issue_error
    assert progress.issue_next_attempt_at > timezone.now()
    assert Award.objects.count() == 0

    # Not due yet: the reconciler leaves it; once due, it is queued again.
    with django_capture_on_commit_callbacks(execute=True):
        assert queueing.awards_reconcile()["learners_queued"] == 0
    with (
        freeze_time(progress.issue_next_attempt_at + timedelta(seconds=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert queueing.awards_reconcile()["learners_queued"] == 1
    assert enqueued.calls == [("badging.award_issue_batch", [[progress.pk]])]

    canvas_email(rsps, progress.learner, progress.learner.email)  # Canvas is back
    award = issue.award_issue(progress_id=progress.pk)
    assert award is not None
    progress.refresh_from_db()
    assert progress.state == LearnerProgress.ISSUED and progress.issue_error == ""


@pytest.mark.parametrize(
    ("email", "message"),
    [("", "has no primary email address"), ("not-an-address", "is not a valid address")],
)
def test_missing_or_invalid_email_is_a_visible_failure(rsps, enqueued, email, message):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    progress = eligible_progress(course_badge)
    canvas_email(rsps, progress.learner, email)
    assert issue.award_issue(progress_id=progress.pk) is None
    progress.refresh_from_db()
    assert message in progress.issue_error
    assert progress.issue_status == LearnerProgress.ISSUE_FAILED


def test_malformed_badge_image_fails_clearly_and_waits(rsps, enqueued):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS, image=b"GIF89a not a png")
    progress = eligible_progress(course_badge)
    canvas_email(rsps, progress.learner, progress.learner.email)
    assert issue.award_issue(progress_id=progress.pk) is None
    progress.refresh_from_db()
    assert "cannot carry a badge" in progress.issue_error and "not a PNG" in progress.issue_error
    assert progress.issue_next_attempt_at > timezone.now() + timedelta(hours=23)  # no crash loop
    assert Award.objects.count() == 0 and AwardImage.objects.count() == 0


def test_no_longer_eligible_when_the_task_runs_issues_nothing(rsps, enqueued):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    progress = eligible_progress(course_badge)
    LearnerProgress.objects.filter(pk=progress.pk).update(
        state=LearnerProgress.IN_PROGRESS, issue_status=LearnerProgress.ISSUE_QUEUED
    )
    assert issue.award_issue(progress_id=progress.pk) is None
    progress.refresh_from_db()
    assert progress.issue_status == ""
    assert len(rsps.calls) == 0


def test_a_badge_switched_off_while_queued_issues_nothing(rsps, enqueued):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    progress = eligible_progress(course_badge)
    LearnerProgress.objects.filter(pk=progress.pk).update(issue_status=LearnerProgress.ISSUE_QUEUED)
    type(course_badge).objects.filter(pk=course_badge.pk).update(active=False)
    assert issue.award_issue(progress_id=progress.pk) is None
    assert not Award.objects.exists()
    progress.refresh_from_db()
    assert progress.issue_status == ""
    assert len(rsps.calls) == 0
    # ...and the reconciler does not queue it again while the badge is off.
    queueing.awards_reconcile()
    assert not [name for name, _ in enqueued.calls if name == "badging.award_issue_batch"]


def test_enqueue_eligible_batches_after_commit_and_skips_queued(enqueued, django_capture_on_commit_callbacks):
    course_badge = course_badge_with_assessments()
    progresses = [eligible_progress(course_badge) for _ in range(queueing.BATCH_SIZE + 3)]
    f.LearnerProgressFactory(course_badge=course_badge, state=LearnerProgress.IN_PROGRESS)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert queueing.awards_enqueue_eligible(course_badge_id=course_badge.pk) == len(progresses)
        assert enqueued.calls == []  # nothing leaves before commit
    for callback in callbacks:
        callback()
    batches = [args[0] for name, args in enqueued.calls]
    assert [len(b) for b in batches] == [queueing.BATCH_SIZE, 3]
    assert sorted(pk for batch in batches for pk in batch) == sorted(p.pk for p in progresses)
    assert LearnerProgress.objects.filter(issue_status=LearnerProgress.ISSUE_QUEUED).count() == len(progresses)

    # Already queued: not queued again (until the message is presumed lost).
    assert queueing.awards_enqueue_eligible(course_badge_id=course_badge.pk) == 0
    with (
        freeze_time(timezone.now() + policy.queued_stale_after() + timedelta(seconds=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert queueing.awards_reconcile()["learners_queued"] == len(progresses)


def test_reconciler_requeues_due_deliveries(enqueued, django_capture_on_commit_callbacks):
    award = f.AwardFactory()
    due = Delivery.objects.create(award=award, kind=Delivery.KIND_EMAIL, next_attempt_at=timezone.now())
    award2 = f.AwardFactory()
    Delivery.objects.create(award=award2, kind=Delivery.KIND_EMAIL, status=Delivery.SENT)
    with django_capture_on_commit_callbacks(execute=True):
        result = queueing.awards_reconcile()
    assert result["deliveries_queued"] == 1
    assert ("badging.deliveries_send", [[due.pk]]) in enqueued.calls


def test_revoke_requires_a_reason_and_is_recorded(rsps, enqueued):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    progress = eligible_progress(course_badge)
    canvas_email(rsps, progress.learner, progress.learner.email)
    award = issue.award_issue(progress_id=progress.pk)
    with pytest.raises(ValueError):
        review.award_revoke(award_id=award.pk, reason="  ", actor="admin:alice")
    revoked = review.award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    assert revoked.revoked and revoked.revocation_reason == "Issued in error" and revoked.revoked_by == "admin:alice"
    event = AuditEvent.objects.get(action="award_revoked")
    assert event.award_id == award.pk and event.detail == {"reason": "Issued in error"}
    progress.refresh_from_db()
    assert progress.state == LearnerProgress.REVOKED
    # Idempotent: a second revoke changes nothing.
    review.award_revoke(award_id=award.pk, reason="Other", actor="x")
    assert Award.objects.get(pk=award.pk).revocation_reason == "Issued in error"


def test_badging_revoke_command(enqueued):
    award = f.AwardFactory()
    with pytest.raises(CommandError):
        call_command("badging_revoke", "nope", "--reason", "x")
    out = io.StringIO()
    call_command("badging_revoke", award.public_id, "--reason", "Academic misconduct", stdout=out)
    assert "Revoked award" in out.getvalue()
    award.refresh_from_db()
    assert award.revoked and award.revocation_reason == "Academic misconduct"

    # Ids made before public ids avoided a leading "-" (argparse would read them as options).
    dashed = f.AwardFactory(public_id="-dashed0123456789abcd")
    call_command("badging_revoke", "--reason", "Issued in error", "--", dashed.public_id, stdout=out)
    dashed.refresh_from_db()
    assert dashed.revoked and dashed.revocation_reason == "Issued in error"


def test_public_ids_never_start_with_a_dash(monkeypatch):
    from badging.models import ids

    draws = iter(["-first", "-second", "fine-id"])
    monkeypatch.setattr(ids.secrets, "token_urlsafe", lambda n: next(draws))
    assert ids.new_public_id() == "fine-id"


def test_a_lowered_grade_flags_for_review_without_revoking():
    award = f.AwardFactory()
    progress = f.LearnerProgressFactory(
        course_badge=award.course_badge, learner=award.learner, state=LearnerProgress.ISSUED
    )
    flagged = review.award_flag_for_review(progress_id=progress.pk, reason="Assessment 2 regraded to 50%")
    assert flagged.pk == award.pk
    award.refresh_from_db()
    assert award.needs_review and not award.revoked
    assert award.review_reason == "Assessment 2 regraded to 50%"
    review.award_flag_for_review(progress_id=progress.pk, reason="Assessment 2 regraded to 50%")
    assert AuditEvent.objects.filter(action="award_flagged_for_review").count() == 1


def test_a_reviewed_award_can_be_kept_and_is_flagged_again_by_a_later_change():
    award = f.AwardFactory()
    progress = f.LearnerProgressFactory(
        course_badge=award.course_badge, learner=award.learner, state=LearnerProgress.ISSUED
    )
    review.award_flag_for_review(progress_id=progress.pk, reason="Assessment 2 regraded to 50%")
    kept = review.award_review_keep(award_id=award.pk, actor="admin:alice", note="Regrade was a typo")
    assert not kept.needs_review and not kept.revoked
    event = AuditEvent.objects.get(action="award_review_kept")
    assert event.actor == "admin:alice" and event.award_id == award.pk
    assert event.detail == {"flagged_because": "Assessment 2 regraded to 50%", "note": "Regrade was a typo"}
    review.award_review_keep(award_id=award.pk, actor="admin:alice")  # nothing left to keep
    assert AuditEvent.objects.filter(action="award_review_kept").count() == 1
    # The next sync evaluates the same situation: the kept award stays kept.
    review.award_flag_for_review(progress_id=progress.pk, reason="Assessment 2 regraded to 50%")
    award.refresh_from_db()
    assert not award.needs_review
    review.award_flag_for_review(progress_id=progress.pk, reason="Final grade removed")
    award.refresh_from_db()
    assert award.needs_review and award.review_reason == "Final grade removed"


def test_key_rotation_keeps_old_keys_and_signs_with_new(rsps, enqueued):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    issuer = course_badge.badge_class.issuer
    old = issuer_keys.issuer_keys_current(issuer=issuer)
    new = issuer_keys.issuer_key_rotate(issuer_id=issuer.pk, actor="admin:alice")
    assert new.ed25519.pk != old.ed25519.pk and new.rsa.pk != old.rsa.pk
    assert IssuerKey.objects.filter(issuer=issuer).count() == 4
    assert IssuerKey.objects.get(pk=old.ed25519.pk).superseded_at is not None
    progress = eligible_progress(course_badge)
    canvas_email(rsps, progress.learner, progress.learner.email)
    award = issue.award_issue(progress_id=progress.pk)
    assert award.ob3_credential["proof"][0]["verificationMethod"].endswith(f"#{new.ed25519.public_id}")


def test_a_batch_leases_its_learners_and_leaves_a_live_lease_alone(rsps, enqueued, settings):
    settings.BADGING_LEASE_SECONDS = 30
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    mine, theirs, expired = (eligible_progress(course_badge, email=f"l{i}@uni.example.edu") for i in range(3))
    for progress in (mine, expired):
        canvas_email(rsps, progress.learner, progress.learner.email)
    now = timezone.now()
    # Another worker is issuing `theirs` right now; `expired`'s worker died a minute ago.
    in_20s = now + timedelta(seconds=20)
    LearnerProgress.objects.filter(pk=theirs.pk).update(
        issue_status=LearnerProgress.ISSUE_ISSUING, issue_claim="other", issue_next_attempt_at=in_20s
    )
    LearnerProgress.objects.filter(pk=expired.pk).update(
        issue_status=LearnerProgress.ISSUE_ISSUING, issue_claim="dead", issue_next_attempt_at=now - timedelta(minutes=1)
    )
    awards = issue.awards_issue_batch(progress_ids=[mine.pk, theirs.pk, expired.pk], claim="run-1")
    assert {a.learner_id for a in awards} == {mine.learner_id, expired.learner_id}
    theirs.refresh_from_db()
    assert theirs.state == LearnerProgress.ELIGIBLE and theirs.issue_claim == "other"
    # The same task given back after its pool process died takes its own live lease over.
    LearnerProgress.objects.filter(pk=theirs.pk).update(issue_claim="run-2")
    canvas_email(rsps, theirs.learner, theirs.learner.email)
    assert [a.learner_id for a in issue.awards_issue_batch(progress_ids=[theirs.pk], claim="run-2")] == [
        theirs.learner_id
    ]


def test_the_reconciler_requeues_a_dead_workers_learners_once_its_lease_ran_out(
    enqueued, settings, django_capture_on_commit_callbacks
):
    settings.BADGING_QUEUED_STALE_AFTER_SECONDS = 600
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    live, dead = (eligible_progress(course_badge, email=f"r{i}@uni.example.edu") for i in range(2))
    now = timezone.now()
    LearnerProgress.objects.filter(pk=live.pk).update(
        issue_status=LearnerProgress.ISSUE_ISSUING, issue_claim="a", issue_next_attempt_at=now + timedelta(seconds=20)
    )
    LearnerProgress.objects.filter(pk=dead.pk).update(
        issue_status=LearnerProgress.ISSUE_ISSUING, issue_claim="b", issue_next_attempt_at=now - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert queueing.awards_reconcile()["learners_queued"] == 1
    assert enqueued.calls == [("badging.award_issue_batch", [[dead.pk]])]
    dead.refresh_from_db()
    assert dead.issue_status == LearnerProgress.ISSUE_QUEUED
    assert dead.issue_next_attempt_at > now + timedelta(seconds=590)  # queued: stale after the configured time


def test_the_reconciler_counts_an_email_whose_worker_died_while_sending(enqueued, django_capture_on_commit_callbacks):
    now = timezone.now()
    stuck = Delivery.objects.create(
        award=f.AwardFactory(), kind=Delivery.KIND_EMAIL, status=Delivery.SENDING, send_started_at=now,
        next_attempt_at=now - timedelta(seconds=1), attempts=1,
    )  # fmt: skip
    sending = Delivery.objects.create(
        award=f.AwardFactory(), kind=Delivery.KIND_EMAIL, status=Delivery.SENDING, send_started_at=now,
        next_attempt_at=now + timedelta(seconds=30), attempts=1,
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert queueing.awards_reconcile()["deliveries_queued"] == 1
    stuck.refresh_from_db()
    sending.refresh_from_db()
    assert (stuck.status, stuck.unconfirmed_sends) == (Delivery.FAILED, 1)
    assert "may receive it twice" in stuck.last_error
    assert (sending.status, sending.unconfirmed_sends) == (Delivery.SENDING, 0)  # its worker is still at it
    assert enqueued.calls == [("badging.deliveries_send", [[stuck.pk]])]
