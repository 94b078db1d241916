"""A course badge's rule: the one place that decides which Canvas assignments count and what
mastering each one takes.

Sync (which submissions to ask Canvas for), the evaluation rule (`badge_rule_build`), the learner
page, the instructor dashboard's rule panel and the evidence in issued badges all read it from here,
so they cannot disagree. It writes nothing (selectors may import it); the evaluation itself is the
pure badging.evaluation.

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
from decimal import Decimal
from types import EllipsisType
from typing import Any

from django.utils.translation import gettext as _

from badging import evaluation as ev
from badging.models import Assignment, CourseBadge, CourseSync

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


def _same_name(a: str | None, b: str | None) -> bool:
    """Canvas names as an admin types them: case and surrounding spaces do not matter."""
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def group_members(*, course_badge: Any, assignments: Iterable[Any]) -> list[Any]:
    """Every synced assignment of the badge's group (published or not, deleted or not); [] for a
    badge whose assessments are picked by id."""
    if course_badge.assessment_ids:
        return []
    return [a for a in assignments if _same_name(_get(a, "assignment_group_name"), course_badge.assessment_group_name)]


def credentialing_assessments(*, course_badge: Any, assignments: Iterable[Any]) -> list[CredentialingAssessment]:
    """The badge's credentialing assessments, in rule order, each with what (if anything) is wrong."""
    rows = list(assignments)
    if course_badge.assessment_ids:
        by_id = {str(_get(a, "canvas_assignment_id")): a for a in rows}
        picked = list(dict.fromkeys(str(i) for i in course_badge.assessment_ids))
        return [CredentialingAssessment(i, by_id.get(i), _problem(by_id.get(i))) for i in picked]
    return [
        CredentialingAssessment(str(_get(a, "canvas_assignment_id")), a)
        for a in group_members(course_badge=course_badge, assignments=rows)
        if not _problem(a)
    ]


def group_members_not_counted(*, course_badge: Any, assignments: Iterable[Any]) -> list[CredentialingAssessment]:
    """For a group rule: the group's assignments that do not count (unpublished or deleted)."""
    return [
        CredentialingAssessment(str(_get(a, "canvas_assignment_id")), a, _problem(a))
        for a in group_members(course_badge=course_badge, assignments=assignments)
        if _problem(a)
    ]


def final_grade_assignment(*, course_badge: Any, assignments: Sequence[Any]) -> Any | None:
    """The synced row of the badge's final-grade assignment (a live one first, else a deleted one,
    so the dashboard can say it was deleted); None when the badge uses Final Grade Override or the
    assignment is not found."""
    if course_badge.final_grade_source != CourseBadge.FINAL_GRADE_ASSIGNMENT:
        return None
    if course_badge.final_grade_assignment_id:
        wanted = str(course_badge.final_grade_assignment_id)
        matches = [a for a in assignments if str(_get(a, "canvas_assignment_id")) == wanted]
    elif (course_badge.final_grade_assignment_name or "").strip():
        matches = [a for a in assignments if _same_name(_get(a, "name"), course_badge.final_grade_assignment_name)]
    else:
        matches = []
    matches.sort(key=lambda a: bool(_get(a, "deleted_in_canvas", False)))  # stable: live ones first
    return matches[0] if matches else None


def final_grade_assignment_id(*, course_badge: Any, assignments: Sequence[Any]) -> str:
    """The Canvas id of the badge's final-grade assignment, "" when not used, not found or deleted."""
    row = final_grade_assignment(course_badge=course_badge, assignments=assignments)
    if row is None or _get(row, "deleted_in_canvas", False):
        return ""
    return str(_get(row, "canvas_assignment_id"))


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


# --- Thresholds and the evaluation rule ------------------------------------------------------------


def threshold(course_badge: CourseBadge, assignment_id: str) -> tuple[Decimal | None, Decimal | None]:
    """(min percent, min points) to master one credentialing assessment: exactly one is set. A
    per-assessment override wins over the badge's mode."""
    override = (course_badge.mastery_overrides or {}).get(str(assignment_id)) or {}
    if override.get("min_points") is not None:
        return None, Decimal(str(override["min_points"]))
    if override.get("min_percent") is not None:
        return Decimal(str(override["min_percent"])), None
    return badge_threshold(course_badge)


def badge_threshold(course_badge: CourseBadge) -> tuple[Decimal | None, Decimal | None]:
    """(min percent, min points) of the badge's own mastery mode, for assessments without an
    override: points when the mode is points and a minimum is set, else the percentage."""
    if course_badge.mastery_mode == CourseBadge.MASTERY_POINTS and course_badge.mastery_min_points is not None:
        return None, Decimal(course_badge.mastery_min_points)
    return Decimal(course_badge.mastery_min_percent), None


# The fields of a synced assignment the rule reads.
RULE_FIELDS = (
    "canvas_assignment_id",
    "name",
    "assignment_group_name",
    "published",
    "deleted_in_canvas",
    "points_possible",
    "rubric",
)


def rule_assignments(*, course_id: int) -> list[dict[str, Any]]:
    """The course's synced assignments as the rule reads them (deleted ones flagged, not dropped)."""
    return [
        dict(row)
        for row in Assignment.objects.filter(course_id=course_id)
        .order_by("position", "name", "id")
        .values(*RULE_FIELDS)
    ]


def rule_rows(assignments: Iterable[Assignment]) -> list[dict[str, Any]]:
    """Assignment rows a page has already loaded, as `rule_assignments` gives them."""
    return [{name: getattr(a, name) for name in RULE_FIELDS} for a in assignments]


def badge_rule_build(
    *,
    course_badge: CourseBadge,
    assignments: Sequence[Mapping[str, Any]] | None = None,
    final_grade_override_allowed: bool | EllipsisType | None = ...,
) -> ev.BadgeRule:
    """The evaluation rule of a course badge, from its settings and the synced assignments.

    Which assignments count is decided above. `final_grade_override_allowed` is the
    course's Canvas setting as last synced (None: not read yet); omitted, it is read here."""
    if assignments is None:
        assignments = rule_assignments(course_id=course_badge.course_id)
    override_allowed: bool | None
    if isinstance(final_grade_override_allowed, EllipsisType):
        override_allowed = (
            CourseSync.objects.filter(course_id=course_badge.course_id)
            .values_list("allow_final_grade_override", flat=True)
            .first()
        )
    else:
        override_allowed = final_grade_override_allowed
    specs = []
    for item in credentialing_assessments(course_badge=course_badge, assignments=assignments):
        min_percent, min_points = threshold(course_badge, item.canvas_assignment_id)
        row = item.assignment
        if not item.readable or row is None:
            # Unpublished, deleted or never seen: it stays in the rule and blocks the badge.
            specs.append(
                ev.AssessmentSpec(
                    assignment_id=item.canvas_assignment_id,
                    name=(
                        item.name
                        if item.problem != NOT_FOUND
                        else _("%(name)s (not found in Canvas)") % {"name": item.name}
                    ),
                    points_possible=row["points_possible"] if row is not None else None,
                    min_percent=min_percent,
                    min_points=min_points,
                    missing=True,
                    problem=item.problem,
                )
            )
            continue
        specs.append(
            ev.AssessmentSpec(
                assignment_id=item.canvas_assignment_id,
                name=row["name"],
                points_possible=row["points_possible"],
                min_percent=min_percent,
                min_points=min_points,
                criteria=tuple(
                    ev.CriterionSpec(
                        id=str(c.get("id", "")),
                        description=c.get("description") or "",
                        points=Decimal(str(c["points"])) if c.get("points") is not None else None,
                        ignore_for_scoring=bool(c.get("ignore_for_scoring")),
                    )
                    for c in row.get("rubric") or []
                ),
            )
        )
    return ev.BadgeRule(
        assessments=tuple(specs),
        final_grade_source=course_badge.final_grade_source,
        final_grade_assignment_id=final_grade_assignment_id(course_badge=course_badge, assignments=assignments),
        final_grade_assignment_name=course_badge.final_grade_assignment_name,
        min_rubric_criterion_percent=(
            Decimal(course_badge.min_rubric_criterion_percent)
            if course_badge.min_rubric_criterion_percent is not None
            else None
        ),
        final_grade_override_allowed=override_allowed,
        mastery_score=course_badge.mastery_score,
    )
