"""A second email without a merge: an address proven by a code, badges re-issued to it (the old
award kept or revoked by the learner's choice), every step audited; nobody else can use it."""

import datetime

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from badging.models import AuditEvent, Award, Collection, Delivery, LearnerEmail, LearnerProgress
from badging.openbadges.links import PublicLinks
from badging.selectors.awards import award_recipient_matches
from badging.services import learner_emails
from badging.services.backpack import collection_create
from badging.services.issuance import documents, review
from badging.services.privacy import learner_forget
from badging.views.backpack import backpack_form_token
from tests import factories as f
from tests.badging.test_issuance_support import make_png

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]


@pytest.fixture
def ada(settings):
    settings.PUBLIC_BASE_URL = "http://testserver"
    learner = f.PersonFactory(name="Ada Learner", email="ada@uni.example.edu")
    course_badge = f.CourseBadgeFactory(course__platform=learner.platform, badge_class__image=make_png())
    f.LearnerProgressFactory(course_badge=course_badge, learner=learner, state=LearnerProgress.ISSUED)
    award = f.AwardFactory(course_badge=course_badge, learner=learner)
    documents.award_documents_render(award=award, links=PublicLinks("http://testserver"))
    launch = f.LaunchContextFactory(course=None, platform=learner.platform, person=learner)
    return {"learner": learner, "award": award, "launch": launch, "course_badge": course_badge}


def verified(learner, email="ada.personal@example.org") -> LearnerEmail:
    row = learner_emails.learner_email_add(learner=learner, email=email)
    return learner_emails.learner_email_verify(learner=learner, email_id=row.pk, code=row.code)


def test_a_code_proves_the_address(ada, mailoutbox):
    learner = ada["learner"]
    row = learner_emails.learner_email_add(learner=learner, email="  Ada.Personal@Example.org ")
    assert row.email == "ada.personal@example.org" and not row.verified
    assert learner_emails.learner_email_code_send(learner_email_id=row.pk)
    (message,) = mail.outbox
    assert message.to == ["ada.personal@example.org"] and row.code in message.subject and row.code in message.body
    with pytest.raises(learner_emails.EmailRefused, match="4 tries left"):
        learner_emails.learner_email_verify(
            learner=learner, email_id=row.pk, code="000000" if row.code != "000000" else "111111"
        )
    row.refresh_from_db()
    assert row.failed_attempts == 1  # the failed try counted although refused
    learner_emails.learner_email_verify(learner=learner, email_id=row.pk, code=row.code)
    row.refresh_from_db()
    assert row.verified and row.code == ""
    actions = set(AuditEvent.objects.filter(actor_person=learner).values_list("action", flat=True))
    assert {"learner_email_code_requested", "learner_email_verified"} <= actions


def test_codes_expire_and_wrong_tries_run_out(ada):
    learner = ada["learner"]
    row = learner_emails.learner_email_add(learner=learner, email="ada.personal@example.org")
    wrong = "000000" if row.code != "000000" else "111111"
    for _ in range(learner_emails.CODE_MAX_FAILURES):
        with pytest.raises(learner_emails.EmailRefused):
            learner_emails.learner_email_verify(learner=learner, email_id=row.pk, code=wrong)
    with pytest.raises(learner_emails.EmailRefused, match="expired"):
        learner_emails.learner_email_verify(learner=learner, email_id=row.pk, code=row.code)  # even the right one
    row = learner_emails.learner_email_add(learner=learner, email="ada.personal@example.org")  # a new code
    LearnerEmail.objects.filter(pk=row.pk).update(code_expires_at=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(learner_emails.EmailRefused, match="expired"):
        learner_emails.learner_email_verify(learner=learner, email_id=row.pk, code=row.code)
    with pytest.raises(learner_emails.EmailRefused, match="primary"):
        learner_emails.learner_email_add(learner=learner, email="ADA@uni.example.edu")


def test_reissue_keeping_the_old_award(ada):
    learner, award = ada["learner"], ada["award"]
    target = verified(learner)
    with pytest.raises(learner_emails.EmailRefused):
        learner_emails.award_reissue(learner=learner, award_public_id=award.public_id, email_id=target.pk, old="maybe")
    copy = learner_emails.award_reissue(
        learner=learner, award_public_id=award.public_id, email_id=target.pk, old="keep"
    )
    award.refresh_from_db()
    assert not award.revoked and not copy.revoked and copy.reissued_from == award
    assert copy.badge_class == award.badge_class and copy.course_badge == award.course_badge
    assert award_recipient_matches(award=copy, email="ada.personal@example.org")
    assert award_recipient_matches(award=award, email="ada@uni.example.edu")
    assert copy.ob3_credential is not None and copy.status_list_index != award.status_list_index
    assert Delivery.objects.filter(award=copy, kind=Delivery.KIND_EMAIL).exists()
    assert AuditEvent.objects.filter(action="award_reissued", award=copy, detail__old="keep").exists()
    with pytest.raises(learner_emails.EmailRefused, match="already issued"):
        learner_emails.award_reissue(learner=learner, award_public_id=award.public_id, email_id=target.pk, old="keep")
    # An instructor revoking the original revokes the copy too: it certifies the same thing.
    review.award_revoke(award_id=award.pk, reason="Grade changed", actor="admin:alice")
    copy.refresh_from_db()
    assert copy.revoked and "Grade changed" in copy.revocation_reason
    assert Client().get(f"/public/assertions/{copy.public_id}", HTTP_ACCEPT="application/ld+json").status_code == 410


def test_reissue_revoking_the_old_award(ada):
    learner, award = ada["learner"], ada["award"]
    target = verified(learner)
    copy = learner_emails.award_reissue(
        learner=learner, award_public_id=award.public_id, email_id=target.pk, old="revoke"
    )
    award.refresh_from_db()
    copy.refresh_from_db()
    assert award.revoked and not copy.revoked
    assert "learner's request" in award.revocation_reason
    assert Client().get(f"/public/assertions/{award.public_id}", HTTP_ACCEPT="application/ld+json").status_code == 410
    assert Client().get(f"/public/assertions/{copy.public_id}", HTTP_ACCEPT="application/ld+json").status_code == 200
    # The learner still holds the badge: their course progress stays issued.
    assert LearnerProgress.objects.get(learner=learner).state == LearnerProgress.ISSUED
    assert Award.objects.filter(learner=learner, revoked=False).count() == 1


def test_my_badges_pages_the_whole_flow(client, ada, mailoutbox):
    launch, award = ada["launch"], ada["award"]
    token = backpack_form_token(launch)
    response = client.post(
        reverse("badging:backpack_email_add", args=[launch.public_id]),
        {"token": token, "email": "ada.personal@example.org"},
    )
    assert response.status_code == 302 and response["Location"].endswith("?done=code_sent#emails")
    row = LearnerEmail.objects.get(learner=ada["learner"])
    url = reverse("badging:backpack_email_change", args=[launch.public_id, row.pk])
    assert client.post(url, {"token": token, "action": "verify", "code": row.code}).status_code == 302
    page = client.get(reverse("badging:my_badges", args=[launch.public_id])).content.decode()
    assert "Verified" in page
    badge_page = client.get(reverse("badging:my_badge", args=[launch.public_id, award.public_id])).content.decode()
    assert "Re-issue to another of your addresses" in badge_page and "ada.personal@example.org" in badge_page
    reissue = reverse("badging:backpack_award_reissue", args=[launch.public_id, award.public_id])
    response = client.post(reissue, {"token": token, "email": row.pk, "old": "keep"})
    assert response.status_code == 302 and "done=reissued" in response["Location"]
    assert Award.objects.filter(reissued_from=award, recipient_email="ada.personal@example.org").exists()


def test_nobody_else_can_verify_or_use_a_learners_address_or_award(client, ada):
    target = verified(ada["learner"])
    pending = learner_emails.learner_email_add(learner=ada["learner"], email="ada.work@example.org")
    bea = f.PersonFactory(platform=ada["learner"].platform, name="Bea")
    bea_launch = f.LaunchContextFactory(course=None, platform=bea.platform, person=bea)
    token = backpack_form_token(bea_launch)
    verify = reverse("badging:backpack_email_change", args=[bea_launch.public_id, pending.pk])
    assert client.post(verify, {"token": token, "action": "verify", "code": pending.code}).status_code == 404
    assert client.post(verify, {"token": token, "action": "remove"}).status_code == 404
    reissue = reverse("badging:backpack_award_reissue", args=[bea_launch.public_id, ada["award"].public_id])
    assert client.post(reissue, {"token": token, "email": target.pk, "old": "revoke"}).status_code == 404
    bea_award = f.AwardFactory(course_badge=ada["course_badge"], learner=bea, recipient_email="bea@uni.example.edu")
    reissue = reverse("badging:backpack_award_reissue", args=[bea_launch.public_id, bea_award.public_id])
    assert client.post(reissue, {"token": token, "email": target.pk, "old": "keep"}).status_code == 404
    pending.refresh_from_db()
    ada["award"].refresh_from_db()
    assert not pending.verified and not ada["award"].revoked
    assert not Award.objects.filter(reissued_from__isnull=False).exists()
    # An unverified address of one's own is refused.
    with pytest.raises(learner_emails.EmailRefused, match="Verify"):
        learner_emails.award_reissue(
            learner=ada["learner"], award_public_id=ada["award"].public_id, email_id=pending.pk, old="keep"
        )


def test_forgetting_a_learner_removes_addresses_collections_and_links(ada):
    verified(ada["learner"])
    collection_create(learner=ada["learner"], name="Mine")
    learner_forget(email="ada@uni.example.edu", actor="admin:alice")
    assert not LearnerEmail.objects.exists() and not Collection.objects.exists()
