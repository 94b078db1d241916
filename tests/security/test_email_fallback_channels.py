"""The email fallback never sends a badge to an address nobody confirmed.

When the API token may not read a learner's profile, the primary email comes from their
communication channels, and only from an *active* one: Canvas keeps a channel "unconfirmed" until
its owner follows the confirmation link (app/models/communication_channel.rb, workflow states
unconfirmed → active), so anyone could have typed it. A badge is personal data sent by email; an
unconfirmed address is a visible failure, never a recipient.
"""

import re

import pytest
import responses

from badging.models import Award, LearnerProgress
from badging.services.issuance import issue
from tests.badging.test_issuance_support import course_badge_with_assessments, eligible_progress

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]
CANVAS = "https://canvas.example.edu"
UNAUTHORIZED = {"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}


@pytest.fixture(autouse=True)
def public_base(settings):
    settings.PUBLIC_BASE_URL = "https://badges.example.edu"


def learner_channels(rsps, learner, channels):
    """lib/authentication_methods.rb: a profile the token's user may not read is a 401 unauthorized.
    The course's users list names the learner without `email`: lib/api/v1/user.rb adds it only for
    a caller who may read email addresses."""
    rsps.add(
        responses.GET,
        re.compile(rf"{CANVAS}/api/v1/courses/[^/]+/users"),
        json=[{"id": int(learner.canvas_user_id), "name": learner.name}],
    )
    rsps.add(responses.GET, f"{CANVAS}/api/v1/users/{learner.canvas_user_id}/profile", json=UNAUTHORIZED, status=401)
    rsps.add(responses.GET, f"{CANVAS}/api/v1/users/{learner.canvas_user_id}/communication_channels", json=channels)


def test_an_unconfirmed_channel_is_never_the_recipient():
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    progress = eligible_progress(course_badge)
    with responses.RequestsMock() as rsps:
        learner_channels(
            rsps,
            progress.learner,
            [
                {
                    "id": 9,
                    "type": "email",
                    "address": "attacker@example.net",
                    "position": 1,
                    "workflow_state": "unconfirmed",
                }
            ],
        )
        assert issue.award_issue(progress_id=progress.pk) is None
    progress.refresh_from_db()
    assert progress.issue_status == LearnerProgress.ISSUE_FAILED
    assert "has no primary email address" in progress.issue_error
    assert not Award.objects.exists()
    progress.learner.refresh_from_db()
    assert progress.learner.email != "attacker@example.net"


def test_the_confirmed_channel_is_used_even_when_an_unconfirmed_one_comes_first():
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    progress = eligible_progress(course_badge)
    with responses.RequestsMock() as rsps:
        learner_channels(
            rsps,
            progress.learner,
            [
                {"id": 9, "type": "email", "address": "typo@uni.edu", "position": 1, "workflow_state": "unconfirmed"},
                {"id": 10, "type": "email", "address": "Real@Uni.edu", "position": 2, "workflow_state": "active"},
            ],
        )
        award = issue.award_issue(progress_id=progress.pk)
    assert award is not None
    assert award.recipient_email == "real@uni.edu"
