"""Learners marked for the next sync of their course (kept with the course's sync state).

Live Events mark learners whose enrollment or unposted results must be re-read; the next run
takes the marks. Changes when what a targeted re-read remembers changes.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from badging.models import (
    CourseSync,
)

# Above this many learners marked for a targeted refresh, one roster pass is cheaper.
TARGETED_LEARNERS_MAX = 20


# Learners whose unposted results a light pass re-reads after grade events (one request per 100).
POSTINGS_MARKED_MAX = 500


def _marks_add(course_id: int, field: str, canvas_user_ids: Iterable[str], *, cap: int) -> None:
    # Kept with the course's sync state (not in the cache): a mark survives until a sync takes it.
    ids = {str(u) for u in canvas_user_ids if u}
    if not ids:
        return
    with transaction.atomic():
        state, _ = CourseSync.objects.select_for_update().get_or_create(course_id=course_id)
        marked = sorted(set(getattr(state, field) or ()) | ids)[:cap]
        CourseSync.objects.filter(pk=state.pk).update(**{field: marked})


def _marks_take(course_id: int, field: str) -> list[str]:
    with transaction.atomic():
        marked = (
            CourseSync.objects.select_for_update().filter(course_id=course_id).values_list(field, flat=True).first()
        )
        if marked:
            CourseSync.objects.filter(course_id=course_id).update(**{field: []})
    return list(marked or [])


def course_sync_learners_mark(*, course_id: int, canvas_user_ids: Iterable[str]) -> None:
    """Ask the next sync of the course to re-read these learners' enrollments (final grade override,
    state) even when it does not read the whole roster: one request per learner instead of a pass
    over every learner. Too many marked learners make it read the whole roster instead."""
    # One past the limit is kept, so the sync can tell "too many" from "exactly the limit".
    _marks_add(course_id, "learners_marked", canvas_user_ids, cap=TARGETED_LEARNERS_MAX + 1)


def _learners_marked_take(course_id: int) -> list[str]:
    return _marks_take(course_id, "learners_marked")


def course_sync_postings_mark(*, course_id: int, canvas_user_ids: Iterable[str]) -> None:
    """Ask the next sync of the course to re-read these learners' graded-but-unposted results.

    Posting a grade does not move graded_at, so graded_since cannot see it; Canvas does send a
    grade event for the learner. Costs nothing for a learner with no unposted result on record,
    one request per 100 learners otherwise. Past the cap, the next roster pass rechecks everyone."""
    _marks_add(course_id, "postings_marked", canvas_user_ids, cap=POSTINGS_MARKED_MAX)


def _postings_marked_take(course_id: int) -> list[str]:
    return _marks_take(course_id, "postings_marked")
