"""A grade lowered after issuing flags the award for review; keeping it survives later syncs of the
same situation, and a further change flags it again (sync → issuance services, fake Canvas)."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from badging.models import Award
from badging.services import issuance, sync
from lti.models import Person
from tests.badging.test_sync import canvas, course_badge  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def test_a_kept_award_stays_kept_until_something_else_changes(canvas, course_badge):  # noqa: F811
    now = timezone.now()
    canvas.grade(55, 42, 12, at=now)
    canvas.grade(56, 42, 12, at=now)
    canvas.set_override(42, 90.0)
    with mock.patch("celery.current_app.send_task"):
        sync.course_sync(course_id=course_badge.course_id, trigger="test")
        ada = Person.objects.get(canvas_user_id="42")
        award = Award.objects.create(
            badge_class=course_badge.badge_class,
            course_badge=course_badge,
            learner=ada,
            recipient_email="ada@uni.edu",
            issued_on=now,
        )
        canvas.grade(56, 42, 3, at=now + timedelta(seconds=1))
        sync.course_sync(course_id=course_badge.course_id, trigger="instructor")
        award.refresh_from_db()
        assert award.needs_review

        issuance.award_review_keep(award_id=award.pk, actor="Ada Teacher (Canvas user 7)")
        sync.course_sync(course_id=course_badge.course_id, trigger="instructor")
        award.refresh_from_db()
        assert not award.needs_review and not award.revoked  # the same situation, already reviewed

        canvas.set_override(42, None)  # and now the final grade is removed too
        sync.course_sync(course_id=course_badge.course_id, trigger="instructor")
        award.refresh_from_db()
        assert award.needs_review and not award.revoked
