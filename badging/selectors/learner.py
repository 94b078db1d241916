"""What a learner (or the person launching) sees: read-only, local data only, a fixed number of queries.

A learner page view never calls Canvas and never loads another learner's rows: every query below is
filtered by the launching person, so its cost does not grow with the size of the course.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from badging import evaluation as ev
from badging.models import (
    AssessmentResult,
    Assignment,
    Award,
    BadgeClass,
    CourseBadge,
    CourseSync,
    Enrollment,
    Issuer,
    LearnerProgress,
)
from badging.rules import badge_rule_build, rule_rows, threshold
from lti.models import Course, LaunchContext, Person
from skillsforward.prepared import execute_prepared

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class RubricCriterion:
    description: str
    long_description: str
    points: Decimal | None
    ratings: list[RubricRating]
    your_points: Decimal | None  # None: not assessed, or not posted yet
    your_comments: str
    meets_minimum: bool | None  # None: no per-criterion minimum in the rule, or not assessed


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
        points = (possible * min_percent / 100) if possible is not None and min_percent is not None else None
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
    assessed = (posted.rubric_assessment or {}) if posted is not None else {}
    min_share = _num(course_badge.min_rubric_criterion_percent)
    rows = []
    for criterion in assignment.rubric or []:
        mine = assessed.get(str(criterion.get("id"))) or {}
        your_points = _num(mine.get("points"))
        chosen_id = mine.get("rating_id")
        possible = _num(criterion.get("points"))
        ratings = [
            RubricRating(
                description=str(r.get("description") or ""),
                points=_num(r.get("points")),
                chosen=bool(mine)
                and (
                    (chosen_id is not None and r.get("id") == chosen_id)
                    or (chosen_id is None and your_points is not None and _num(r.get("points")) == your_points)
                ),
            )
            for r in criterion.get("ratings") or []
        ]
        meets = None
        # A criterion Canvas ignores for scoring is rated for feedback only: no minimum applies to it.
        if min_share is not None and your_points is not None and possible and not criterion.get("ignore_for_scoring"):
            meets = your_points >= possible * min_share / 100
        rows.append(
            RubricCriterion(
                description=str(criterion.get("description") or ""),
                long_description=str(criterion.get("long_description") or ""),
                points=possible,
                ratings=ratings,
                your_points=your_points,
                your_comments=str(mine.get("comments") or ""),
                meets_minimum=meets,
            )
        )
    return rows


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
    return AssessmentRow(
        name=assignment.name,
        html_url=assignment.html_url,
        points_possible=_num(assignment.points_possible),
        mastery_points=points,
        mastery_text=text,
        criteria=_criteria(assignment=assignment, course_badge=course_badge, posted=posted),
        result=state,
        score=_num(score) if posted is not None else None,
        grade=posted.grade if posted is not None else "",
        problem=problem,
        points_deducted=_num(posted.points_deducted) if posted is not None and posted.points_deducted else None,
    )


def _stored_outcomes(progress: LearnerProgress | None) -> dict[str, dict] | None:
    """Per-assessment outcomes from the stored evaluation detail (version 1), by Canvas assignment id."""
    detail = progress.detail if progress is not None else None
    if not isinstance(detail, dict) or detail.get("version") != 1:
        return None
    return {str(a.get("assignment_id")): a for a in detail.get("assessments") or [] if isinstance(a, dict)}


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


def learner_page(*, launch: LaunchContext, request=None) -> LearnerPage:
    """Everything the learner page shows for the launching person, in seven queries at most.

    The learner's state is the stored evaluation (LearnerProgress) when it has run, else the same
    pure evaluation (badging.evaluation) applied to the synced rows now.

    Only the launching person's rows are read (results, enrollments, progress, awards).
    """
    course, person = launch.course_required, launch.person
    course_badges = list(
        CourseBadge.objects.filter(course=course, active=True)
        .select_related("badge_class__issuer")
        .defer("badge_class__image", "badge_class__issuer__image")
        .order_by("badge_class__name", "pk")
    )
    sync = CourseSync.objects.filter(course=course).only("last_synced_at", "allow_final_grade_override").first()
    page = LearnerPage(
        course=course,
        person=person,
        is_test_user=launch.is_test_user,
        email=person.email or launch.email,
        last_synced_at=sync.last_synced_at if sync else None,
    )
    if not course_badges:
        return page

    assignments = list(Assignment.objects.filter(course=course).order_by("position", "name", "id"))
    by_canvas_id = {str(a.canvas_assignment_id): a for a in assignments}
    canvas_ids = {a.pk: str(a.canvas_assignment_id) for a in assignments}
    assignment_rows = rule_rows(assignments)
    override_allowed = sync.allow_final_grade_override if sync else None
    results = {r.assignment_id: r for r in AssessmentResult.objects.filter(course=course, learner=person)}
    result_facts = {
        canvas_ids[pk]: _result_fact(result=r, canvas_assignment_id=canvas_ids[pk])
        for pk, r in results.items()
        if pk in canvas_ids
    }
    enrollment_facts = tuple(_enrollment_fact(e) for e in Enrollment.objects.filter(course=course, learner=person))
    progress = {
        p.course_badge_id: p for p in LearnerProgress.objects.filter(learner=person, course_badge__in=course_badges)
    }
    # Live awards first, then newest: a live award wins over an older revoked one.
    awards: dict[int, Award] = {}
    award_rows = (
        Award.objects.filter(learner=person, badge_class__in={cb.badge_class_id for cb in course_badges})
        .select_related("badge_class__issuer")
        .defer("ob3_credential", "ob3_jwt", "badge_class__image", "badge_class__issuer__image")
        .order_by("revoked", "-issued_on")
    )
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
        # The same rule the sync's evaluation applies: which assessments, what mastery means.
        rule = badge_rule_build(
            course_badge=cb, assignments=assignment_rows, final_grade_override_allowed=override_allowed
        )
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


# --- the learner page, cached ------------------------------------------------------------------
#
# Building the page costs eight queries and the evaluation; under load that is most of a request.
# The built page is kept in the cache under a key made of whose page it is (platform, course,
# learner), what shapes its words and links (language, site, the launch's email and test-user
# flag), and a digest of every row it is built from, computed by the database in one query. Any
# change to those rows (a grade, an award, a revocation, a rule, however it was written: save,
# bulk update, raw SQL) changes the digest, so the next view builds the page again: nothing is
# invalidated by hand, and nothing stale is shown. The digest needs PostgreSQL; elsewhere (the
# SQLite demo) the page is built on every view.

LEARNER_PAGE_CACHE_SECONDS = 600
# Bump when LearnerPage or what learner_page() computes changes: old entries are then not read.
LEARNER_PAGE_CACHE_VERSION = 1


def _code_version() -> str:
    """The deployed code and templates of the learner page: a release that changes any of them
    does not serve pages cached by the previous one (stat only, read once per process)."""
    from pathlib import Path

    from django.conf import settings

    root = Path(settings.BASE_DIR)
    files = [
        Path(__file__),
        root / "badging" / "views" / "learner.py",
        root / "badging" / "selectors" / "awards.py",
        root / "templates" / "base.html",
        *sorted((root / "templates" / "badging" / "learner").glob("*.html")),
    ]
    stamps = []
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        stamps.append(f"{path.name}:{stat.st_mtime_ns}:{stat.st_size}")
    return hashlib.sha256("|".join(stamps).encode()).hexdigest()[:12]


_CODE_VERSION: list[str] = []


def _row(model, alias: str, *, leave_out: tuple[str, ...] = ()) -> str:
    """Every column of the model's row but the ones named (read from the model, so a column added
    later counts too): images and signed credentials, which the page never reads, are large."""
    return ", ".join(f"{alias}.{f.column}" for f in model._meta.concrete_fields if f.name not in leave_out)


def _digest_sql() -> str:
    badge, sync = CourseBadge._meta.db_table, CourseSync._meta.db_table
    # Only model table and column names are formatted in; the values are query parameters.
    active_badges = f"SELECT id FROM {badge} WHERE course_id = %(course)s AND active"  # noqa: S608
    active_classes = f"SELECT badge_class_id FROM {badge} WHERE course_id = %(course)s AND active"  # noqa: S608
    return f"""
    SELECT md5(concat_ws('|',
      (SELECT string_agg(md5(ROW({_row(CourseBadge, "cb")}, {_row(BadgeClass, "bc", leave_out=("image",))},
                                 {_row(Issuer, "i", leave_out=("image",))})::text), ',' ORDER BY cb.id)
         FROM {badge} cb JOIN {BadgeClass._meta.db_table} bc ON bc.id = cb.badge_class_id
         JOIN {Issuer._meta.db_table} i ON i.id = bc.issuer_id
        WHERE cb.course_id = %(course)s AND cb.active),
      (SELECT string_agg(md5(ROW({_row(Assignment, "a")})::text), ',' ORDER BY a.id)
         FROM {Assignment._meta.db_table} a WHERE a.course_id = %(course)s),
      -- A course's sync row appears at its first sync request: that alone does not change the page.
      coalesce((SELECT concat_ws(',', s.last_synced_at, s.allow_final_grade_override) FROM {sync} s
        WHERE s.course_id = %(course)s ORDER BY s.id LIMIT 1), ''),
      (SELECT string_agg(md5(ROW({_row(AssessmentResult, "r")})::text), ',' ORDER BY r.id)
         FROM {AssessmentResult._meta.db_table} r WHERE r.course_id = %(course)s AND r.learner_id = %(person)s),
      (SELECT string_agg(md5(ROW({_row(Enrollment, "e")})::text), ',' ORDER BY e.id)
         FROM {Enrollment._meta.db_table} e WHERE e.course_id = %(course)s AND e.learner_id = %(person)s),
      (SELECT string_agg(md5(ROW({_row(LearnerProgress, "p")})::text), ',' ORDER BY p.id)
         FROM {LearnerProgress._meta.db_table} p
        WHERE p.learner_id = %(person)s AND p.course_badge_id IN ({active_badges})),
      (SELECT string_agg(md5(ROW({_row(Award, "w", leave_out=("ob3_credential", "ob3_jwt"))})::text), ',' ORDER BY w.id)
         FROM {Award._meta.db_table} w
        WHERE w.learner_id = %(person)s AND w.badge_class_id IN ({active_classes})),
      (SELECT md5(ROW({_row(Person, "pe")})::text) FROM {Person._meta.db_table} pe WHERE pe.id = %(person)s)
    )),
    (SELECT s.last_synced_at FROM {sync} s WHERE s.course_id = %(course)s ORDER BY s.id LIMIT 1)
    """  # noqa: S608


_DIGEST_SQL: list[str] = []


@dataclass(frozen=True)
class LearnerPageVersion:
    digest: str  # of every row the page is built from
    last_synced_at: datetime | None  # shown as "last updated … ago", which changes by itself


def learner_page_version(*, course_id: int, person_id: int) -> LearnerPageVersion | None:
    """What the learner page of this learner in this course is built from, in one query (None when
    the database cannot compute the digest: then nothing is cached)."""
    if connection.vendor != "postgresql":
        return None
    if not _DIGEST_SQL:
        _DIGEST_SQL.append(_digest_sql().replace("%(course)s", "$1").replace("%(person)s", "$2"))
    with connection.cursor() as cursor:
        execute_prepared(
            cursor,
            name="learner_page_digest",
            sql=_DIGEST_SQL[0],
            types=["bigint", "bigint"],
            params=[course_id, person_id],
        )
        row = cursor.fetchone()
    return LearnerPageVersion(digest=row[0], last_synced_at=row[1]) if row else None


def learner_page_cache_key(*, launch: LaunchContext, request, version: LearnerPageVersion, kind: str = "data") -> str:
    """The cache key of what a learner page shows: whose it is (platform, course, learner; for the
    rendered page also the launch, whose form tokens and links it carries), what shapes its words
    and links (language, site, the launch's email, test-user and concluded flags) and the digest."""
    site = request.build_absolute_uri("/") if request is not None else ""
    shaped_by = "|".join(
        [
            str(launch.platform_id),
            str(launch.course_id),
            str(launch.person_id),
            launch.public_id if kind == "html" else "",
            translation.get_language() or "",
            site,
            launch.email,
            str(launch.is_test_user),
            str(launch.concluded),
        ]
    )
    scope = hashlib.sha256(shaped_by.encode()).hexdigest()[:32]
    if not _CODE_VERSION:
        _CODE_VERSION.append(_code_version())
    return (
        f"badging:learner-page:{kind}:v{LEARNER_PAGE_CACHE_VERSION}-{_CODE_VERSION[0]}:"
        f"{launch.course_id}:{launch.person_id}:"
        f"{scope}:{version.digest}"
    )


def learner_page_cached(
    *, launch: LaunchContext, request=None, version: LearnerPageVersion | None = None
) -> LearnerPage:
    """learner_page(), kept in the cache until a row it is built from changes (see above)."""
    version = version or learner_page_version(course_id=launch.course_id_required, person_id=launch.person_id)
    if version is None:
        return learner_page(launch=launch, request=request)
    key = learner_page_cache_key(launch=launch, request=request, version=version)
    try:
        page = cache.get(key)
    except Exception:  # an entry this code cannot read (or the cache is down): build the page
        logger.warning("learner page cache unreadable", exc_info=True)
        page = None
    if isinstance(page, LearnerPage):
        # The launch's own objects (just read with it), not the copies made when the entry was.
        return replace(page, course=launch.course_required, person=launch.person)
    page = learner_page(launch=launch, request=request)
    try:
        cache.set(key, page, LEARNER_PAGE_CACHE_SECONDS)
    except Exception:
        logger.warning("learner page not cached", exc_info=True)
    return page


@dataclass(frozen=True)
class CourseSetup:
    """A course's configuration state, for an admin launching the tool."""

    course: Course
    course_badges: list[CourseBadge]
    api_token_set: bool
    api_base_url: str
    last_synced_at: datetime | None
    last_status: str
    last_error: str
    assignment_count: int
    enrollment_count: int


def course_setup(*, course: Course) -> CourseSetup:
    course_badges = list(
        CourseBadge.objects.filter(course=course)
        .select_related("badge_class__issuer")
        .defer("badge_class__image", "badge_class__issuer__image")
        .order_by("-active", "badge_class__name")
    )
    sync = CourseSync.objects.filter(course=course).first()
    return CourseSetup(
        course=course,
        course_badges=course_badges,
        api_token_set=not course.platform.needs_api_token,
        api_base_url=course.platform.api_base_url,
        last_synced_at=sync.last_synced_at if sync else None,
        last_status=sync.last_status if sync else "",
        last_error=sync.last_error if sync else "",
        assignment_count=Assignment.objects.filter(course=course, deleted_in_canvas=False).count(),
        enrollment_count=Enrollment.objects.filter(course=course).values("learner").distinct().count(),
    )


def course_has_badge(*, course: Course) -> bool:
    return CourseBadge.objects.filter(course=course, active=True).exists()
