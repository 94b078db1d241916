"""Reads for the instructor dashboard: counts, the learner table, the rule check and the last sync.

Every function here runs a bounded number of queries whatever the course size: the learner table
is paginated in the database, and what a page shows about its learners (results, awards,
deliveries) is fetched with one query per kind for that page only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from types import EllipsisType
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, F, FilteredRelation, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Length
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from badging import rules as credentialing
from badging import states
from badging.models import (
    AssessmentResult,
    Assignment,
    AuditEvent,
    Award,
    CourseBadge,
    CourseSync,
    Delivery,
    Enrollment,
    LearnerProgress,
    SyncRun,
)
from badging.rules import badge_rule_build
from badging.selectors.reasons import reason_text
from badging.states import LearnerState
from lti.models import Course

PAGE_SIZE = 50

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

# The final grade column when the evaluation gave no detail.
FINAL_ENTERED = gettext_lazy("Entered")
FINAL_NOT_ENTERED = gettext_lazy("Not entered")


def _pts(value) -> str:
    """Points as Canvas shows them, with the page language's decimal separator."""
    from badging.templatetags.learner_format import localized_points

    return localized_points(value, missing="—")


SORTS = {
    "name": gettext_lazy("Name"),
    "user": gettext_lazy("Canvas user id"),
    "state": gettext_lazy("State"),
    "mastered": gettext_lazy("Assessments mastered"),
    "final": gettext_lazy("Final grade"),
    "awarded": gettext_lazy("Award date"),
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


# --- Counts -------------------------------------------------------------------------------------


def course_badges_for_dashboard(*, course: Course) -> list[CourseBadge]:
    return list(
        CourseBadge.objects.filter(course=course)
        .select_related("badge_class", "badge_class__issuer")
        .defer("badge_class__image", "badge_class__issuer__image")
        .order_by("-active", "badge_class__name", "id")
    )


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


def awards_needing_review_count(*, course_badge: CourseBadge) -> int:
    """Live awards whose learner no longer meets the rule (a grade changed after issue)."""
    return Award.objects.filter(course_badge=course_badge, revoked=False, needs_review=True).count()


# --- The rule and the credentialing assessments ---------------------------------------------------


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
                points = self.points_possible * self.needed_percent / 100
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
            return self.points_possible * self.needed_percent / 100
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


# --- Last sync ----------------------------------------------------------------------------------


@dataclass
class SyncStatus:
    last_synced_at: Any
    last_run: SyncRun | None
    running: bool
    running_since: Any
    failed: bool
    error_plain: str
    requested_at: Any
    api_token_missing: bool


# A failed sync's Canvas error (SyncRun.stats["error_kind"], canvas.errors) in instructors' words:
# the run keeps the admin's message (what to change where); the instructor learns whom to ask.
INSTRUCTOR_SYNC_ERRORS = {
    "token": gettext_lazy(
        "The badge tool's access to Canvas has stopped working (its API token was revoked or has "
        "expired). Ask your Canvas admin to give the badge tool a new token; badges update again after that."
    ),
    "permission": gettext_lazy(
        "The badge tool's Canvas account is not allowed to read something this course needs "
        "(Canvas said: user not authorized to perform that action). Ask your Canvas admin to give that account "
        "the permissions listed in the badge tool's documentation."
    ),
    "throttled": gettext_lazy(
        "Canvas asked the badge tool to slow down (rate limit) because many courses were syncing. "
        "Nothing is lost: the next sync continues where this one stopped."
    ),
    "invalid_assignments": gettext_lazy(
        "Canvas refused to report grades because a credentialing assessment was "
        "unpublished or deleted while the badge tool was reading it. Sync again; if it keeps happening, "
        "check the rule panel below."
    ),
    "bad_request": gettext_lazy(
        "Canvas refused one of the badge tool's requests as invalid. This is not a permission "
        "problem: your admin can find the details in the sync runs."
    ),
    "configuration": gettext_lazy(
        "The badge tool is not fully connected to this Canvas yet (no API address or token). "
        "Ask your Canvas admin to finish the setup."
    ),
    "unavailable": gettext_lazy("Canvas did not answer in time. The tool will try again at the next sync."),
    "not_found": gettext_lazy(
        "Canvas could not find this course: it may have been deleted, or the token belongs to another Canvas."
    ),
    "incomplete": gettext_lazy(
        "Canvas sent incomplete answers (pages cut short or not readable). Nothing was read from them; "
        "the tool will try again at the next sync."
    ),
}


def sync_error_explained(error: str, *, kind: str = "") -> str:
    """A failed sync's error for instructors: the words for its Canvas error kind (canvas.errors,
    recorded by the sync), else the sync's own message as written (never guessed from its text)."""
    text = (error or "").strip()
    if not text:
        return ""
    if kind in INSTRUCTOR_SYNC_ERRORS:
        return str(INSTRUCTOR_SYNC_ERRORS[kind])
    return text


def sync_status(*, course: Course) -> SyncStatus:
    state = CourseSync.objects.filter(course=course).first()
    run = SyncRun.objects.filter(course=course).order_by("-started_at", "-id").first()
    finished = (
        run
        if run is None or run.status != SyncRun.STATUS_RUNNING
        else SyncRun.objects.filter(course=course)
        .exclude(status=SyncRun.STATUS_RUNNING)
        .order_by("-started_at", "-id")
        .first()
    )
    failed = bool(finished and finished.status == SyncRun.STATUS_FAILED) or bool(
        finished is None and state and state.last_status == SyncRun.STATUS_FAILED
    )
    error = (finished.error if finished else "") or (state.last_error if state and failed else "")
    return SyncStatus(
        last_synced_at=state.last_synced_at if state else (finished.finished_at if finished else None),
        last_run=finished,
        running=bool(run and run.status == SyncRun.STATUS_RUNNING),
        running_since=run.started_at if run and run.status == SyncRun.STATUS_RUNNING else None,
        failed=failed,
        error_plain=sync_error_explained(
            error, kind=str(((finished.stats or {}) if finished else {}).get("error_kind", ""))
        )
        if failed
        else "",
        requested_at=state.requested_at if state else None,
        api_token_missing=course.platform.needs_api_token,
    )


# --- The learner table --------------------------------------------------------------------------


@dataclass
class AssessmentCell:
    canvas_assignment_id: str
    name: str
    score: Decimal | None
    points_possible: Decimal | None
    mastered: bool
    status: str  # mastered, not_mastered, not_submitted, awaiting_grading, not_posted, excused
    explanation: str
    needed: str = ""

    @property
    def score_text(self) -> str:
        if self.score is None:
            return "—"
        if self.points_possible is not None:
            return f"{_pts(self.score)}/{_pts(self.points_possible)}"
        return _pts(self.score)


@dataclass
class LearnerRow:
    progress: LearnerProgress
    display_state: str
    assessments: list[AssessmentCell]
    final_grade_entered: bool
    final_grade_text: str
    reason: str
    award: Award | None
    deliveries: list[Delivery]
    email: str

    @property
    def learner(self):
        return self.progress.learner

    @property
    def state_label(self) -> str:
        return str(DISPLAY_STATE_LABELS.get(self.display_state, self.display_state))

    @property
    def state_tone(self) -> str:
        return DISPLAY_STATE_TONES.get(self.display_state, "neutral")

    @property
    def email_parts(self) -> tuple[str, str]:
        """(local part, "@domain"): the page offers a line break before the "@", not mid-word."""
        local, at, domain = self.email.partition("@")
        return local, at + domain

    @property
    def email_delivery(self) -> Delivery | None:
        return next((d for d in self.deliveries if d.kind == Delivery.KIND_EMAIL), None)


@dataclass(frozen=True)
class LearnerFilters:
    state: str = ""
    q: str = ""
    sort: str = "name"
    descending: bool = False

    @classmethod
    def from_query(cls, params) -> LearnerFilters:
        state = params.get("state", "")
        sort = params.get("sort", "name")
        return cls(
            state=state if state in DISPLAY_STATE_LABELS else "",
            q=(params.get("q") or "").strip()[:200],
            sort=sort if sort in SORTS else "name",
            descending=params.get("dir") == "desc",
        )

    def as_query(self, **changes) -> dict[str, str]:
        values = {"state": self.state, "q": self.q, "sort": self.sort, "dir": "desc" if self.descending else ""}
        values.update({k: v for k, v in changes.items()})
        return {k: v for k, v in values.items() if v and not (k == "sort" and v == "name")}


def learner_progress_queryset(*, course_badge: CourseBadge, filters: LearnerFilters) -> QuerySet[LearnerProgress]:
    """The learners of a course badge, filtered and sorted in the database (never in Python)."""
    qs = LearnerProgress.objects.filter(course_badge=course_badge).select_related("learner")
    if filters.state:
        qs = qs.filter(_display_state_q(filters.state))
    if filters.q:
        q = filters.q
        match = (
            Q(learner__name__icontains=q)
            | Q(learner__sortable_name__icontains=q)
            | Q(learner__email__icontains=q)
            | Q(learner__canvas_user_id=q)
            # Uncorrelated: the awards matching the search are found once, not once per learner.
            | Q(
                learner_id__in=Award.objects.filter(
                    course_badge_id=course_badge.pk, recipient_email__icontains=q
                ).values("learner_id")
            )
        )
        qs = qs.filter(match)
    sign = "-" if filters.descending else ""
    order: list[Any]
    name_order = [f"{sign}learner__sortable_name", f"{sign}learner__name", f"{sign}learner_id"]
    if filters.sort == "user":
        # Canvas ids are numeric strings: order by length first so that "9" sorts before "10".
        qs = qs.annotate(_uid_len=Length("learner__canvas_user_id"))
        order = [f"{sign}_uid_len", f"{sign}learner__canvas_user_id"]
    elif filters.sort == "state":
        whens = [When(states.issue_failed_q(), then=Value(_STATE_ORDER.index(FAILED)))] + [
            When(state=s, then=Value(i)) for i, s in enumerate(_STATE_ORDER) if s != FAILED
        ]
        qs = qs.annotate(_state_rank=Case(*whens, default=Value(99), output_field=IntegerField()))
        order = [f"{sign}_state_rank", *name_order]
    elif filters.sort == "mastered":
        order = [f"{sign}mastered_count", *name_order]
    elif filters.sort == "final":
        order = [f"{sign}final_grade_entered", *name_order]
    elif filters.sort == "awarded":
        # A join, not a subquery per learner: the database allows one live award per badge class and
        # learner, so the LEFT JOIN keeps one row per learner. Revoked awards sort with "no award".
        qs = qs.annotate(
            _live_award=FilteredRelation(
                "learner__awards",
                condition=Q(learner__awards__course_badge_id=course_badge.pk, learner__awards__revoked=False),
            )
        ).annotate(_awarded=F("_live_award__issued_on"))
        # Learners without an award sort last either way.
        awarded = F("_awarded").desc(nulls_last=True) if filters.descending else F("_awarded").asc(nulls_last=True)
        order = [awarded, *name_order]
    else:
        order = name_order
    return qs.order_by(*order)


def _cells_from_detail(detail: dict, rules: list[AssessmentRule]) -> list[AssessmentCell]:
    """The evaluation's per-assessment outcome (badging.evaluation's detail, the only source: the
    sync writes it with every progress row), in the rule's order."""
    items = detail.get("assessments") if isinstance(detail, dict) else None
    by_id = {str(item.get("assignment_id")): item for item in items or [] if isinstance(item, dict)}
    cells = []
    for rule in rules:
        item = by_id.get(rule.canvas_assignment_id)
        if item is None:  # not evaluated yet (a rule changed since the last sync)
            cells.append(
                AssessmentCell(
                    rule.canvas_assignment_id, rule.name, None, rule.points_possible, False, "not_submitted", ""
                )
            )
            continue
        score = item.get("score")
        status = str(item.get("status") or "")
        cells.append(
            AssessmentCell(
                canvas_assignment_id=rule.canvas_assignment_id,
                name=rule.name,
                score=Decimal(str(score)) if score is not None else None,
                points_possible=rule.points_possible,
                mastered=bool(item.get("mastered")),
                status={"graded_not_posted": "not_posted"}.get(status, status),
                explanation=reason_text(item),
            )
        )
    return cells


def _final_grade_text(progress: LearnerProgress, detail: dict) -> str:
    final = detail.get("final_grade") if isinstance(detail, dict) else None
    if isinstance(final, dict):
        text = reason_text(final)
        if text:
            return str(text)
    return str(FINAL_ENTERED if progress.final_grade_entered else FINAL_NOT_ENTERED)


def _reason(progress: LearnerProgress, display_state: str, award: Award | None) -> str:
    detail = progress.detail if isinstance(progress.detail, dict) else {}
    if display_state == FAILED:
        return progress.issue_error or _("Issuing failed; it will be retried.")
    if display_state == REVOKED or (award is not None and award.revoked and display_state != ISSUED):
        return _("Revoked: %(reason)s") % {"reason": award.revocation_reason} if award else _("Revoked")
    summary = reason_text(detail)
    if summary:
        return str(summary)
    n, k = progress.assessment_count, progress.mastered_count
    return {
        NOT_STARTED: _("Nothing submitted yet"),
        IN_PROGRESS: _("%(mastered)s of %(total)s assessments mastered") % {"mastered": k, "total": n},
        AWAITING_FINAL_GRADE: _("Every assessment mastered; the final grade is not entered yet"),
        ELIGIBLE: _("Earned; the badge is being issued"),
        ISSUED: _("Issued"),
        NOT_EARNED: _("Final grade entered with %(mastered)s of %(total)s assessments mastered")
        % {"mastered": k, "total": n},
        INELIGIBLE: _("No active or completed student enrollment"),
        HELD_ELSEWHERE: _("Already holds this badge from another course: it is not issued twice"),
    }.get(display_state, "")


def learner_rows(
    *, course_badge: CourseBadge, progresses: list[LearnerProgress], rules: list[AssessmentRule]
) -> list[LearnerRow]:
    """Everything the table shows for these learners: one query each for results, awards, deliveries."""
    learner_ids = [p.learner_id for p in progresses]
    if not learner_ids:
        return []
    awards: dict[int, Award] = {}
    for found in (
        Award.objects.filter(course_badge=course_badge, learner_id__in=learner_ids)
        .defer("ob3_credential", "ob3_jwt", "evidence_narrative")
        .order_by("learner_id", "revoked", "-issued_on")
    ):
        awards.setdefault(found.learner_id, found)
    deliveries: dict[int, list[Delivery]] = defaultdict(list)
    if awards:
        for delivery in Delivery.objects.filter(award_id__in=[a.pk for a in awards.values()]).order_by("kind"):
            deliveries[delivery.award_id].append(delivery)

    rows = []
    for progress in progresses:
        detail = progress.detail if isinstance(progress.detail, dict) else {}
        cells = _cells_from_detail(detail, rules)
        for cell, rule in zip(cells, rules, strict=True):
            cell.needed = rule.needed_text
        award = awards.get(progress.learner_id)
        display_state = display_state_of(progress)
        rows.append(
            LearnerRow(
                progress=progress,
                display_state=display_state,
                assessments=cells,
                final_grade_entered=progress.final_grade_entered,
                final_grade_text=_final_grade_text(progress, detail),
                reason=_reason(progress, display_state, award),
                award=award,
                deliveries=deliveries.get(award.pk, []) if award else [],
                email=award.recipient_email if award else progress.learner.email,
            )
        )
    return rows


@dataclass
class LearnerTable:
    page: Page
    rows: list[LearnerRow]
    rules: list[AssessmentRule]
    filters: LearnerFilters


def learner_table(
    *,
    course_badge: CourseBadge,
    filters: LearnerFilters,
    page_number: int | str | None = 1,
    rules: list[AssessmentRule] | None = None,
    per_page: int = PAGE_SIZE,
) -> LearnerTable:
    """One page of the learner table: a count, a page query, then one query per kind for that page."""
    if rules is None:
        rules = credentialing_assessments(
            course_badge=course_badge, assignments=course_assignments(course_id=course_badge.course_id)
        )
    paginator = Paginator(learner_progress_queryset(course_badge=course_badge, filters=filters), per_page)
    page = paginator.get_page(page_number)
    progresses = list(page.object_list)
    return LearnerTable(
        page=page,
        rows=learner_rows(course_badge=course_badge, progresses=progresses, rules=rules),
        rules=rules,
        filters=filters,
    )


def learner_rows_iter(
    *, course_badge: CourseBadge, filters: LearnerFilters, chunk_size: int = 500
) -> Iterator[tuple[list[AssessmentRule], LearnerRow]]:
    """Every learner of the table (all pages), in chunks: memory stays flat for any course size."""
    rules = credentialing_assessments(
        course_badge=course_badge, assignments=course_assignments(course_id=course_badge.course_id)
    )
    chunk: list[LearnerProgress] = []
    for progress in learner_progress_queryset(course_badge=course_badge, filters=filters).iterator(
        chunk_size=chunk_size
    ):
        chunk.append(progress)
        if len(chunk) >= chunk_size:
            for row in learner_rows(course_badge=course_badge, progresses=chunk, rules=rules):
                yield rules, row
            chunk = []
    if chunk:
        for row in learner_rows(course_badge=course_badge, progresses=chunk, rules=rules):
            yield rules, row


# --- One learner: "why not issued?" -------------------------------------------------------------


@dataclass
class LearnerExplanation:
    row: LearnerRow
    rule: RuleCheck
    enrollments: list[Enrollment]
    final_grade_detail: str
    evaluated_at: Any


def learner_explanation(*, course_badge: CourseBadge, learner_id: int) -> LearnerExplanation | None:
    """The exact rule outcome for one learner, per assessment and for the final grade."""
    progress = (
        LearnerProgress.objects.filter(course_badge=course_badge, learner_id=learner_id)
        .select_related("learner")
        .first()
    )
    if progress is None:
        return None
    rule = rule_check(course_badge=course_badge)
    row = learner_rows(course_badge=course_badge, progresses=[progress], rules=rule.assessments)[0]
    enrollments = list(
        Enrollment.objects.filter(course_id=course_badge.course_id, learner_id=learner_id).order_by("section_id")
    )
    return LearnerExplanation(
        row=row,
        rule=rule,
        enrollments=enrollments,
        final_grade_detail=row.final_grade_text,
        evaluated_at=progress.evaluated_at,
    )


# --- The audit trail ----------------------------------------------------------------------------

ACTION_LABELS = {
    "instructor.sync_requested": gettext_lazy("asked for a sync"),
    "instructor.issuance_retried": gettext_lazy("retried failed issuing"),
    "award_revoked": gettext_lazy("revoked a badge"),
    "instructor.notification_resent": gettext_lazy("re-sent a badge email"),
    "instructor.learners_exported": gettext_lazy("exported the learner table"),
}


def recent_actions(*, course: Course, limit: int = 5) -> list[AuditEvent]:
    events = list(
        AuditEvent.objects.filter(course=course, action__in=list(ACTION_LABELS)).order_by("-at", "-id")[:limit]
    )
    for event in events:
        event.label = ACTION_LABELS.get(event.action, event.action)  # type: ignore[attr-defined]
    return events
