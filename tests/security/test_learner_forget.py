"""learner_forget: a learner's personal data is removed on request, every badge issued to them still
verifies (OB 2.0 hosted assertion, OB 3.0 credential), and the run is reported, repeatable and audited."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from badging.models import AssessmentResult, AuditEvent, Award, Delivery, Enrollment, LearnerProgress
from badging.openbadges import ob2
from badging.openbadges.links import PublicLinks
from badging.services import instructor, notifications, privacy
from badging.services.issuance import documents
from lti.models import LaunchContext, Person
from lti.services.launches import person_upsert
from tests import factories as f
from tests.badging.test_issuance_support import make_png
from tests.badging.test_openbadges import multikey_to_raw, verify_eddsa_rdfc_2022
from tests.services import missing

BASE = "http://testserver"


def did_web_method(did_url: str) -> dict:
    """The verification method a did:web DID URL names, read from the served DID document (did:web §3.2)."""
    did = did_url.partition("#")[0]
    _host, *segments = did.removeprefix("did:web:").split(":")
    document = Client().get("/" + "/".join(segments) + "/did.json").json()
    assert did_url in document["assertionMethod"]
    return next(method for method in document["verificationMethod"] if method["id"] == did_url)


SECRETS = ("ada lovelace", "lovelace", "ada@uni.example.edu", "ada.old@uni.example.edu")


def scenario(base=BASE):
    course = f.CourseFactory(name="Data Skills 101")
    badge_class = f.BadgeClassFactory(
        image=make_png(), name="Data Analysis Fundamentals", issuer=f.IssuerFactory(name="Skills Forward University")
    )
    course_badge = f.CourseBadgeFactory(course=course, badge_class=badge_class)
    person = dict(platform=course.platform)
    ada = f.PersonFactory(
        **person, canvas_user_id="4242", name="Ada Lovelace", sortable_name="Lovelace, Ada", email="ada@uni.example.edu"
    )
    bob = f.PersonFactory(**person, name="Bob Byte", sortable_name="Byte, Bob", email="bob@uni.example.edu")
    award = f.AwardFactory(
        course_badge=course_badge,
        learner=ada,
        recipient_email="ada.old@uni.example.edu",  # issued before her Canvas address changed
        learner_name_public=True,
        needs_review=True,
        review_reason="Ada Lovelace's final grade was lowered",
    )
    documents.award_documents_render(award=award, links=PublicLinks(base))
    bob_award = f.AwardFactory(course_badge=course_badge, learner=bob, learner_name_public=True)
    f.EnrollmentFactory(course=course, learner=ada, final_score=91)
    f.EnrollmentFactory(course=course, learner=bob, final_score=55)
    f.AssessmentResultFactory(assignment=f.AssignmentFactory(course=course), learner=ada)
    f.LearnerProgressFactory(course_badge=course_badge, learner=ada, state=LearnerProgress.ISSUED)
    f.LaunchContextFactory(course=course, person=ada)
    Delivery.objects.create(award=award, kind=Delivery.KIND_EMAIL, status=Delivery.SENT, sent_at=timezone.now())
    Delivery.objects.create(
        award=award,
        kind=Delivery.KIND_CANVAS_CREDENTIALS,
        status=Delivery.FAILED,
        last_error="Canvas Credentials refused recipient ada.old@uni.example.edu",
        next_attempt_at=timezone.now() + timedelta(minutes=5),
    )
    teacher = "Tess Teacher (Canvas user 7, instructor)"
    AuditEvent.objects.create(
        actor=teacher,
        action=instructor.ACTION_RESEND,
        course=course,
        award=award,
        detail={"recipient_email": "ada.old@uni.example.edu", "previous_attempts": 1},
    )
    AuditEvent.objects.create(
        actor="Ada Lovelace (Canvas user 4242)", actor_person=ada, action="award_name_shown", award=award
    )
    AuditEvent.objects.create(
        actor=teacher, action=instructor.ACTION_EXPORT, course=course, detail={"filters": {"q": "ada lovelace"}}
    )
    # Course records that do not name her keep their words, even where one is also her first name.
    AuditEvent.objects.create(actor=teacher, action=instructor.ACTION_EXPORT, course=course, detail={"q": "Ada"})
    return {"course": course, "ada": ada, "bob": bob, "award": award, "bob_award": bob_award}


def forget(s, **kwargs):
    return privacy.learner_forget(actor="admin:dpo", platform=s["course"].platform, canvas_user_id="4242", **kwargs)


def public_documents(award):
    path = f"/public/assertions/{award.public_id}"
    return {
        "ob2": Client().get(path, HTTP_ACCEPT="application/ld+json").json(),
        "ob3": Client().get(path + ".ob3.json").json(),
        "page": Client().get(path, HTTP_ACCEPT="text/html").content.decode(),
    }


@pytest.mark.django_db
def test_personal_data_goes_and_the_badge_still_verifies():
    s = scenario()
    award = s["award"]
    before = public_documents(award)
    assert "Ada Lovelace" in before["page"]  # she had chosen to show her name

    report = forget(s)

    assert report.learners == 1 and not report.dry_run
    assert report.removed == {
        "learner_profiles": 1,
        "launches": 1,
        "enrollments": 1,
        "assessment_results": 1,
        "learner_progress": 1,
        "award_emails": 1,
        "award_names_shown": 1,
        "award_texts": 1,
        "deliveries": 1,
        "audit_events": 3,
    }
    ada = Person.objects.get(pk=s["ada"].pk)
    assert (ada.name, ada.sortable_name, ada.email, ada.email_read_at) == ("", "", "", None)
    assert ada.canvas_user_id == "4242"  # the opaque id stays: her awards point to this row
    for model in (Enrollment, AssessmentResult, LearnerProgress):
        assert not model.objects.filter(learner=ada).exists(), model
    assert not LaunchContext.objects.filter(person=ada).exists()

    award.refresh_from_db()
    assert award.recipient_email == "" and not award.learner_name_public
    assert award.recipient_identity == ob2.identity_hash("ada.old@uni.example.edu", award.salt)
    assert award.review_reason == "[removed]'s final grade was lowered"
    pushed = Delivery.objects.get(award=award, kind=Delivery.KIND_CANVAS_CREDENTIALS)
    assert pushed.status == Delivery.FAILED and pushed.next_attempt_at is None
    assert "ada" not in pushed.last_error.lower()

    # The public documents are what they were; the page no longer names her.
    after = public_documents(award)
    assert after["ob2"] == before["ob2"] and after["ob3"] == before["ob3"]
    assert after["ob2"]["recipient"]["identity"] == award.recipient_identity
    key = did_web_method(after["ob3"]["proof"][0]["verificationMethod"])
    assert verify_eddsa_rdfc_2022(after["ob3"], multikey_to_raw(key["publicKeyMultibase"]))
    assert "Lovelace" not in after["page"] and "Ada" not in after["page"]
    # The baked images carry the same hashed documents, never the address in clear.
    assert award.images.count() >= 2
    for image in award.images.all():
        assert b"ada.old@" not in bytes(image.data) and b"Lovelace" not in bytes(image.data), image.content_type
    # Whoever holds her address can still check that the badge is hers (the hash is kept).
    check = Client().post(f"/public/assertions/{award.public_id}/check", {"email": "Ada.Old@uni.example.edu"})
    assert b"<strong>Yes:</strong>" in check.content

    stored = json.dumps([[e.actor, e.detail] for e in AuditEvent.objects.all()]).lower()
    for secret in SECRETS:
        assert secret not in stored, secret
    assert AuditEvent.objects.get(detail={"q": "Ada"})  # another record's words are left alone
    event = AuditEvent.objects.get(action=privacy.ACTION_FORGOTTEN)
    assert event.actor == "admin:dpo" and event.detail["removed"] == report.removed
    assert event.detail["learner_ids"] == [ada.pk]

    # Bob, in the same course, keeps everything.
    bob = Person.objects.get(pk=s["bob"].pk)
    assert bob.name == "Bob Byte" and bob.email == "bob@uni.example.edu"
    assert Award.objects.get(pk=s["bob_award"].pk).recipient_email == "bob@uni.example.edu"
    assert Enrollment.objects.filter(learner=bob).exists()


@pytest.mark.django_db
def test_a_second_run_removes_nothing_and_a_dry_run_changes_nothing():
    s = scenario()
    dry = forget(s, dry_run=True)
    assert dry.dry_run and dry.anything_removed
    assert Person.objects.get(pk=s["ada"].pk).name == "Ada Lovelace"
    assert Award.objects.get(pk=s["award"].pk).recipient_email == "ada.old@uni.example.edu"
    assert not AuditEvent.objects.filter(action=privacy.ACTION_FORGOTTEN).exists()

    assert forget(s).removed == dry.removed
    again = forget(s)
    assert again.learners == 1 and not again.anything_removed
    assert set(again.removed.values()) == {0}


@pytest.mark.django_db
def test_the_command_reports_per_kind_by_id_or_by_email():
    s = scenario()
    platform = s["course"].platform

    def run(*args):
        out = StringIO()
        call_command("learner_forget", *args, stdout=out)
        return out.getvalue()

    dry = run("--email", " ADA.old@uni.example.edu", "--dry-run")
    assert "Would remove, for 1 learner record(s):" in dry and "Dry run: nothing was changed." in dry
    assert "     1  award emails replaced by their hash" in dry
    done = run("--email", "ada.old@uni.example.edu")
    assert "Removed, for 1 learner record(s):" in done and "     3  audit events" in done
    assert "No stored learner matches: nothing to remove." in run("--email", "ada.old@uni.example.edu")
    by_id = run("--platform", platform.client_id, "--canvas-user-id", "4242")
    assert "Nothing to remove: this learner's personal data was already removed." in by_id
    with pytest.raises(Exception, match="not both"):
        run("--platform", str(platform.pk), "--canvas-user-id", "4242", "--email", "x@y.example")
    with pytest.raises(Exception, match="needs its platform"):
        run("--canvas-user-id", "4242")


@pytest.mark.django_db
def test_no_email_goes_out_for_a_forgotten_learner_and_a_resend_says_why(settings):
    s = scenario()
    forget(s)
    award = Award.objects.get(pk=s["award"].pk)
    delivery = Delivery.objects.get(award=award, kind=Delivery.KIND_EMAIL)
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.PENDING)  # e.g. an admin's retry
    notifications.deliveries_send(delivery_ids=[delivery.pk])
    assert mail.outbox == []
    delivery.refresh_from_db()
    assert delivery.status == Delivery.FAILED and delivery.next_attempt_at is None
    assert "personal data was removed" in delivery.last_error
    assert "personal data was removed" in instructor.award_resend_refusal(award=award)


@pytest.mark.django_db
def test_a_later_sync_of_the_same_canvas_user_finds_the_same_learner_row():
    """If Canvas still lists the learner, a sync reads their name and email again (README: remove them in
    Canvas too); it finds the same row, whose awards stay, so no second badge is issued."""
    s = scenario()
    forget(s)
    again = person_upsert(
        platform=s["course"].platform, canvas_user_id="4242", name="Ada Lovelace", email="ada@uni.example.edu"
    )
    assert again.pk == s["ada"].pk and again.name == "Ada Lovelace"
    assert list(Award.objects.filter(learner=again)) == [s["award"]]


@pytest.mark.validator
def test_the_official_validator_still_accepts_the_forgotten_learners_badge(transactional_db, live_server, settings):
    from badging.openbadges import validator

    if not validator.validator_path().exists():
        missing(f"validator not found at {validator.validator_path()} (set OB_VALIDATOR)")
    settings.PUBLIC_BASE_URL = live_server.url
    s = scenario(base=live_server.url)
    forget(s)
    url = f"{live_server.url}/public/assertions/{s['award'].public_id}"
    result = validator.validate(url, recipient="ada.old@uni.example.edu")
    assert result.valid, result.errors or result.output[-2000:]
