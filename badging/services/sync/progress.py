"""Learner progress: every learner of a course evaluated on its active course badges.

Reads the stored facts per chunk of learners, asks badging.rules / badging.evaluation for the
decision, writes LearnerProgress in bulk, flags issued awards whose learner no longer meets the
rule and hands the eligible learners to issuance. Changes when what is stored per learner, or
when it is handed to issuance, changes (the rule itself lives in badging.rules).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from badging import evaluation as ev
from badging.models import (
    AssessmentResult,
    Award,
    CourseBadge,
    CourseSync,
    Enrollment,
    LearnerProgress,
)
from badging.rules import badge_rule_build, rule_assignments
from badging.services.issuance.queueing import awards_enqueue_eligible
from badging.services.issuance.review import award_flag_for_review
from badging.services.sync.canvas_import import BATCH
from skillsforward.durability import rereadable_writes


@dataclass
class _Facts:
    enrollments: list
    results: dict


def progress_evaluate_course(*, course_id: int) -> dict:
    """Evaluate every learner on every active course badge of the course from the synced rows,
    write LearnerProgress (bulk), flag issued awards whose learner no longer meets the rule, and
    hand the eligible learners to issuance. Returns counts by state per course badge key.

    Learners are evaluated EVALUATE_CHUNK at a time (their enrollments and results read for the
    chunk only): memory does not grow with the course."""
    return _CourseEvaluation(course_id=course_id).finish()


class _CourseEvaluation:
    """progress_evaluate_course in steps: a sync evaluates the learners whose rows are all stored,
    and queues the eligible ones for issuance, while Canvas's next pages are read; finish() then
    evaluates everyone not evaluated yet and does what needs the whole course (stale rows, flags).

    Built after the assignments and the course settings are stored: the rules are built once."""

    def __init__(self, *, course_id: int):
        self.course_id = course_id
        assignments = rule_assignments(course_id=course_id)
        override_allowed = (
            CourseSync.objects.filter(course_id=course_id).values_list("allow_final_grade_override", flat=True).first()
        )
        self.badges = list(CourseBadge.objects.filter(course_id=course_id, active=True))
        # A course badge no longer offered issues nothing: drop its not-yet-issued eligible rows (derived
        # data, rebuilt by the next evaluation if it is offered again), so the reconciler finds none.
        LearnerProgress.objects.filter(
            course_badge__course_id=course_id, course_badge__active=False, state=LearnerProgress.ELIGIBLE
        ).delete()
        # Rubric ratings are only read when a badge asks for a minimum rating per criterion.
        self.with_rubric = any(b.min_rubric_criterion_percent is not None for b in self.badges)
        self.rules = {
            badge.pk: badge_rule_build(
                course_badge=badge, assignments=assignments, final_grade_override_allowed=override_allowed
            )
            for badge in self.badges
        }
        # Each learner's last state per course badge (a learner evaluated twice is counted once).
        self.states: dict[int, dict[int, str]] = {badge.pk: {} for badge in self.badges}
        self.to_flag: dict[int, dict[int, str]] = {badge.pk: {} for badge in self.badges}
        self.queued: dict[int, int] = {badge.pk: 0 for badge in self.badges}
        self.done: set[int] = set()
        self.now = timezone.now()

    def learners_evaluate(self, learner_ids: list[int], *, enqueue: bool = True) -> None:
        """Evaluate these learners now (their awards read now) and queue the eligible ones."""
        ordered = sorted(set(learner_ids))
        for start in range(0, len(ordered), EVALUATE_CHUNK):
            chunk = ordered[start : start + EVALUATE_CHUNK]
            self._chunk_evaluate(chunk, awards=_awards_read(self.badges, learner_ids=chunk))
        if enqueue:
            self._eligible_enqueue()

    def again(self) -> None:
        """The learners' rows changed after they were evaluated: finish() evaluates everyone."""
        self.done.clear()

    def finish(self) -> dict:
        course_id = self.course_id
        # Only this course badge's awards: another course offering the same badge class has its own
        # learners. Its live awards only say that an enrolled learner here already holds the class.
        awards = _awards_read(self.badges)
        # The course's learners: ids only (the facts are read per chunk).
        with_facts = set(Enrollment.objects.filter(course_id=course_id).values_list("learner_id", flat=True)) | set(
            AssessmentResult.objects.filter(course_id=course_id).values_list("learner_id", flat=True).distinct()
        )
        for badge in self.badges:
            # Rows of people neither in this course nor holding this course badge's award (e.g. left by
            # an evaluation that read another course's awards) are not this course's learners.
            LearnerProgress.objects.filter(course_badge=badge).exclude(
                learner_id__in=Enrollment.objects.filter(course_id=course_id).values("learner_id")
            ).exclude(learner_id__in=AssessmentResult.objects.filter(course_id=course_id).values("learner_id")).exclude(
                learner_id__in=list(awards[badge.pk])
            ).delete()
        ordered = sorted(with_facts - self.done)
        chunks = [ordered[start : start + EVALUATE_CHUNK] for start in range(0, len(ordered), EVALUATE_CHUNK)]
        # Holders of a live award of a badge who have no enrollment or result here: evaluated with no facts.
        award_only = sorted(
            {lid for mine in awards.values() for lid, (live, _) in mine.items() if live} - with_facts - self.done
        )
        chunks += [award_only[start : start + EVALUATE_CHUNK] for start in range(0, len(award_only), EVALUATE_CHUNK)]
        for chunk in chunks:
            self._chunk_evaluate(chunk, awards=awards)
        summary: dict = {}
        for badge in self.badges:
            if self.to_flag[badge.pk]:
                _flag_for_review(badge, self.to_flag[badge.pk])
        self._eligible_enqueue()
        for badge in self.badges:
            badge_counts: dict[str, int] = defaultdict(int)
            for state in self.states[badge.pk].values():
                badge_counts[state] += 1
            summary[badge.key] = {**badge_counts, "queued": self.queued[badge.pk]}
        return summary

    def _chunk_evaluate(self, chunk: list[int], *, awards: dict[int, dict[int, tuple[bool, bool]]]) -> None:
        facts = _facts_read(course_id=self.course_id, learner_ids=chunk, with_rubric=self.with_rubric)
        for badge in self.badges:
            _evaluate_chunk(
                badge=badge,
                rule=self.rules[badge.pk],
                learner_ids=chunk,
                facts=facts,
                awards=awards[badge.pk],
                states=self.states[badge.pk],
                to_flag=self.to_flag[badge.pk],
                now=self.now,
            )
        self.done.update(chunk)

    def _eligible_enqueue(self) -> None:
        for badge in self.badges:
            if ev.ELIGIBLE in self.states[badge.pk].values():
                self.queued[badge.pk] += awards_enqueue_eligible(course_badge_id=badge.pk)


def _awards_read(
    badges: list[CourseBadge], *, learner_ids: list[int] | None = None
) -> dict[int, dict[int, tuple[bool, bool]]]:
    """Per course badge: learner -> (holds a live award, it is flagged for review), of all its
    learners or of these."""
    awards: dict[int, dict[int, tuple[bool, bool]]] = {}
    for badge in badges:
        mine: dict[int, tuple[bool, bool]] = {}
        rows = Award.objects.filter(course_badge_id=badge.pk)
        if learner_ids is not None:
            rows = rows.filter(learner_id__in=learner_ids)
        for learner_id, revoked, needs_review in rows.values_list("learner_id", "revoked", "needs_review"):
            live, flagged = mine.get(learner_id, (False, False))
            if not revoked:
                live, flagged = True, needs_review
            mine[learner_id] = (live, flagged)
        awards[badge.pk] = mine
    return awards


EVALUATE_CHUNK = 1000


# Learners whose history is stored, evaluated (and the eligible queued) together while the sync reads on.
EVALUATE_WHILE_READING = 500


def _facts_read(*, course_id: int, learner_ids: list[int], with_rubric: bool) -> dict[int, _Facts]:
    facts: dict[int, _Facts] = defaultdict(lambda: _Facts([], {}))
    for row in Enrollment.objects.filter(course_id=course_id, learner_id__in=learner_ids).values(
        "learner_id", "state", "enrollment_type", "is_test_user", "override_score", "override_grade"
    ):
        facts[row["learner_id"]].enrollments.append(
            ev.EnrollmentFact(
                state=row["state"],
                enrollment_type=row["enrollment_type"],
                is_test_user=row["is_test_user"],
                override_score=row["override_score"],
                override_grade=row["override_grade"],
            )
        )
    fields = ["learner_id", "assignment__canvas_assignment_id", "workflow_state", "score", "entered_score"]
    fields += ["grade", "excused"]
    fields += ["graded_at", "posted_at"] + (["rubric_assessment"] if with_rubric else [])
    for row in AssessmentResult.objects.filter(course_id=course_id, learner_id__in=learner_ids).values(*fields):
        aid = row["assignment__canvas_assignment_id"]
        rubric = row.get("rubric_assessment") or {}
        facts[row["learner_id"]].results[aid] = ev.ResultFact(
            assignment_id=aid,
            workflow_state=row["workflow_state"],
            score=row["score"],
            entered_score=row["entered_score"],
            grade=row["grade"],
            excused=row["excused"],
            graded=row["graded_at"] is not None,
            posted=row["posted_at"] is not None,
            rubric_points={
                str(k): (Decimal(str(v["points"])) if isinstance(v, dict) and v.get("points") is not None else None)
                for k, v in rubric.items()
            },
        )
    return facts


def _evaluate_chunk(
    *,
    badge: CourseBadge,
    rule: ev.BadgeRule,
    learner_ids: list[int],
    facts: dict[int, _Facts],
    awards: dict[int, tuple[bool, bool]],
    states: dict[int, str],
    to_flag: dict[int, str],
    now: datetime,
) -> None:
    held_elsewhere = set(
        Award.objects.filter(badge_class_id=badge.badge_class_id, revoked=False, learner_id__in=learner_ids)
        .exclude(course_badge_id=badge.pk)
        .values_list("learner_id", flat=True)
    )
    rows: list[tuple] = []
    for learner_id in learner_ids:
        award = awards.get(learner_id)
        if learner_id not in facts and not (award is not None and award[0]):
            continue  # holds a live award of another of the course's badges only
        f = facts[learner_id] if learner_id in facts else _Facts([], {})
        if award is not None and award[0]:
            award_state: str | None = ev.AWARD_LIVE
        elif learner_id in held_elsewhere:
            award_state = ev.AWARD_ELSEWHERE
        else:
            award_state = None if award is None else ev.AWARD_REVOKED
        result = ev.evaluate_learner(
            rule=rule,
            learner=ev.LearnerFacts(enrollments=tuple(f.enrollments), results=f.results, award=award_state),
        )
        states[learner_id] = result.state
        if (
            award is not None
            and award[0]
            and result.state == ev.ISSUED
            and not result.eligible_by_rule
            and not award[1]
            and not _canvas_hides_the_facts(rule, result)
        ):
            to_flag[learner_id] = _review_reason(result)
        # save_evaluations's order: course badge, learner, then EVALUATION_FIELDS.
        rows.append(
            (
                badge.pk,
                learner_id,
                result.state,
                result.mastered_count,
                result.assessment_count,
                result.final_grade.entered,
                result.detail(),
                now,
            )
        )
    with rereadable_writes():
        LearnerProgress.objects.save_evaluations(rows, batch_size=BATCH)


def _canvas_hides_the_facts(rule: ev.BadgeRule, result: ev.LearnerEvaluation) -> bool:
    """True when the learner misses the rule only because Canvas no longer reports what decided it
    (an assessment unpublished or deleted, Final Grade Override turned off): a course setting changed,
    not the learner's grades, so their issued award is not flagged for review."""
    hidden_final = rule.final_grade_source == ev.FINAL_GRADE_OVERRIDE and rule.final_grade_override_allowed is False
    return any(a.status == ev.MISSING_IN_CANVAS for a in result.assessments) or (
        hidden_final and not result.final_grade.entered
    )


def _review_reason(result: ev.LearnerEvaluation) -> str:
    if not result.enrollment.counts:
        return f"the learner no longer meets the badge rule: {result.enrollment.reason}"
    if not result.final_grade.entered:
        return "the learner no longer meets the badge rule: the final grade was removed"
    missed = [a for a in result.assessments if not a.mastered]
    names = "; ".join(f"{a.name}: {a.reason}" for a in missed)
    return f"the learner no longer meets the badge rule ({names})"[:2000]


def _flag_for_review(badge: CourseBadge, reasons: dict[int, str]) -> None:
    progress_ids = dict(
        LearnerProgress.objects.filter(course_badge=badge, learner_id__in=list(reasons)).values_list("learner_id", "pk")
    )
    for learner_id, reason in reasons.items():
        award_flag_for_review(progress_id=progress_ids[learner_id], reason=reason)
