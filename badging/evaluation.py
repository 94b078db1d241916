"""Where a learner stands on a course badge: a pure function of the synced facts.

No database, no Canvas: `evaluate_learner(rule=..., learner=...)` takes plain dataclasses and
returns a `LearnerEvaluation` whose `detail()` is stored in LearnerProgress.detail and read by
the learner page, the instructor dashboard and "why not issued?".

The rule (DESIGN.md "Eligible"): every credentialing assessment mastered on *posted* grades, the
final grade entered, and a student enrollment that is active or completed. Inactive, deleted,
rejected, invited and Student View enrollments are never eligible; several sections count once.

LearnerProgress.detail shape (version 1):
    {"version": 1, "state": "...", "reason": "plain words",
     "assessments": [{"assignment_id", "name", "points_possible", "needed_points", "needed_percent",
                      "score", "status", "mastered", "reason",
                      "criteria": [{"id", "description", "points", "needed", "earned", "met"}]}],
     "final_grade": {"source", "entered", "value", "reason"},
     "enrollment": {"state", "counts", "reason"},
     "mastered_count", "assessment_count", "eligible_by_rule"}
Beside each "reason" (the English words) are "reason_code" and "reason_params": the key of its
template in REASONS and the values that fill it, so that pages show the reason in the viewer's
language (badging/selectors/reasons.py). Rows written before the codes have the English only.

One file on purpose (about 600 lines): it is one decision, the rule applied to one learner's facts,
with its vocabulary beside it (the input and output dataclasses and the reason codes it writes).
A change to the rule changes all of them together; callers and the property tests read it as one
module (`from badging import evaluation as ev`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from badging.states import LearnerState

# Learner states: defined once in badging.states (which imports no models).
NOT_STARTED: str = LearnerState.NOT_STARTED
IN_PROGRESS: str = LearnerState.IN_PROGRESS
AWAITING_FINAL_GRADE: str = LearnerState.AWAITING_FINAL_GRADE
ELIGIBLE: str = LearnerState.ELIGIBLE
ISSUED: str = LearnerState.ISSUED
NOT_EARNED: str = LearnerState.NOT_EARNED
REVOKED: str = LearnerState.REVOKED
INELIGIBLE: str = LearnerState.INELIGIBLE
HELD_ELSEWHERE: str = LearnerState.HELD_ELSEWHERE

FINAL_GRADE_OVERRIDE = "override"
FINAL_GRADE_ASSIGNMENT = "assignment"

SCORE_ENTERED = "entered"
SCORE_AFTER_PENALTIES = "after_penalties"

COUNTING_ENROLLMENT_STATES = frozenset({"active", "completed"})

# Per-assessment statuses.
NOT_SUBMITTED = "not_submitted"
AWAITING_GRADING = "awaiting_grading"
GRADED_NOT_POSTED = "graded_not_posted"
EXCUSED = "excused"
MISSING_IN_CANVAS = "missing_in_canvas"
MASTERED = "mastered"
NOT_MASTERED = "not_mastered"

AWARD_LIVE = "live"
AWARD_REVOKED = "revoked"
AWARD_ELSEWHERE = "elsewhere"  # a live award of the same badge class from another course badge


# --- Reasons --------------------------------------------------------------------------------------


def gettext_noop(message: str) -> str:
    """Marks a reason's template for the translation catalogues (makemessages reads this name) while
    the evaluation stays free of Django: pages translate it when they show it."""
    return message


# Every reason the evaluation gives, by code: the English templates (stored as the reason's words)
# and the msgids that badging/selectors/reasons.py translates. Points are filled as points_text.
REASONS: dict[str, str] = {
    "assessment_unpublished": gettext_noop(
        "this credentialing assessment is unpublished in Canvas, so Canvas reports no grades for it: "
        "no one can master it until the instructor publishes it or an admin changes the badge's assessments"
    ),
    "assessment_deleted": gettext_noop(
        "this credentialing assessment was deleted in Canvas: no one can master it until the instructor "
        "restores it or an admin changes the badge's assessments"
    ),
    "assessment_not_found": gettext_noop(
        "this credentialing assessment was not found in Canvas (deleted, or not synced yet): "
        "no one can master it until the instructor restores it or an admin changes the badge's assessments"
    ),
    "not_submitted": gettext_noop("not submitted yet"),
    "excused": gettext_noop("excused: an excused assessment does not count as mastered"),
    "graded_not_posted": gettext_noop("graded, but the grade is not posted yet"),
    "awaiting_grading": gettext_noop("submitted, awaiting grading"),
    "no_points_possible": gettext_noop("this assessment has no points possible, so mastery cannot be decided"),
    "below_needed": gettext_noop("%(score)s of %(possible)s points; %(needed)s needed for mastery"),
    "below_needed_no_total": gettext_noop("%(score)s points; %(needed)s needed for mastery"),
    "rubric_below": gettext_noop(
        "%(score)s of %(possible)s points, but the rubric rating is below the minimum on: %(criteria)s"
    ),
    "rubric_below_no_total": gettext_noop(
        "%(score)s points, but the rubric rating is below the minimum on: %(criteria)s"
    ),
    "mastered": gettext_noop("mastered: %(score)s of %(possible)s points (%(needed)s needed)"),
    "mastered_no_total": gettext_noop("mastered: %(score)s points (%(needed)s needed)"),
    "not_a_student": gettext_noop("not enrolled as a student in this course"),
    "student_view": gettext_noop("Student View (test student): never earns a badge"),
    "counts": "",
    "enrollment_inactive": gettext_noop("the enrollment is inactive"),
    "enrollment_deleted": gettext_noop("the learner was removed from the course"),
    "enrollment_rejected": gettext_noop("the course invitation was rejected"),
    "enrollment_invited": gettext_noop("the course invitation has not been accepted yet"),
    "enrollment_other": gettext_noop("the enrollment is %(state)s"),
    "final_assignment_not_found": gettext_noop("%(assignment)s was not found in Canvas"),
    "final_assignment_not_graded": gettext_noop("no final grade yet (%(assignment)s is not graded)"),
    "final_assignment_not_posted": gettext_noop("%(assignment)s is graded but not posted yet"),
    "final_assignment_entered": gettext_noop("final grade entered (%(assignment)s: %(value)s)"),
    "final_override_entered": gettext_noop("final grade entered (%(value)s)"),
    "final_override_not_allowed": gettext_noop(
        "this course does not allow Final Grade Override in Canvas, so the final grade this badge needs "
        "cannot be entered until the instructor turns it on"
    ),
    "final_override_missing": gettext_noop("the instructor has not entered the final grade (Final Grade Override) yet"),
    "issued": gettext_noop("the badge has been issued"),
    "held_elsewhere": gettext_noop("the learner already holds this badge from another course"),
    "revoked": gettext_noop("the badge was issued and then revoked"),
    "no_assessments": gettext_noop("no credentialing assessments are set up in this course yet"),
    "eligible": gettext_noop("every credentialing assessment is mastered and the final grade is entered"),
    "final_entered_pending": gettext_noop(
        "the final grade is entered; %(mastered)s of %(total)s credentialing assessments mastered, "
        "%(pending)s still awaiting grading or posting"
    ),
    "final_entered_blocked_one": gettext_noop(
        "the final grade is entered; %(mastered)s of %(total)s credentialing assessments mastered, "
        "%(blocked)s not available in Canvas (unpublished or deleted) until the instructor restores "
        "it or the badge's assessments change"
    ),
    "final_entered_blocked": gettext_noop(
        "the final grade is entered; %(mastered)s of %(total)s credentialing assessments mastered, "
        "%(blocked)s not available in Canvas (unpublished or deleted) until the instructor restores "
        "them or the badge's assessments change"
    ),
    "not_earned": gettext_noop(
        "the final grade was entered with %(mastered)s of %(total)s credentialing assessments mastered"
    ),
    "mastered_override_not_allowed": gettext_noop(
        "all %(total)s credentialing assessments mastered, but this course does not allow Final Grade Override "
        "in Canvas, so the final grade cannot be entered until the instructor turns it on"
    ),
    "awaiting_final_grade": gettext_noop(
        "all %(total)s credentialing assessments mastered; waiting for the final grade"
    ),
    "in_progress": gettext_noop("%(mastered)s of %(total)s credentialing assessments mastered"),
    "nothing_submitted": gettext_noop("none of the %(total)s credentialing assessments submitted yet"),
}
# The final-grade assignment when the rule does not name it (the "assignment" parameter is then "").
FINAL_ASSIGNMENT_UNNAMED = gettext_noop("the final-grade assignment")


def reason_english(code: str, params: Mapping[str, str]) -> str:
    """A reason's English words, as stored in LearnerProgress.detail."""
    filled = dict(params)
    if "assignment" in filled and not filled["assignment"]:
        filled["assignment"] = FINAL_ASSIGNMENT_UNNAMED
    return REASONS[code] % filled if filled else REASONS[code]


def _why(code: str, **params: object) -> dict:
    """The reason fields of an outcome: its English words, its code and its parameters (as text)."""
    values = {k: str(v) for k, v in params.items()}
    return {"reason": reason_english(code, values), "reason_code": code, "reason_params": tuple(values.items())}


# Rules are frozen: built once per sync and shared by every learner. Facts and outcomes are built for every
# learner on every sync (about 25 objects each) and never changed after: plain slotted classes, since a
# frozen dataclass's __init__ sets each field through object.__setattr__ at about three times the cost.

# --- Inputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CriterionSpec:
    id: str
    description: str
    points: Decimal | None
    # Canvas's "ignore_for_scoring": rated, but not part of the score, so not part of mastery either.
    ignore_for_scoring: bool = False


@dataclass(frozen=True, slots=True)
class AssessmentSpec:
    """A credentialing assessment as synced, with the mastery threshold that applies to it."""

    assignment_id: str
    name: str
    points_possible: Decimal | None
    min_percent: Decimal | None = None  # exactly one of min_percent / min_points is set
    min_points: Decimal | None = None
    criteria: tuple[CriterionSpec, ...] = ()
    # Picked by id but not (or no longer) in Canvas, or unpublished there: it stays in the rule, so it
    # blocks the badge. `problem` says which ("unpublished", "deleted", "not_found").
    missing: bool = False
    problem: str = ""


@dataclass(frozen=True, slots=True)
class BadgeRule:
    assessments: tuple[AssessmentSpec, ...]
    final_grade_source: str = FINAL_GRADE_OVERRIDE
    final_grade_assignment_id: str = ""
    final_grade_assignment_name: str = ""
    min_rubric_criterion_percent: Decimal | None = None
    # The course's "Allow final grade override" setting as last read (None: not read yet).
    final_grade_override_allowed: bool | None = None
    # Which score mastery uses: "entered" (before late penalties) or "after_penalties".
    mastery_score: str = SCORE_ENTERED


@dataclass(slots=True)
class EnrollmentFact:
    state: str
    enrollment_type: str = "StudentEnrollment"
    is_test_user: bool = False
    override_score: Decimal | None = None
    override_grade: str = ""


@dataclass(slots=True)
class ResultFact:
    """A learner's submission on one assignment (Canvas values as synced)."""

    assignment_id: str
    workflow_state: str = "unsubmitted"
    score: Decimal | None = None  # Canvas's score, after late/missing deductions
    entered_score: Decimal | None = None  # before them (None: unknown, the score is used)
    grade: str = ""
    excused: bool = False
    graded: bool = False  # graded_at is set
    posted: bool = False  # posted_at is set: only posted grades count
    rubric_points: Mapping[str, Decimal | None] = field(default_factory=dict)


@dataclass(slots=True)
class LearnerFacts:
    enrollments: tuple[EnrollmentFact, ...]
    results: Mapping[str, ResultFact]  # by Canvas assignment id
    # AWARD_LIVE, AWARD_REVOKED (no live award) of this course badge, AWARD_ELSEWHERE (a live award of
    # the badge class through another course badge) or None
    award: str | None = None


# --- Outputs --------------------------------------------------------------------------------------


@dataclass(slots=True)
class CriterionOutcome:
    id: str
    description: str
    points: Decimal | None
    needed: Decimal | None
    earned: Decimal | None
    met: bool


@dataclass(slots=True)
class AssessmentOutcome:
    assignment_id: str
    name: str
    points_possible: Decimal | None
    needed_points: Decimal | None
    needed_percent: Decimal | None
    score: Decimal | None
    status: str
    mastered: bool
    reason: str
    criteria: tuple[CriterionOutcome, ...] = ()
    activity: bool = False  # the learner has submitted or been graded
    reason_code: str = ""
    reason_params: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class FinalGradeOutcome:
    source: str
    entered: bool
    value: str
    reason: str
    reason_code: str = ""
    reason_params: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class EnrollmentOutcome:
    state: str
    counts: bool
    reason: str
    reason_code: str = ""
    reason_params: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class LearnerEvaluation:
    state: str
    reason: str
    assessments: tuple[AssessmentOutcome, ...]
    final_grade: FinalGradeOutcome
    enrollment: EnrollmentOutcome
    # The rule's verdict ignoring awards: an issued learner whose grades no longer meet it is flagged.
    eligible_by_rule: bool
    reason_code: str = ""
    reason_params: tuple[tuple[str, str], ...] = ()

    @property
    def mastered_count(self) -> int:
        return sum(1 for a in self.assessments if a.mastered)

    @property
    def assessment_count(self) -> int:
        return len(self.assessments)

    def detail(self) -> dict:
        return {
            "version": 1,
            "state": self.state,
            "reason": self.reason,
            "reason_code": self.reason_code,
            "reason_params": dict(self.reason_params),
            "assessments": [
                {
                    "assignment_id": a.assignment_id,
                    "name": a.name,
                    "points_possible": _num(a.points_possible),
                    "needed_points": _num(a.needed_points),
                    "needed_percent": _num(a.needed_percent),
                    "score": _num(a.score),
                    "status": a.status,
                    "mastered": a.mastered,
                    "reason": a.reason,
                    "reason_code": a.reason_code,
                    "reason_params": dict(a.reason_params),
                    "criteria": [
                        {
                            "id": c.id,
                            "description": c.description,
                            "points": _num(c.points),
                            "needed": _num(c.needed),
                            "earned": _num(c.earned),
                            "met": c.met,
                        }
                        for c in a.criteria
                    ],
                }
                for a in self.assessments
            ],
            "final_grade": {
                "source": self.final_grade.source,
                "entered": self.final_grade.entered,
                "value": self.final_grade.value,
                "reason": self.final_grade.reason,
                "reason_code": self.final_grade.reason_code,
                "reason_params": dict(self.final_grade.reason_params),
            },
            "enrollment": {
                "state": self.enrollment.state,
                "counts": self.enrollment.counts,
                "reason": self.enrollment.reason,
                "reason_code": self.enrollment.reason_code,
                "reason_params": dict(self.enrollment.reason_params),
            },
            "mastered_count": self.mastered_count,
            "assessment_count": self.assessment_count,
            "eligible_by_rule": self.eligible_by_rule,
        }


# --- The rule -------------------------------------------------------------------------------------


def share_of(points: Decimal | None, percent: Decimal | None) -> Decimal | None:
    """`percent` % of `points`: the points a percent rule asks for (an assessment's mastery score, a
    rubric criterion's minimum); None when either is unknown. The one place this is computed: the
    pages that show a rule (learner cards, the rule check) ask here too."""
    if points is None or percent is None:
        return None
    return points * percent / 100


def needed_points(spec: AssessmentSpec) -> Decimal | None:
    """Points needed for mastery, or None when it cannot be known (percent rule, no points possible)."""
    if spec.min_points is not None:
        return spec.min_points
    if spec.min_percent is not None and spec.points_possible:
        return share_of(spec.points_possible, spec.min_percent)
    return None


def assessment_evaluate(
    *,
    spec: AssessmentSpec,
    result: ResultFact | None,
    min_criterion_percent: Decimal | None = None,
    mastery_score: str = SCORE_ENTERED,
) -> AssessmentOutcome:
    needed = needed_points(spec)
    needed_pct = spec.min_percent if spec.min_points is None else None

    def outcome(status: str, mastered: bool, reason: dict, *, score=None, criteria=(), activity=True):
        return AssessmentOutcome(
            assignment_id=spec.assignment_id,
            name=spec.name,
            points_possible=spec.points_possible,
            needed_points=needed,
            needed_percent=needed_pct,
            score=score,
            status=status,
            mastered=mastered,
            criteria=criteria,
            activity=activity,
            **reason,
        )

    if spec.missing:
        code = {"unpublished": "assessment_unpublished", "deleted": "assessment_deleted"}
        return outcome(MISSING_IN_CANVAS, False, _why(code.get(spec.problem, "assessment_not_found")), activity=False)
    if result is None or (result.workflow_state in ("", "unsubmitted") and not result.graded):
        return outcome(NOT_SUBMITTED, False, _why("not_submitted"), activity=False)
    if result.excused:
        return outcome(EXCUSED, False, _why("excused"))
    if result.graded and not result.posted:
        # The learner cannot see this grade yet, so it must not decide anything.
        return outcome(GRADED_NOT_POSTED, False, _why("graded_not_posted"))
    if result.score is None or not result.graded:
        return outcome(AWAITING_GRADING, False, _why("awaiting_grading"))
    # A badge certifies skill: by default mastery is judged on what the grader entered, before the
    # late/missing policy's deduction (Canvas's `entered_score`); `score` is after it.
    score = result.score
    if mastery_score != SCORE_AFTER_PENALTIES and result.entered_score is not None:
        score = result.entered_score
    if needed is None:
        return outcome(NOT_MASTERED, False, _why("no_points_possible"), score=score)
    criteria: tuple[CriterionOutcome, ...] = ()
    criteria_met = True
    if min_criterion_percent is not None and spec.criteria:
        rows = []
        for criterion in spec.criteria:
            if criterion.ignore_for_scoring:
                continue  # rated for feedback only: Canvas leaves it out of the score, and so does mastery
            need = share_of(criterion.points, min_criterion_percent)
            earned = result.rubric_points.get(criterion.id)
            met = need is None or (earned is not None and earned >= need)
            rows.append(
                CriterionOutcome(
                    id=criterion.id,
                    description=criterion.description,
                    points=criterion.points,
                    needed=need,
                    earned=earned,
                    met=met,
                )
            )
        criteria = tuple(rows)
        criteria_met = all(c.met for c in criteria)
    # The reason names the points possible when Canvas has them ("9 of 10 points").
    total = "" if spec.points_possible is not None else "_no_total"
    points = {"score": points_text(score), "needed": points_text(needed)}
    if spec.points_possible is not None:
        points["possible"] = points_text(spec.points_possible)
    if score < needed:
        return outcome(NOT_MASTERED, False, _why("below_needed" + total, **points), score=score, criteria=criteria)
    if not criteria_met:
        missed = ", ".join(c.description or c.id for c in criteria if not c.met)
        points.pop("needed")
        return outcome(
            NOT_MASTERED,
            False,
            _why("rubric_below" + total, **points, criteria=missed),
            score=score,
            criteria=criteria,
        )
    return outcome(MASTERED, True, _why("mastered" + total, **points), score=score, criteria=criteria)


def enrollment_evaluate(enrollments: Sequence[EnrollmentFact]) -> EnrollmentOutcome:
    students = [e for e in enrollments if e.enrollment_type in ("StudentEnrollment", "StudentViewEnrollment", "")]
    if not students:
        return EnrollmentOutcome(state="", counts=False, **_why("not_a_student"))
    if any(e.is_test_user or e.enrollment_type == "StudentViewEnrollment" for e in students):
        return EnrollmentOutcome(state="student_view", counts=False, **_why("student_view"))
    counting = [e for e in students if e.state in COUNTING_ENROLLMENT_STATES]
    if counting:
        state = "active" if any(e.state == "active" for e in counting) else "completed"
        return EnrollmentOutcome(state=state, counts=True, **_why("counts"))
    state = students[0].state
    if state in ("inactive", "deleted", "rejected", "invited"):
        return EnrollmentOutcome(state=state, counts=False, **_why(f"enrollment_{state}"))
    return EnrollmentOutcome(state=state, counts=False, **_why("enrollment_other", state=state))


def final_grade_evaluate(
    *, rule: BadgeRule, enrollments: Sequence[EnrollmentFact], results: Mapping[str, ResultFact]
) -> FinalGradeOutcome:
    if rule.final_grade_source == FINAL_GRADE_ASSIGNMENT:
        label = rule.final_grade_assignment_name  # "" reads "the final-grade assignment"
        if not rule.final_grade_assignment_id:
            return FinalGradeOutcome(
                FINAL_GRADE_ASSIGNMENT, False, "", **_why("final_assignment_not_found", assignment=label)
            )
        result = results.get(rule.final_grade_assignment_id)
        if result is None or not result.graded or (result.score is None and not result.grade):
            return FinalGradeOutcome(
                FINAL_GRADE_ASSIGNMENT, False, "", **_why("final_assignment_not_graded", assignment=label)
            )
        if not result.posted:
            return FinalGradeOutcome(
                FINAL_GRADE_ASSIGNMENT, False, "", **_why("final_assignment_not_posted", assignment=label)
            )
        value = result.grade or points_text(result.score)
        return FinalGradeOutcome(
            FINAL_GRADE_ASSIGNMENT, True, value, **_why("final_assignment_entered", assignment=label, value=value)
        )
    counting = [e for e in enrollments if e.state in COUNTING_ENROLLMENT_STATES and not e.is_test_user]
    for e in counting or enrollments:
        if e.override_score is not None or e.override_grade:
            value = e.override_grade or f"{points_text(e.override_score)}%"
            return FinalGradeOutcome(FINAL_GRADE_OVERRIDE, True, value, **_why("final_override_entered", value=value))
    if rule.final_grade_override_allowed is False:
        return FinalGradeOutcome(FINAL_GRADE_OVERRIDE, False, "", **_why("final_override_not_allowed"))
    return FinalGradeOutcome(FINAL_GRADE_OVERRIDE, False, "", **_why("final_override_missing"))


def evaluate_learner(*, rule: BadgeRule, learner: LearnerFacts) -> LearnerEvaluation:
    """The learner's state on one course badge, with the reason per assessment and for the final grade."""
    outcomes = tuple(
        assessment_evaluate(
            spec=spec,
            result=learner.results.get(spec.assignment_id),
            min_criterion_percent=rule.min_rubric_criterion_percent,
            mastery_score=rule.mastery_score,
        )
        for spec in rule.assessments
    )
    final = final_grade_evaluate(rule=rule, enrollments=learner.enrollments, results=learner.results)
    enrollment = enrollment_evaluate(learner.enrollments)
    n = len(outcomes)
    k = sum(1 for o in outcomes if o.mastered)
    all_mastered = n > 0 and k == n
    eligible_by_rule = all_mastered and final.entered and enrollment.counts

    def done(state: str, reason: dict) -> LearnerEvaluation:
        return LearnerEvaluation(
            state=state,
            assessments=outcomes,
            final_grade=final,
            enrollment=enrollment,
            eligible_by_rule=eligible_by_rule,
            **reason,
        )

    if learner.award == AWARD_LIVE:
        return done(ISSUED, _why("issued"))
    if learner.award == AWARD_ELSEWHERE:
        return done(HELD_ELSEWHERE, _why("held_elsewhere"))
    if learner.award == AWARD_REVOKED:
        return done(REVOKED, _why("revoked"))
    if not enrollment.counts:
        return done(
            INELIGIBLE,
            {
                "reason": enrollment.reason,
                "reason_code": enrollment.reason_code,
                "reason_params": enrollment.reason_params,
            },
        )
    if n == 0:
        return done(NOT_STARTED, _why("no_assessments"))
    if eligible_by_rule:
        return done(ELIGIBLE, _why("eligible"))
    pending = sum(1 for o in outcomes if o.status in (AWAITING_GRADING, GRADED_NOT_POSTED))
    # Unpublished or deleted in Canvas: the rule no longer matches Canvas, which is not the learner's doing.
    blocked = sum(1 for o in outcomes if o.status == MISSING_IN_CANVAS)
    if final.entered and pending:
        # Grading is not finished: "not earned" would be premature (and alarming) until it is.
        return done(IN_PROGRESS, _why("final_entered_pending", mastered=k, total=n, pending=pending))
    if final.entered and blocked:
        code = "final_entered_blocked_one" if blocked == 1 else "final_entered_blocked"
        return done(IN_PROGRESS, _why(code, mastered=k, total=n, blocked=blocked))
    if final.entered:
        return done(NOT_EARNED, _why("not_earned", mastered=k, total=n))
    if all_mastered:
        if final.source == FINAL_GRADE_OVERRIDE and rule.final_grade_override_allowed is False:
            return done(AWAITING_FINAL_GRADE, _why("mastered_override_not_allowed", total=n))
        return done(AWAITING_FINAL_GRADE, _why("awaiting_final_grade", total=n))
    if any(o.activity for o in outcomes):
        return done(IN_PROGRESS, _why("in_progress", mastered=k, total=n))
    return done(NOT_STARTED, _why("nothing_submitted", total=n))


# --- Helpers --------------------------------------------------------------------------------------


def points_text(value: Decimal | float | int | None, *, missing: str = "—") -> str:
    """Points as Canvas shows them: 12 → "12", 9.60 → "9.6", 9.625 → "9.63" (two decimals at most,
    half up). The one formatter of the evaluation's reasons, the dashboard and the learner pages."""
    if value is None:
        return missing
    if not value:
        return _points_text.__wrapped__(value)  # 0 and -0 are equal keys but read "0" and "-0"
    return _points_text(value)


@lru_cache(maxsize=4096, typed=True)  # a course's scores take few values; evaluating 5,000 learners asks ~50,000 times
def _points_text(value: Decimal | float | int) -> str:
    text = format(Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


_CENT = Decimal("0.01")


def _num(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None
