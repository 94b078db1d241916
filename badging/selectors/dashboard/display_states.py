"""The instructor dashboard's display states: the learner states (badging.states) in the table's
words and colours, with issuance failures pulled out of "eligible", and the learners per state."""

from __future__ import annotations

from django.db.models import Count, Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from badging import states
from badging.models import LearnerProgress
from badging.states import LearnerState

# Display states: the learner states (badging.states), with issuance failures pulled out of "eligible".
NOT_STARTED: str = LearnerState.NOT_STARTED
IN_PROGRESS: str = LearnerState.IN_PROGRESS
AWAITING_FINAL_GRADE: str = LearnerState.AWAITING_FINAL_GRADE
ELIGIBLE: str = LearnerState.ELIGIBLE
ISSUED: str = LearnerState.ISSUED
FAILED = states.FAILED
REVOKED: str = LearnerState.REVOKED
NOT_EARNED: str = LearnerState.NOT_EARNED
INELIGIBLE: str = LearnerState.INELIGIBLE
HELD_ELSEWHERE: str = LearnerState.HELD_ELSEWHERE

# The table's wording: shorter than the stored states' labels, and saying what happens next.
DISPLAY_STATES: list[tuple[str, Promise]] = [
    (NOT_STARTED, gettext_lazy("Not started")),
    (IN_PROGRESS, gettext_lazy("In progress")),
    (AWAITING_FINAL_GRADE, gettext_lazy("Awaiting final grade")),
    (ELIGIBLE, gettext_lazy("Eligible, queued")),
    (ISSUED, gettext_lazy("Issued")),
    (FAILED, gettext_lazy("Failed, will retry")),
    (REVOKED, gettext_lazy("Revoked")),
    (NOT_EARNED, gettext_lazy("Not earned")),
    (INELIGIBLE, gettext_lazy("Not enrolled")),
    (HELD_ELSEWHERE, gettext_lazy("Holds it from another course")),
]
DISPLAY_STATE_LABELS = dict(DISPLAY_STATES)
# CSS modifier for each state's pill (colour is never the only signal: the label is always shown).
DISPLAY_STATE_TONES = {
    NOT_STARTED: "neutral",
    IN_PROGRESS: "info",
    AWAITING_FINAL_GRADE: "warning",
    ELIGIBLE: "info",
    ISSUED: "success",
    FAILED: "danger",
    REVOKED: "danger",
    NOT_EARNED: "neutral",
    INELIGIBLE: "neutral",
    HELD_ELSEWHERE: "neutral",
}

_STATE_ORDER = [s for s, _ in DISPLAY_STATES]


def _display_state_q(state: str) -> Q:
    if state == FAILED:
        return states.issue_failed_q()
    if state == ELIGIBLE:
        return Q(state=ELIGIBLE) & ~states.issue_failed_q()
    return Q(state=state)


def display_state_of(progress: LearnerProgress) -> str:
    return progress.display_state


def state_counts(*, course_badge_ids: list[int]) -> dict[int, dict[str, int]]:
    """Learners per display state for each course badge: one grouped query."""
    counts: dict[int, dict[str, int]] = {cb_id: dict.fromkeys(_STATE_ORDER, 0) for cb_id in course_badge_ids}
    rows = (
        LearnerProgress.objects.filter(course_badge_id__in=course_badge_ids)
        .values("course_badge_id", "state", "issue_status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        state = states.display_state(state=row["state"], issue_status=row["issue_status"])
        bucket = counts[row["course_badge_id"]]
        bucket[state] = bucket.get(state, 0) + row["n"]
    return counts
