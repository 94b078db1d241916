"""What the learner page shows, in the learner's words: the shapes of a badge card and its
assessment rows, the rule in words, the state labels and the award links.

Pure functions of rows already read: no queries here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from badging import evaluation as ev
from badging.models import (
    AssessmentResult,
    Assignment,
    Award,
    CourseBadge,
    LearnerProgress,
)
from badging.rules import threshold
from lti.models import Course, Person

# Per-assessment result, in the learner's words.
RESULT_NOT_SUBMITTED = "not_submitted"
RESULT_AWAITING_GRADING = "awaiting_grading"
RESULT_EXCUSED = "excused"
RESULT_MASTERED = "mastered"
RESULT_NOT_YET = "not_yet"
RESULT_MISSING = "missing_in_canvas"


@dataclass(frozen=True)
class RubricRating:
    description: str
    points: Decimal | None
    chosen: bool
    points_label: str = ""  # "6 pts", in the page's language


@dataclass(frozen=True)
class RubricCriterion:
    description: str
    long_description: str
    points: Decimal | None
    ratings: list[RubricRating]
    your_points: Decimal | None  # None: not assessed, or not posted yet
    your_comments: str
    meets_minimum: bool | None  # None: no per-criterion minimum in the rule, or not assessed
    points_label: str = ""  # "6 pts", in the page's language
    your_score: str = ""  # "4,5 / 6" once assessed


@dataclass(frozen=True)
class AssessmentRow:
    name: str
    html_url: str
    points_possible: Decimal | None
    mastery_points: Decimal | None
    mastery_text: str
    criteria: list[RubricCriterion]
    result: str
    score: Decimal | None
    grade: str
    # Why an assessment that counts cannot be mastered now: "unpublished", "deleted", "not_found" or "".
    problem: str = ""
    points_deducted: Decimal | None = None  # a late penalty Canvas took off the posted score
    # "Your score", in words ("11 of 12 (B+)", "No score yet"), and the late penalty's note: made
    # here once rather than by a dozen template tags on every row.
    score_text: str = ""
    penalty_note: str = ""
    rubric_caption: str = ""  # "Rubric: <name>", when the assessment has a rubric


@dataclass(frozen=True)
class BadgeCard:
    course_badge_id: int
    name: str
    description: str
    criteria_narrative: str
    criteria_url: str
    image_url: str
    issuer_name: str
    issuer_url: str
    issuer_email: str
    skills: list[dict]
    tags: list[str]
    valid_for_days: int | None
    state: str
    state_label: str
    assessments: list[AssessmentRow]
    mastered_count: int
    remaining: int
    still_open: bool  # the badge can still be issued to this learner (so where it will be sent matters)
    final_grade_rule: str
    final_grade_entered: bool
    # The course does not allow Final Grade Override in Canvas while the badge needs one.
    final_grade_blocked: bool
    blocked_assessments: list[str]  # names of counted assessments that are unpublished/deleted in Canvas
    mastery_score: str
    enrolled: bool
    award: Award | None
    award_links: list[dict]
    issue_failed: bool
    issue_error: str
    evaluated_at: datetime | None


@dataclass(frozen=True)
class LearnerPage:
    course: Course
    person: Person
    is_test_user: bool
    email: str
    last_synced_at: datetime | None
    badges: list[BadgeCard] = field(default_factory=list)


# --- the rule, in words ------------------------------------------------------------------------


def _num(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _fmt(value) -> str:
    from badging.templatetags.learner_format import localized_points

    return localized_points(value)


def assessment_mastery_points(*, course_badge: CourseBadge, assignment: Assignment) -> tuple[Decimal | None, str]:
    """The score that means mastery on one assessment (points) and the rule in plain words."""
    possible = _num(assignment.points_possible)
    min_percent, min_points = threshold(course_badge, str(assignment.canvas_assignment_id))
    points: Decimal | None
    if min_points is not None:
        if possible is not None:
            text = _("at least %(needed)s of %(possible)s points") % {
                "needed": _fmt(min_points),
                "possible": _fmt(possible),
            }
        else:
            text = _("at least %(needed)s points") % {"needed": _fmt(min_points)}
        points = min_points
    else:
        points = ev.share_of(possible, min_percent)
        if points is not None:
            text = _("at least %(percent)s%% (%(needed)s of %(possible)s points)") % {
                "percent": _fmt(min_percent),
                "needed": _fmt(points),
                "possible": _fmt(possible),
            }
        else:
            text = _("at least %(percent)s%%") % {"percent": _fmt(min_percent)}
    if course_badge.min_rubric_criterion_percent is not None and assignment.rubric:
        text = _("%(rule)s, and at least %(percent)s%% on every rubric criterion") % {
            "rule": text,
            "percent": _fmt(_num(course_badge.min_rubric_criterion_percent)),
        }
    return points, text


def course_badge_final_grade_rule(*, course_badge: CourseBadge) -> str:
    if course_badge.final_grade_source == CourseBadge.FINAL_GRADE_ASSIGNMENT:
        if course_badge.final_grade_assignment_name:
            return _("your instructor has graded and posted “%(name)s”") % {
                "name": course_badge.final_grade_assignment_name
            }
        return _("your instructor has graded and posted the final-grade assignment")
    return _("your instructor has entered your final grade in Canvas")


# --- the learner's standing --------------------------------------------------------------------


def _criteria(*, assignment: Assignment, course_badge: CourseBadge, posted: AssessmentResult | None):
    # Every criterion and rating shows its points: labelled here, cheaper than a filter per rating.
    from badging.templatetags.learner_format import points, points_pts

    assessed = (posted.rubric_assessment or {}) if posted is not None else {}
    min_share = _num(course_badge.min_rubric_criterion_percent)
    rows = []
    for criterion in assignment.rubric or []:
        mine = assessed.get(str(criterion.get("id"))) or {}
        your_points = _num(mine.get("points"))
        chosen_id = mine.get("rating_id")
        possible = _num(criterion.get("points"))
        ratings = []
        for r in criterion.get("ratings") or []:
            rating_points = _num(r.get("points"))
            ratings.append(
                RubricRating(
                    description=str(r.get("description") or ""),
                    points=rating_points,
                    chosen=bool(mine)
                    and (
                        (chosen_id is not None and r.get("id") == chosen_id)
                        or (chosen_id is None and your_points is not None and rating_points == your_points)
                    ),
                    points_label=points_pts(rating_points),
                )
            )
        meets = None
        # A criterion Canvas ignores for scoring is rated for feedback only: no minimum applies to it.
        if min_share is not None and your_points is not None and possible and not criterion.get("ignore_for_scoring"):
            needed = ev.share_of(possible, min_share)
            meets = needed is not None and your_points >= needed
        rows.append(
            RubricCriterion(
                description=str(criterion.get("description") or ""),
                long_description=str(criterion.get("long_description") or ""),
                points=possible,
                ratings=ratings,
                your_points=your_points,
                your_comments=str(mine.get("comments") or ""),
                meets_minimum=meets,
                points_label=points_pts(possible),
                your_score=format_html("{} / {}", points(your_points), points(possible))
                if your_points is not None
                else "",
            )
        )
    return rows


def _as_written(message: str, **values) -> SafeString:
    """A translated message shown the way {% blocktranslate %} shows it: the values escaped, the
    message as the translators wrote it (without values, as {% translate %} shows it)."""
    return mark_safe(message % {k: conditional_escape(v) for k, v in values.items()} if values else message)  # noqa: S308


def assessment_score_text(
    *, result: str, problem: str, score: Decimal | None, points_possible: Decimal | None, grade: str
) -> str:
    """What the learner page says under "Your score" for one assessment."""
    from badging.templatetags.learner_format import points

    if score is not None:
        shown = points(score)
        if points_possible is not None:
            text = _as_written(_("%(score)s of %(possible)s"), score=shown, possible=points(points_possible))
        else:
            text = conditional_escape(shown)
        return format_html("{} ({})", text, grade) if grade and grade != shown else text
    if result == RESULT_AWAITING_GRADING:
        return _as_written(_("Not graded yet, or the grade is not posted yet"))
    if result == RESULT_EXCUSED:
        return _as_written(_("Excused"))
    if result == RESULT_MISSING and problem == "unpublished":
        return _as_written(
            _(
                "Your instructor has unpublished this assessment in Canvas, so Canvas reports no grades for it and "
                "it cannot be mastered for now. Nothing is lost: once it is published again, your grade counts."
            )
        )
    if result == RESULT_MISSING:
        return _as_written(
            _("This assessment is no longer in Canvas, so it cannot be mastered for now: please tell your instructor.")
        )
    return _as_written(_("No score yet"))


def late_penalty_note(*, points_deducted: Decimal, mastery_score: str) -> str:
    """The note on a late penalty Canvas took off a score, and which score the badge counts."""
    from badging.templatetags.learner_format import plural_count, points

    count = plural_count(points_deducted)
    if mastery_score == CourseBadge.SCORE_AFTER_PENALTIES:
        message = ngettext(
            "Canvas took %(deducted)s point off for lateness; this badge counts the score after that penalty",
            "Canvas took %(deducted)s points off for lateness; this badge counts the score after that penalty",
            count,
        )
    else:
        message = ngettext(
            "Canvas took %(deducted)s point off for lateness; this badge judges mastery on the score before that "
            "penalty",
            "Canvas took %(deducted)s points off for lateness; this badge judges mastery on the score before that "
            "penalty",
            count,
        )
    return _as_written(message, deducted=points(points_deducted))


# The evaluation's per-assessment status → what the learner page says.
_STATUS_TO_RESULT = {
    ev.NOT_SUBMITTED: RESULT_NOT_SUBMITTED,
    ev.AWAITING_GRADING: RESULT_AWAITING_GRADING,
    ev.GRADED_NOT_POSTED: RESULT_AWAITING_GRADING,  # students never see unposted grades
    ev.EXCUSED: RESULT_EXCUSED,
    ev.MASTERED: RESULT_MASTERED,
    ev.NOT_MASTERED: RESULT_NOT_YET,
    ev.MISSING_IN_CANVAS: RESULT_MISSING,
}


def _assessment_row(
    *,
    assignment: Assignment,
    course_badge: CourseBadge,
    result: AssessmentResult | None,
    status: str,
    score,
    problem: str = "",
) -> AssessmentRow:
    points, text = assessment_mastery_points(course_badge=course_badge, assignment=assignment)
    state = _STATUS_TO_RESULT.get(status, RESULT_NOT_SUBMITTED)
    # Canvas hides unposted grades and rubric assessments from students: so do we.
    visible = state in (RESULT_MASTERED, RESULT_NOT_YET) and result is not None and result.is_posted
    posted = result if visible else None
    score = _num(score) if posted is not None else None
    points_possible = _num(assignment.points_possible)
    grade = posted.grade if posted is not None else ""
    deducted = _num(posted.points_deducted) if posted is not None and posted.points_deducted else None
    criteria = _criteria(assignment=assignment, course_badge=course_badge, posted=posted)
    return AssessmentRow(
        name=assignment.name,
        html_url=assignment.html_url,
        points_possible=points_possible,
        mastery_points=points,
        mastery_text=text,
        criteria=criteria,
        result=state,
        score=score,
        grade=grade,
        problem=problem,
        points_deducted=deducted,
        score_text=assessment_score_text(
            result=state, problem=problem, score=score, points_possible=points_possible, grade=grade
        ),
        penalty_note=late_penalty_note(points_deducted=deducted, mastery_score=course_badge.mastery_score)
        if deducted and score is not None
        else "",
        rubric_caption=_as_written(_("Rubric: %(name)s"), name=assignment.name) if criteria else "",
    )


def badge_image_url(*, badge_class) -> str:
    """The public badge-class image (served by the public pages, cached by browsers and backpacks)."""
    return reverse("badging:public-badge-image", kwargs={"public_id": badge_class.public_id})


# Shown as buttons; the other formats (OB 2.0 JSON, the JWT, …) sit under "Other formats".
PRIMARY_AWARD_LINKS = frozenset({"page", "linkedin", "image", "ob3_json"})


def award_link_list(*, award: Award, request=None) -> list[dict]:
    """[{key, label, url, help, download}] for an issued award, in the issuance area's display order."""
    from badging.selectors.awards import award_links

    return [
        {"key": key, "primary": key in PRIMARY_AWARD_LINKS, **link}
        for key, link in award_links(award, request=request).items()
        if link.get("url")
    ]


OPEN_STATES = frozenset(
    {
        LearnerProgress.NOT_STARTED,
        LearnerProgress.IN_PROGRESS,
        LearnerProgress.AWAITING_FINAL_GRADE,
        LearnerProgress.ELIGIBLE,
    }
)

STATE_LABELS: dict[str, Promise] = {  # the learner's words for each state
    LearnerProgress.NOT_STARTED: gettext_lazy("Not started"),
    LearnerProgress.IN_PROGRESS: gettext_lazy("In progress"),
    LearnerProgress.AWAITING_FINAL_GRADE: gettext_lazy("Mastered, awaiting final grade"),
    LearnerProgress.ELIGIBLE: gettext_lazy("Earned, being issued"),
    LearnerProgress.ISSUED: gettext_lazy("Badge earned"),
    LearnerProgress.NOT_EARNED: gettext_lazy("Not earned"),
    LearnerProgress.REVOKED: gettext_lazy("Revoked"),
    LearnerProgress.INELIGIBLE: gettext_lazy("Not eligible"),
    LearnerProgress.HELD_ELSEWHERE: gettext_lazy("Already earned in another course"),
}
