"""A learner's state on a course badge, and whether issuing it failed: the one definition.

The evaluation (badging.evaluation) decides the state, LearnerProgress stores it, issuance moves
it on (issued, revoked, held elsewhere), and every page shows it. "Issuing failed" is not a state
of its own: it is an eligible learner whose last issue attempt failed (`issue_failed_q`,
`display_state`), which the dashboard shows in place of "eligible".

Imports no models (only Django's choices and lazy translation), so the pure evaluation can use it.
"""

from __future__ import annotations

from django.db.models import Q, TextChoices
from django.utils.translation import gettext_lazy as _


class LearnerState(TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    IN_PROGRESS = "in_progress", _("In progress")
    AWAITING_FINAL_GRADE = "awaiting_final_grade", _("Mastered, awaiting final grade")
    ELIGIBLE = "eligible", _("Eligible")
    ISSUED = "issued", _("Issued")
    NOT_EARNED = "not_earned", _("Not earned")
    REVOKED = "revoked", _("Revoked")
    INELIGIBLE = "ineligible", _("Not enrolled")  # dropped, inactive, Student View
    # The learner holds this badge class through another course's badge: the database allows one
    # live award per badge class and learner, so it is not issued again here.
    HELD_ELSEWHERE = "held_elsewhere", _("Holds this badge from another course")


class IssueStatus(TextChoices):
    NONE = "", "—"
    QUEUED = "queued", _("Queued")
    ISSUING = "issuing", _("Being issued")
    FAILED = "failed", _("Failed, will retry")


# The display state of a learner whose issuing failed (never stored as a state).
FAILED = "failed"


def issue_failed(*, state: str, issue_status: str) -> bool:
    """Issuing this learner failed and will be retried (an issued learner is never "failed")."""
    return issue_status == IssueStatus.FAILED and state != LearnerState.ISSUED


def issue_failed_q() -> Q:
    """`issue_failed` as a LearnerProgress filter."""
    return Q(issue_status=IssueStatus.FAILED) & ~Q(state=LearnerState.ISSUED)


def display_state(*, state: str, issue_status: str) -> str:
    """The state as pages show it: a failed issue pulled out of "eligible"."""
    return FAILED if issue_failed(state=state, issue_status=issue_status) else str(state)
