""" "Send the email again" is bounded per learner per day, counted from the audit trail in the
database, so an instructor's launch (or whoever holds it) cannot flood a learner's mail box."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from badging.models import AuditEvent, Award, Delivery
from badging.services import instructor
from badging.views.instructor.access import action_token
from tests import factories as f
from tests.badging.test_dashboard import build_course
from tests.badging.test_instructor_actions import url

pytestmark = pytest.mark.django_db


@pytest.fixture
def course(settings):
    settings.BADGING_RESENDS_PER_LEARNER_PER_DAY = 3
    return build_course()


def resend(launch, award):
    return Client().post(
        url("instructor_resend", launch, award.public_id), {"token": action_token(launch=launch, action="resend")}
    )


def test_a_learners_email_is_sent_again_at_most_the_limit_per_day(course, enqueued):
    launch, award = course["launch"], Award.objects.get()
    for _ in range(3):
        assert resend(launch, award).status_code == 302
        Delivery.objects.filter(award=award).update(status=Delivery.SENT)
        cache.clear()  # the count does not live in the cache
    sent_before = len(enqueued)
    refused = resend(launch, award)
    assert refused.status_code == 409
    text = refused.content.decode()
    assert "already been sent again 3 times to this learner in the last 24 hours" in text
    assert "It can be sent again after" in text
    assert len(enqueued) == sent_before
    assert Delivery.objects.get(award=award).status == Delivery.SENT
    assert AuditEvent.objects.filter(action="instructor.notification_resent").count() == 3
    # The confirm page says so up front, with no button to press.
    page = Client().get(url("instructor_resend", launch, award.public_id)).content.decode()
    assert "which is the limit" in page and "<form" not in page


def test_the_limit_is_per_learner_over_all_their_badges(course, enqueued):
    launch, award = course["launch"], Award.objects.get()
    second = f.AwardFactory(
        course_badge=f.CourseBadgeFactory(course=launch.course), learner=award.learner, recipient_email="a@x.example"
    )
    for target in (award, second, award):
        assert resend(launch, target).status_code == 302
    assert resend(launch, second).status_code == 409
    # Another learner of the course is not affected.
    other = f.AwardFactory(course_badge=award.course_badge, learner=course["people"]["bob"])
    assert resend(launch, other).status_code == 302


def test_the_limit_is_a_rolling_day(course, enqueued):
    launch, award = course["launch"], Award.objects.get()
    start = timezone.now()
    with freeze_time(start):
        for _ in range(3):
            assert resend(launch, award).status_code == 302
    # (The service is asked directly: the launch link itself expires long before a day is over.)
    with freeze_time(start + timedelta(hours=23)):
        assert "which is the limit" in instructor.award_resend_refusal(award=award)
    with freeze_time(start + timedelta(hours=24, minutes=1)):
        assert instructor.award_resend_refusal(award=award) == ""
