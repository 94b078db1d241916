"""The rule panel: a course badge's rule in words, its credentialing assessments with their
thresholds (as badging.rules picks them), and every way the rule no longer matches Canvas."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from types import EllipsisType

from django.utils.translation import gettext as _

from badging import rules as credentialing
from badging.evaluation import share_of
from badging.models import AssessmentResult, Assignment, CourseBadge, CourseSync
from badging.rules import badge_rule_build


def _pts(value) -> str:
    """Points as Canvas shows them, with the page language's decimal separator."""
    from badging.templatetags.learner_format import localized_points

    return localized_points(value, missing="—")


@dataclass(frozen=True)
class AssessmentRule:
    assignment: Assignment | None
    canvas_assignment_id: str
    name: str
    points_possible: Decimal | None
    needed_percent: Decimal | None
    needed_points: Decimal | None

    @property
    def points_text(self) -> str:
        return _pts(self.points_possible)

    @property
    def needed_text(self) -> str:
        if self.needed_points is not None:
            return _("%(points)s points") % {"points": _pts(self.needed_points)}
        if self.needed_percent is not None:
            if self.points_possible:
                points = share_of(self.points_possible, self.needed_percent)
                return _("%(percent)s%% (%(points)s of %(possible)s points)") % {
                    "percent": _pts(self.needed_percent),
                    "points": _pts(points),
                    "possible": _pts(self.points_possible),
                }
            return _("%(percent)s%% of the points") % {"percent": _pts(self.needed_percent)}
        return "—"

    @property
    def needed_score(self) -> Decimal | None:
        if self.needed_points is not None:
            return self.needed_points
        if self.needed_percent is not None and self.points_possible is not None:
            return share_of(self.points_possible, self.needed_percent)
        return None


@dataclass
class RuleFlag:
    """Something about the rule that does not match Canvas now, in plain words."""

    message: str
    advice: str = ""


@dataclass
class RuleCheck:
    course_badge: CourseBadge
    assessments: list[AssessmentRule]
    selection_text: str
    mastery_text: str
    criterion_text: str
    final_grade_text: str
    flags: list[RuleFlag] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.flags


def credentialing_assessments(*, course_badge: CourseBadge, assignments: list[Assignment]) -> list[AssessmentRule]:
    """The assessments the evaluation counts, with their thresholds, in the evaluation's order.

    One definition: badging.rules decides which assignments count (picked ids win
    over the group name; deleted ones never count), so the dashboard's columns are exactly what
    each learner was evaluated on.
    """
    rule = badge_rule_build(
        course_badge=course_badge,
        assignments=credentialing.rule_rows(assignments),
        final_grade_override_allowed=None,  # the rows only; the setting is checked in rule_check
    )
    by_id = {a.canvas_assignment_id: a for a in assignments}
    return [
        AssessmentRule(
            assignment=by_id.get(spec.assignment_id),
            canvas_assignment_id=spec.assignment_id,
            name=spec.name,
            points_possible=spec.points_possible,
            needed_percent=spec.min_percent if spec.min_points is None else None,
            needed_points=spec.min_points,
        )
        for spec in rule.assessments
    ]


def course_assignments(*, course_id: int) -> list[Assignment]:
    return list(Assignment.objects.filter(course_id=course_id).order_by("position", "name", "id"))


def _rubric_changed(assignment: Assignment) -> bool:
    """True when recent rubric assessments use criteria that the current rubric no longer has."""
    current = {str(c.get("id")) for c in assignment.rubric or [] if isinstance(c, dict)}
    if not current:
        return False
    recent = (
        AssessmentResult.objects.filter(assignment=assignment)
        .exclude(rubric_assessment={})
        .order_by("-graded_at")
        .values_list("rubric_assessment", flat=True)[:50]
    )
    return any(isinstance(assessed, dict) and set(map(str, assessed)) - current for assessed in recent)


def rule_check(
    *,
    course_badge: CourseBadge,
    assignments: list[Assignment] | None = None,
    override_allowed: bool | EllipsisType | None = ...,
) -> RuleCheck:
    """The rule as configured, and every way it no longer matches what Canvas has now."""
    if assignments is None:
        assignments = course_assignments(course_id=course_badge.course_id)
    assessments = credentialing_assessments(course_badge=course_badge, assignments=assignments)
    flags: list[RuleFlag] = []
    if isinstance(override_allowed, EllipsisType):
        override_allowed = (
            CourseSync.objects.filter(course_id=course_badge.course_id)
            .values_list("allow_final_grade_override", flat=True)
            .first()
        )

    advice = {
        credentialing.UNPUBLISHED: (
            _(
                "Credentialing assessment “%(name)s” is unpublished in Canvas, so Canvas reports no grades for it "
                "and nobody can earn the badge."
            ),
            _("Publish it in Canvas, or remove it from the badge's assessments (ask your admin), then sync again."),
        ),
        credentialing.DELETED: (
            _("Credentialing assessment “%(name)s” was deleted in Canvas, so nobody can earn the badge."),
            _("Restore it in Canvas (the course's /undelete page lists deleted items) or remove it from the rule."),
        ),
        credentialing.NOT_FOUND: (
            _("Credentialing assessment “%(name)s” is not in this Canvas course, so nobody can earn the badge."),
            _("Check the assignment ids in the badge configuration, then sync again."),
        ),
    }
    if course_badge.assessment_ids:
        selection = _("Picked assignments (%(count)s)") % {"count": len(course_badge.assessment_ids)}
        for item in credentialing.credentialing_assessments(course_badge=course_badge, assignments=assignments):
            if item.problem:
                what, fix = advice[item.problem]
                flags.append(RuleFlag(what % {"name": item.name}, fix))
    else:
        selection = _("Assignment group “%(group)s”") % {"group": course_badge.assessment_group_name}
        in_group = credentialing.group_members(course_badge=course_badge, assignments=assignments)
        live_in_group = [a for a in in_group if not a.deleted_in_canvas]
        if not live_in_group:
            flags.append(
                RuleFlag(
                    _("Canvas has no assignment group named “%(group)s” with assignments in it.")
                    % {"group": course_badge.assessment_group_name},
                    _("Create the group in Canvas (Assignments → + Group) or rename it, then sync again."),
                )
            )
        for item in credentialing.group_members_not_counted(course_badge=course_badge, assignments=assignments):
            if item.problem == credentialing.DELETED:
                flags.append(
                    RuleFlag(
                        _("“%(name)s” was deleted in Canvas, so it no longer counts.") % {"name": item.name},
                        _("Restore it in Canvas if learners still need it, then sync again."),
                    )
                )
            else:
                flags.append(
                    RuleFlag(
                        _("“%(name)s” is unpublished in Canvas, so it does not count yet.") % {"name": item.name},
                        _("Publish it in Canvas if it is a credentialing assessment."),
                    )
                )
        if live_in_group and not assessments:
            flags.append(
                RuleFlag(_("No published assignment is in the group."), _("Publish the assessments in Canvas."))
            )

    for rule in assessments:
        a = rule.assignment
        if a is None or a.deleted_in_canvas:
            continue
        if not a.rubric:
            flags.append(
                RuleFlag(
                    _("“%(name)s” has no rubric in Canvas.") % {"name": a.name},
                    _("Attach the credentialing rubric to the assignment."),
                )
            )
        elif _rubric_changed(a):
            flags.append(
                RuleFlag(
                    _("The rubric of “%(name)s” changed after some learners were assessed.") % {"name": a.name},
                    _(
                        "Their ratings refer to criteria that are no longer in the rubric: "
                        "re-assess them in SpeedGrader."
                    ),
                )
            )
        if not a.points_possible and rule.needed_points is None:
            flags.append(
                RuleFlag(
                    _("“%(name)s” is worth 0 points in Canvas, so a percentage cannot be mastered.") % {"name": a.name}
                )
            )
        needed = rule.needed_score
        if needed is not None and a.points_possible is not None and needed > a.points_possible:
            flags.append(
                RuleFlag(
                    _("“%(name)s” needs %(needed)s points but is worth only %(possible)s: nobody can master it.")
                    % {"name": a.name, "needed": _pts(needed), "possible": _pts(a.points_possible)}
                )
            )

    min_percent, min_points = credentialing.badge_threshold(course_badge)
    if min_points is not None:
        mastery = _("A score of at least %(points)s points on each assessment") % {"points": _pts(min_points)}
    else:
        mastery = _("A score of at least %(percent)s%% of the points on each assessment") % {
            "percent": _pts(min_percent)
        }
    if course_badge.mastery_overrides:
        mastery = _("%(rule)s (some assessments have their own threshold, shown below)") % {"rule": mastery}
    if course_badge.mastery_score == CourseBadge.SCORE_AFTER_PENALTIES:
        mastery = _("%(rule)s, judged on Canvas's score after late or missing penalties") % {"rule": mastery}
    else:
        mastery = _("%(rule)s, judged on the score the grader entered (late penalties do not count)") % {
            "rule": mastery
        }
    criterion = (
        _("Every rubric criterion rated at least %(percent)s%% of its points")
        % {"percent": _pts(course_badge.min_rubric_criterion_percent)}
        if course_badge.min_rubric_criterion_percent is not None
        else _("No minimum per rubric criterion")
    )

    if course_badge.final_grade_source == CourseBadge.FINAL_GRADE_ASSIGNMENT:
        label = course_badge.final_grade_assignment_name or course_badge.final_grade_assignment_id
        final_grade = _("The assignment “%(name)s” is graded and posted") % {"name": label}
        target = credentialing.final_grade_assignment(course_badge=course_badge, assignments=assignments)
        if target is None or target.deleted_in_canvas:
            flags.append(
                RuleFlag(
                    _("The final-grade assignment “%(name)s” is not in this Canvas course.") % {"name": label},
                    _("No learner can be issued the badge until it exists: create it or fix the configuration."),
                )
            )
        elif not target.published:
            flags.append(
                RuleFlag(_("The final-grade assignment “%(name)s” is unpublished in Canvas.") % {"name": target.name})
            )
    else:
        final_grade = _("The instructor enters a Final Grade Override in the Canvas gradebook")
        if override_allowed is False:
            flags.append(
                RuleFlag(
                    _(
                        "This course does not allow Final Grade Override in Canvas, so no final grade can be "
                        "entered and nobody can earn the badge."
                    ),
                    _(
                        "Turn it on in Canvas: Grades → Settings (gear) → Advanced → “Allow final grade override”, "
                        "then sync again. Or ask your admin to use a final-grade assignment for this badge instead."
                    ),
                )
            )

    return RuleCheck(
        course_badge=course_badge,
        assessments=assessments,
        selection_text=selection,
        mastery_text=mastery,
        criterion_text=criterion,
        final_grade_text=final_grade,
        flags=flags,
    )
