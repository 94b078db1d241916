"""Which Canvas assignments count for a course badge: the one place that decides.

Sync (which submissions to ask Canvas for), the evaluation rule, the instructor dashboard's rule
panel and the evidence in issued badges all read it from here, so they cannot disagree.

- Picked ids (`CourseBadge.assessment_ids`) win over the group name and keep their place even when
  Canvas no longer offers the assignment: an unpublished or deleted credentialing assessment must
  block the badge, not silently lower the bar. Such a pick is "unavailable" and says why.
- Otherwise the credentialing assessments are the *published* assignments of the named group
  (Canvas order); unpublished ones in the group do not count yet.
- Canvas reports submissions only for published assignments, and refuses the whole request when
  one requested id is unpublished or deleted (`403 {"error": "invalid assignment ids requested"}`,
  app/controllers/submissions_api_controller.rb `for_students`): only `readable` ids are asked for.

Assignments may be model rows or mappings with the Assignment field names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

# Why a picked credentialing assessment cannot be read from Canvas.
UNPUBLISHED = "unpublished"
DELETED = "deleted"
NOT_FOUND = "not_found"


def _get(assignment: Any, name: str, default: Any = None) -> Any:
    if isinstance(assignment, Mapping):
        return assignment.get(name, default)
    return getattr(assignment, name, default)


@dataclass(frozen=True)
class CredentialingAssessment:
    canvas_assignment_id: str
    assignment: Any | None  # the synced row (None when Canvas never had it)
    problem: str = ""  # "", UNPUBLISHED, DELETED or NOT_FOUND

    @property
    def name(self) -> str:
        if self.assignment is not None and _get(self.assignment, "name", ""):
            return str(_get(self.assignment, "name"))
        return _("Assignment %(id)s") % {"id": self.canvas_assignment_id}

    @property
    def readable(self) -> bool:
        """Canvas will report its submissions (published and not deleted)."""
        return not self.problem


def _problem(assignment: Any | None) -> str:
    if assignment is None:
        return NOT_FOUND
    if _get(assignment, "deleted_in_canvas", False):
        return DELETED
    if not _get(assignment, "published", True):
        return UNPUBLISHED
    return ""


def credentialing_assessments(*, course_badge: Any, assignments: Iterable[Any]) -> list[CredentialingAssessment]:
    """The badge's credentialing assessments, in rule order, each with what (if anything) is wrong."""
    rows = list(assignments)
    if course_badge.assessment_ids:
        by_id = {str(_get(a, "canvas_assignment_id")): a for a in rows}
        picked = list(dict.fromkeys(str(i) for i in course_badge.assessment_ids))
        return [CredentialingAssessment(i, by_id.get(i), _problem(by_id.get(i))) for i in picked]
    group = (course_badge.assessment_group_name or "").strip().casefold()
    return [
        CredentialingAssessment(str(_get(a, "canvas_assignment_id")), a)
        for a in rows
        if (_get(a, "assignment_group_name") or "").strip().casefold() == group
        and _get(a, "published", True)
        and not _get(a, "deleted_in_canvas", False)
    ]


def group_members_not_counted(*, course_badge: Any, assignments: Iterable[Any]) -> list[CredentialingAssessment]:
    """For a group rule: the group's assignments that do not count (unpublished or deleted)."""
    if course_badge.assessment_ids:
        return []
    group = (course_badge.assessment_group_name or "").strip().casefold()
    return [
        CredentialingAssessment(str(_get(a, "canvas_assignment_id")), a, _problem(a))
        for a in assignments
        if (_get(a, "assignment_group_name") or "").strip().casefold() == group and _problem(a)
    ]


def final_grade_assignment_id(*, course_badge: Any, assignments: Sequence[Any]) -> str:
    """The Canvas id of the badge's final-grade assignment, "" when not used or not found."""
    if course_badge.final_grade_source != "assignment":
        return ""
    live = [a for a in assignments if not _get(a, "deleted_in_canvas", False)]
    if course_badge.final_grade_assignment_id:
        wanted = str(course_badge.final_grade_assignment_id)
        return wanted if any(str(_get(a, "canvas_assignment_id")) == wanted for a in live) else ""
    name = (course_badge.final_grade_assignment_name or "").strip().casefold()
    for a in live:
        if name and (_get(a, "name") or "").strip().casefold() == name:
            return str(_get(a, "canvas_assignment_id"))
    return ""


def submission_assignment_ids(*, course_badges: Iterable[Any], assignments: Sequence[Any]) -> set[str]:
    """The ids whose submissions a sync asks Canvas for: every badge's readable credentialing
    assessments and its final-grade assignment when that is published."""
    rows = list(assignments)
    published = {
        str(_get(a, "canvas_assignment_id"))
        for a in rows
        if _get(a, "published", True) and not _get(a, "deleted_in_canvas", False)
    }
    ids: set[str] = set()
    for badge in course_badges:
        ids.update(
            c.canvas_assignment_id
            for c in credentialing_assessments(course_badge=badge, assignments=rows)
            if c.readable
        )
        final_id = final_grade_assignment_id(course_badge=badge, assignments=rows)
        if final_id in published:
            ids.add(final_id)
    return ids


def evidence_names(*, course_badge: Any, assignments: Iterable[Any]) -> list[str]:
    """The names of the credentialing assessments a learner mastered, for an award's evidence."""
    return [
        c.name
        for c in credentialing_assessments(course_badge=course_badge, assignments=assignments)
        if c.assignment is not None and c.readable
    ]
