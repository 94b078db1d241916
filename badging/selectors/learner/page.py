"""The learner page's data for the launching person: read-only, local data only, a fixed number of
queries (learner_page).

A learner page view never calls Canvas and never loads another learner's rows: every query below is
filtered by the launching person, so its cost does not grow with the size of the course.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from badging import evaluation as ev
from badging.models import (
    AssessmentResult,
    Assignment,
    Award,
    CourseBadge,
    CourseSync,
    Enrollment,
    LearnerProgress,
)
from badging.rules import badge_rule_build, rule_rows
from badging.selectors.learner.cards import (
    OPEN_STATES,
    RESULT_MASTERED,
    STATE_LABELS,
    BadgeCard,
    LearnerPage,
    _assessment_row,
    _num,
    award_link_list,
    badge_image_url,
    course_badge_final_grade_rule,
)
from lti.models import Course, LaunchContext
from skillsforward.compiled import CompiledQuery

# The learner's four queries of a first view, compiled to SQL once per process (Django building
# their SQL again on every view cost more CPU than PostgreSQL answering them).
_results_of = CompiledQuery(lambda course, person: AssessmentResult.objects.filter(course_id=course, learner_id=person))
_enrollments_of = CompiledQuery(lambda course, person: Enrollment.objects.filter(course_id=course, learner_id=person))
_progress_of = CompiledQuery(
    lambda person, course_badges: LearnerProgress.objects.filter(learner_id=person, course_badge_id__in=course_badges)
)
# Live awards first, then newest: a live award wins over an older revoked one.
_awards_of = CompiledQuery(
    lambda person, badge_classes: (
        Award.objects.filter(learner_id=person, badge_class_id__in=badge_classes)
        .select_related("badge_class__issuer")
        .defer("ob3_credential", "ob3_jwt", "badge_class__image", "badge_class__issuer__image")
        .order_by("revoked", "-issued_on")
    )
)


def _result_fact(*, result: AssessmentResult, canvas_assignment_id: str) -> ev.ResultFact:
    return ev.ResultFact(
        assignment_id=canvas_assignment_id,
        workflow_state=result.workflow_state,
        score=result.score,
        entered_score=result.entered_score,
        grade=result.grade,
        excused=result.excused,
        graded=result.graded_at is not None,
        posted=result.is_posted,
        rubric_points={
            str(k): _num((v or {}).get("points")) if isinstance(v, dict) else None
            for k, v in (result.rubric_assessment or {}).items()
        },
    )


def _enrollment_fact(enrollment: Enrollment) -> ev.EnrollmentFact:
    return ev.EnrollmentFact(
        state=enrollment.state,
        enrollment_type=enrollment.enrollment_type,
        is_test_user=enrollment.is_test_user,
        override_score=enrollment.override_score,
        override_grade=enrollment.override_grade,
    )


def _stored_outcomes(progress: LearnerProgress | None) -> dict[str, dict] | None:
    """Per-assessment outcomes from the stored evaluation detail (version 1), by Canvas assignment id."""
    detail = progress.detail if progress is not None else None
    if not isinstance(detail, dict) or detail.get("version") != 1:
        return None
    return {str(a.get("assignment_id")): a for a in detail.get("assessments") or [] if isinstance(a, dict)}


@dataclass(frozen=True)
class CourseRules:
    """What a learner page reads of the course itself, the same for every learner of it: its
    active course badges (with badge class and issuer), the sync's facts, its assignments and the
    rule of each badge. Read-only once built: pages of several learners may share one."""

    course_badges: list[CourseBadge]
    last_synced_at: datetime | None
    override_allowed: bool | None
    assignments: list[Assignment]
    rules: dict[int, ev.BadgeRule]  # by course badge pk


def course_rules_read(*, course: Course) -> CourseRules:
    """The course's part of a learner page, in three queries."""
    course_badges = list(
        CourseBadge.objects.filter(course=course, active=True)
        .select_related("badge_class__issuer")
        .defer("badge_class__image", "badge_class__issuer__image")
        .order_by("badge_class__name", "pk")
    )
    sync = CourseSync.objects.filter(course=course).only("last_synced_at", "allow_final_grade_override").first()
    override_allowed = sync.allow_final_grade_override if sync else None
    if not course_badges:
        return CourseRules([], sync.last_synced_at if sync else None, override_allowed, [], {})
    assignments = list(Assignment.objects.filter(course=course).order_by("position", "name", "id"))
    assignment_rows = rule_rows(assignments)
    # The same rule the sync's evaluation applies: which assessments, what mastery means.
    rules = {
        cb.pk: badge_rule_build(
            course_badge=cb, assignments=assignment_rows, final_grade_override_allowed=override_allowed
        )
        for cb in course_badges
    }
    return CourseRules(course_badges, sync.last_synced_at if sync else None, override_allowed, assignments, rules)


def learner_page(*, launch: LaunchContext, request=None, course_rules: CourseRules | None = None) -> LearnerPage:
    """Everything the learner page shows for the launching person, in seven queries at most (four
    when the course's part is given, see badging.selectors.learner.cached).

    The learner's state is the stored evaluation (LearnerProgress) when it has run, else the same
    pure evaluation (badging.evaluation) applied to the synced rows now.

    Only the launching person's rows are read (results, enrollments, progress, awards).
    """
    course, person = launch.course_required, launch.person
    course_rules = course_rules or course_rules_read(course=course)
    course_badges = course_rules.course_badges
    page = LearnerPage(
        course=course,
        person=person,
        is_test_user=launch.is_test_user,
        email=person.email or launch.email,
        last_synced_at=course_rules.last_synced_at,
    )
    if not course_badges:
        return page

    assignments = course_rules.assignments
    by_canvas_id = {str(a.canvas_assignment_id): a for a in assignments}
    canvas_ids = {a.pk: str(a.canvas_assignment_id) for a in assignments}
    override_allowed = course_rules.override_allowed
    results = {r.assignment_id: r for r in _results_of(course=course.pk, person=person.pk)}
    result_facts = {
        canvas_ids[pk]: _result_fact(result=r, canvas_assignment_id=canvas_ids[pk])
        for pk, r in results.items()
        if pk in canvas_ids
    }
    enrollment_facts = tuple(_enrollment_fact(e) for e in _enrollments_of(course=course.pk, person=person.pk))
    own_badges = sorted(cb.pk for cb in course_badges)
    progress = {p.course_badge_id: p for p in _progress_of(person=person.pk, course_badges=own_badges)}
    awards: dict[int, Award] = {}
    award_rows = _awards_of(person=person.pk, badge_classes=sorted({cb.badge_class_id for cb in course_badges}))
    # Only this course's awards are shown here; a live award of the same badge class from another
    # course only says that the learner already holds it (it is not issued twice).
    own_badge_ids = {cb.pk for cb in course_badges}
    held_elsewhere: set[int] = set()
    for row in award_rows:
        if row.course_badge_id in own_badge_ids:
            awards.setdefault(row.course_badge_id, row)
        elif not row.revoked:
            held_elsewhere.add(row.badge_class_id)

    for cb in course_badges:
        badge = cb.badge_class
        award = awards.get(cb.pk)
        if award is not None and award.revoked and badge.pk in held_elsewhere:
            award = None
        rule = course_rules.rules[cb.pk]
        problems = {spec.assignment_id: spec.problem for spec in rule.assessments if spec.missing}
        # A picked assessment Canvas no longer has is still listed (it blocks the badge): say so.
        # Before the first sync nothing has been read yet, so nothing is "missing".
        picked = [
            by_canvas_id.get(spec.assignment_id)
            or Assignment(course=course, canvas_assignment_id=spec.assignment_id, name=spec.name, rubric=[])
            for spec in rule.assessments
            if not (spec.missing and page.last_synced_at is None)
        ]
        live = ev.evaluate_learner(
            rule=rule,
            learner=ev.LearnerFacts(
                enrollments=enrollment_facts,
                results=result_facts,
                award=(
                    ev.AWARD_ELSEWHERE
                    if award is None and badge.pk in held_elsewhere
                    else None
                    if award is None
                    else (ev.AWARD_REVOKED if award.revoked else ev.AWARD_LIVE)
                ),
            ),
        )
        prog = progress.get(cb.pk)
        # The stored evaluation decides what the learner is told; the live one fills in until it has run.
        stored = _stored_outcomes(prog)
        outcomes = {o.assignment_id: (o.status, o.score) for o in live.assessments}
        if stored is not None:
            outcomes.update({k: (v.get("status", ""), v.get("score")) for k, v in stored.items() if k in outcomes})
        rows = [
            _assessment_row(
                assignment=a,
                course_badge=cb,
                result=results.get(a.pk),
                status=outcomes[str(a.canvas_assignment_id)][0],
                score=outcomes[str(a.canvas_assignment_id)][1],
                problem=problems.get(str(a.canvas_assignment_id), ""),
            )
            for a in picked
        ]
        final_entered = live.final_grade.entered
        state: str
        if badge.pk in held_elsewhere and award is None:
            state = LearnerProgress.HELD_ELSEWHERE
        elif award is not None or launch.is_test_user:
            state = live.state if award is not None else LearnerProgress.INELIGIBLE
        elif (
            prog is not None
            and prog.evaluated_at is not None
            and prog.state
            not in (
                LearnerProgress.ISSUED,
                LearnerProgress.REVOKED,
            )
        ):
            state = prog.state
            final_entered = prog.final_grade_entered
        else:
            state = live.state
        page.badges.append(
            BadgeCard(
                course_badge_id=cb.pk,
                name=badge.name,
                description=badge.description,
                criteria_narrative=badge.criteria_narrative,
                criteria_url=badge.criteria_url,
                image_url=badge_image_url(badge_class=badge),
                issuer_name=badge.issuer.name,
                issuer_url=badge.issuer.url,
                issuer_email=badge.issuer.email,
                skills=[a for a in (badge.alignments or []) if isinstance(a, dict) and a.get("targetName")],
                tags=[str(t) for t in (badge.tags or [])],
                valid_for_days=badge.valid_for_days,
                state=state,
                state_label=str(STATE_LABELS.get(state, state)),
                assessments=rows,
                mastered_count=sum(r.result == RESULT_MASTERED for r in rows),
                remaining=sum(r.result != RESULT_MASTERED for r in rows),
                still_open=award is None and state in OPEN_STATES,
                final_grade_rule=course_badge_final_grade_rule(course_badge=cb),
                final_grade_entered=final_entered,
                final_grade_blocked=(
                    cb.final_grade_source == CourseBadge.FINAL_GRADE_OVERRIDE and override_allowed is False
                ),
                blocked_assessments=[r.name for r in rows if r.problem],
                mastery_score=cb.mastery_score,
                enrolled=live.enrollment.counts,
                award=award,
                award_links=award_link_list(award=award, request=request)
                if award is not None and not award.revoked
                else [],
                issue_failed=bool(prog and prog.issue_failed),
                issue_error=prog.issue_error if prog else "",
                evaluated_at=prog.evaluated_at if prog else None,
            )
        )
    return page
