"""The learner table (and its CSV export): filtered, sorted and paginated in the database; what
a page shows about its learners (awards, deliveries) is fetched with one query per kind."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Case, F, FilteredRelation, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Length
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from badging import states
from badging.models import Award, CourseBadge, Delivery, LearnerProgress
from badging.selectors.dashboard.display_states import (
    _STATE_ORDER,
    AWAITING_FINAL_GRADE,
    DISPLAY_STATE_LABELS,
    DISPLAY_STATE_TONES,
    ELIGIBLE,
    FAILED,
    HELD_ELSEWHERE,
    IN_PROGRESS,
    INELIGIBLE,
    ISSUED,
    NOT_EARNED,
    NOT_STARTED,
    REVOKED,
    _display_state_q,
    display_state_of,
)
from badging.selectors.dashboard.rule_check import AssessmentRule, _pts, course_assignments, credentialing_assessments
from badging.selectors.reasons import reason_text

PAGE_SIZE = 50

# The final grade column when the evaluation gave no detail.
FINAL_ENTERED = gettext_lazy("Entered")
FINAL_NOT_ENTERED = gettext_lazy("Not entered")


SORTS = {
    "name": gettext_lazy("Name"),
    "user": gettext_lazy("Canvas user id"),
    "state": gettext_lazy("State"),
    "mastered": gettext_lazy("Assessments mastered"),
    "final": gettext_lazy("Final grade"),
    "awarded": gettext_lazy("Award date"),
}


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
