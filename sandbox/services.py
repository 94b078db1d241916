"""Writes to the fake Canvas: what teachers and admins do in Canvas, and its platform keys.

Every change that Canvas would announce with a Live Event returns after queueing that event
(sandbox.live_events), so the tool's /events/canvas/<platform key>/ receiver can be exercised locally.
"""

import contextlib
import math
import secrets
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from jwcrypto import jwk

from sandbox import live_events
from sandbox.models import (
    STUDENT_TYPES,
    ApiToken,
    AssignmentGroup,
    CommunicationChannel,
    CourseSection,
    LiveEventsKey,
    PlatformKey,
    Rubric,
    SandboxAssignment,
    SandboxCourse,
    SandboxEnrollment,
    SandboxInstance,
    SandboxUser,
    Submission,
    token_digest,
)

# Canvas's default grading scheme: (minimum %, letter).
GRADING_SCHEME = [
    (94, "A"),
    (90, "A-"),
    (87, "B+"),
    (84, "B"),
    (80, "B-"),
    (77, "C+"),
    (74, "C"),
    (70, "C-"),
    (67, "D+"),
    (64, "D"),
    (61, "D-"),
    (0, "F"),
]


class SandboxError(ValueError):
    """A teacher/admin action that Canvas would refuse; the message is shown to the user."""


def _course_request(*, course: SandboxCourse, path: str, actor: SandboxUser | None = None, referrer: str = ""):
    """The web request a teacher's action in the course is (its Live Events share its request_id).
    Inside an action already under way (one request), that request."""
    if live_events._current.get() is not None:
        return contextlib.nullcontext()
    if actor is None:
        actor = (
            SandboxUser.objects.filter(
                enrollments__course=course, enrollments__type="TeacherEnrollment", enrollments__workflow_state="active"
            )
            .order_by("id")
            .first()
        )
    base = f"{course.instance.root_url}/courses/{course.id}"
    return live_events.request(actor=actor, url=f"{base}/{path}", referrer=f"{base}/{referrer}" if referrer else None)


def letter_grade(score: Decimal | float | None) -> str | None:
    """The letter of Canvas's default grading scheme for a percentage; None for no score."""
    if score is None:
        return None
    for minimum, letter in GRADING_SCHEME:
        if float(score) >= minimum:
            return letter
    return "F"


def _pct(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(100) * numerator / denominator).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- platform keys ------------------------------------------------------------------------------


def platform_key_rotate(*, instance: SandboxInstance) -> PlatformKey:
    """Make a new signing key current; the old current key stays published as previous.

    Tools that cache the JWKS must therefore accept tokens signed by either during a rotation.
    """
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    kid = f"{timezone.now():%Y-%m-%dT%H:%M:%SZ}_{secrets.token_hex(4)}"
    public = jwk.JWK.from_pem(pem.encode()).export_public(as_dict=True)
    public.update(kid=kid, alg="RS256", use="sig")
    with transaction.atomic():
        PlatformKey.objects.filter(instance=instance, status=PlatformKey.PREVIOUS).update(status=PlatformKey.RETIRED)
        PlatformKey.objects.filter(instance=instance, status=PlatformKey.CURRENT).update(status=PlatformKey.PREVIOUS)
        return PlatformKey.objects.create(instance=instance, kid=kid, private_key_pem=pem, public_jwk=public)


def platform_key_current(*, instance: SandboxInstance) -> PlatformKey:
    """The key the instance signs with now; the first one is made on demand."""
    key = PlatformKey.objects.filter(instance=instance, status=PlatformKey.CURRENT).first()
    return key or platform_key_rotate(instance=instance)


def _rsa_jwk_pair(kid: str) -> tuple[str, dict]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = jwk.JWK.from_pem(pem.encode()).export_public(as_dict=True)
    public.update(kid=kid, alg="RS256", use="sig")
    return pem, public


def _live_events_key_new(status: str) -> LiveEventsKey:
    kid = f"live-events-{timezone.now():%Y-%m}-{secrets.token_hex(4)}"
    pem, public = _rsa_jwk_pair(kid)
    return LiveEventsKey.objects.create(kid=kid, private_key_pem=pem, public_jwk=public, status=status)


def live_events_key_rotate() -> LiveEventsKey:
    """Canvas's monthly rotation: the next key becomes current, the current one previous (still
    published), a new next key is published ahead of use. Returns the new current key."""
    with transaction.atomic():
        list(LiveEventsKey.objects.select_for_update().exclude(status=LiveEventsKey.RETIRED))
        LiveEventsKey.objects.filter(status=LiveEventsKey.PREVIOUS).update(status=LiveEventsKey.RETIRED)
        LiveEventsKey.objects.filter(status=LiveEventsKey.CURRENT).update(status=LiveEventsKey.PREVIOUS)
        promoted = LiveEventsKey.objects.filter(status=LiveEventsKey.NEXT).update(status=LiveEventsKey.CURRENT)
        if not promoted:
            _live_events_key_new(LiveEventsKey.CURRENT)
        _live_events_key_new(LiveEventsKey.NEXT)
        return LiveEventsKey.objects.get(status=LiveEventsKey.CURRENT)


def live_events_key_current() -> LiveEventsKey:
    """The key Live Events are signed with now (the set is made on first use)."""
    key = LiveEventsKey.objects.filter(status=LiveEventsKey.CURRENT).first()
    if key is not None:
        return key
    try:
        return live_events_key_rotate()
    except IntegrityError:  # another process made the first set at the same time
        return LiveEventsKey.objects.get(status=LiveEventsKey.CURRENT)


def live_events_keys_published() -> list[dict]:
    """The public key set: previous, current and next, as Canvas publishes it."""
    live_events_key_current()
    keys = LiveEventsKey.objects.exclude(status=LiveEventsKey.RETIRED)
    return [k.public_jwk for k in keys]


def api_token_create(*, user: SandboxUser, purpose: str = "", token: str | None = None) -> str:
    """Issues a REST token for the user; returns the plaintext (only its hash is stored)."""
    token = token or f"{user.instance_id}~{secrets.token_urlsafe(32)}"
    ApiToken.objects.get_or_create(token_hash=token_digest(token), defaults={"user": user, "purpose": purpose})
    return token


# --- grades -------------------------------------------------------------------------------------


def enrollment_grades_recompute(*, course: SandboxCourse, user_ids: list[int] | None = None) -> int:
    """Recomputes current/final scores (posted, and unposted as graders see them) like Canvas.

    current_* ignore ungraded work, final_* count it as zero; points-based (no group weights).
    Returns the number of enrollments updated.
    """
    assignments = {
        a.id: a.points_possible
        for a in SandboxAssignment.objects.filter(course=course, published=True, points_possible__gt=0)
    }
    total = sum(assignments.values(), Decimal(0))
    subs = Submission.objects.filter(assignment_id__in=assignments, workflow_state="graded", score__isnull=False)
    enrollments = SandboxEnrollment.objects.filter(course=course, type__in=STUDENT_TYPES)
    if user_ids is not None:
        subs = subs.filter(user_id__in=user_ids)
        enrollments = enrollments.filter(user_id__in=user_ids)
    # user -> [posted score, posted points, all score, all points]
    sums: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    for user_id, assignment_id, score, deducted, posted_at, excused in subs.values_list(
        "user_id", "assignment_id", "score", "points_deducted", "posted_at", "excused"
    ):
        if excused:
            continue
        row = sums[user_id]
        # Course grades count the score after late/missing deductions, as Canvas's do.
        score = (score or Decimal(0)) - (deducted or Decimal(0))
        if posted_at is not None:
            row[0] += score
            row[1] += assignments[assignment_id]
        row[2] += score
        row[3] += assignments[assignment_id]
    changed = []
    moved = []
    for enrollment in enrollments.select_related("user"):
        old = {name: getattr(enrollment, name) for name in live_events.SCORE_FIELDS}
        posted_score, posted_points, all_score, all_points = sums[enrollment.user_id]
        enrollment.current_score = _pct(posted_score, posted_points)
        enrollment.final_score = _pct(posted_score, total)
        enrollment.unposted_current_score = _pct(all_score, all_points)
        enrollment.unposted_final_score = _pct(all_score, total)
        changed.append(enrollment)
        if any(old[name] != getattr(enrollment, name) for name in live_events.SCORE_FIELDS):
            moved.append((enrollment, old))
    SandboxEnrollment.objects.bulk_update(
        changed,
        ["current_score", "final_score", "unposted_current_score", "unposted_final_score"],
        batch_size=1000,
    )
    # Canvas's GradeCalculator announces each student whose course scores moved (course_grade_change).
    for enrollment, old in moved:
        live_events.emit_on_commit(
            instance=course.instance,
            event_name="course_grade_change",
            body=live_events.course_grade_change_body(enrollment, old),
            course=course,
            job_tag="GradeCalculator#recompute_final_score",
        )
    return len(changed)


# The score columns hold 8 digits, 2 of them after the point.
MAX_SCORE = Decimal("999999.99")


def _score_in_range(score: Decimal, label: str) -> None:
    # NaN and Infinity parse as Decimals but would fail (or corrupt) every comparison after this.
    if not score.is_finite() or score > MAX_SCORE:
        raise SandboxError(f"{label} must be a number up to {MAX_SCORE}")


@dataclass(frozen=True)
class GradeInput:
    """Rubric ratings {criterion_id: rating_id} (the score is their sum) or a plain score."""

    ratings: dict[str, str] | None = None
    score: Decimal | None = None
    comments: dict[str, str] | None = None
    # The late/missing policy's deduction (Canvas's points_deducted): `score` stays what was entered.
    points_deducted: Decimal | None = None


def submission_grade(
    *,
    assignment: SandboxAssignment,
    user: SandboxUser,
    grader: SandboxUser,
    grade: GradeInput,
    post: bool = True,
) -> Submission:
    """Grades a learner's submission (with rubric ratings when the assignment has a rubric).

    Posting makes the grade visible to the learner; unposted grades are visible to graders only.
    """
    enrollment = SandboxEnrollment.objects.filter(course=assignment.course_id, user=user, type__in=STUDENT_TYPES)
    if not enrollment.exists():
        raise SandboxError(f"{user.name} is not a student in this course")
    assessment: dict = {}
    if grade.ratings is not None:
        if assignment.rubric is None:
            raise SandboxError("this assignment has no rubric")
        criteria = {c["id"]: c for c in assignment.rubric.data}
        unknown = set(grade.ratings) - set(criteria)
        if unknown:
            raise SandboxError(f"unknown rubric criteria: {', '.join(sorted(unknown))}")
        for criterion_id, rating_id in grade.ratings.items():
            rating = next((r for r in criteria[criterion_id]["ratings"] if r["id"] == rating_id), None)
            if rating is None:
                raise SandboxError(f"unknown rating {rating_id} for criterion {criterion_id}")
            assessment[criterion_id] = {
                "points": float(rating["points"]),
                "rating_id": rating_id,
                "comments": (grade.comments or {}).get(criterion_id, ""),
            }
        # A criterion marked ignore_for_scoring is rated but adds nothing to the score.
        score = Decimal(
            str(
                sum(
                    item["points"]
                    for criterion_id, item in assessment.items()
                    if not criteria[criterion_id].get("ignore_for_scoring")
                )
            )
        )
    elif grade.score is not None:
        score = Decimal(grade.score)
    else:
        raise SandboxError("a grade needs rubric ratings or a score")
    _score_in_range(score, "a score")
    if score < 0:
        raise SandboxError("a score cannot be negative")
    deducted = grade.points_deducted
    if deducted is not None:
        _score_in_range(deducted, "points_deducted")
        if deducted < 0 or deducted > score:
            raise SandboxError("points_deducted must be between 0 and the score")
    now = timezone.now()
    with transaction.atomic():
        submission, _ = Submission.objects.select_for_update().get_or_create(assignment=assignment, user=user)
        old_score, old_grade = submission.score, submission.grade
        submission.workflow_state = "graded"
        submission.score = score
        submission.points_deducted = deducted or None
        submission.grade = _format_points(score - (deducted or 0))
        submission.rubric_assessment = assessment
        if assessment and submission.rubric_assessment_id is None:
            submission.rubric_assessment_id = submission.id
        submission.grader = grader
        submission.attempt = submission.attempt or 1
        submission.submitted_at = submission.submitted_at or now
        submission.graded_at = now
        if post:
            submission.posted_at = now
        submission.save()
        course = assignment.course
        with _course_request(
            course=course,
            actor=grader,
            path="gradebook/update_submission",
            referrer=f"gradebook/speed_grader?assignment_id={assignment.id}&student_id={user.id}",
        ):
            # As Canvas: the grade, the submission, its rubric assessment, then the course scores.
            live_events.emit_on_commit(
                instance=course.instance,
                event_name="grade_change",
                body=live_events.grade_change_body(submission, old_score=old_score, old_grade=old_grade, grader=grader),
                course=course,
            )
            live_events.emit_on_commit(
                instance=course.instance,
                event_name="submission_updated",
                body=live_events.submission_body(submission),
                course=course,
            )
            if assessment:
                live_events.emit_on_commit(
                    instance=course.instance,
                    event_name="rubric_assessed",
                    body=live_events.rubric_assessed_body(submission),
                    course=course,
                )
            enrollment_grades_recompute(course=course, user_ids=[user.id])
    return submission


def _format_points(score: Decimal) -> str:
    return format(score.normalize(), "f") if score == score.to_integral() else str(score)


def assignment_grades_post(*, assignment: SandboxAssignment) -> int:
    """Posts every graded, unposted submission of the assignment; returns how many were posted."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Submission.objects.filter(
                assignment=assignment, workflow_state="graded", posted_at__isnull=True
            ).values_list("user_id", flat=True)
        )
        Submission.objects.filter(assignment=assignment, user_id__in=ids).update(posted_at=now, updated_at=now)
        # Posting moves the posted course scores: course_grade_change for each learner (no grade_change).
        with _course_request(course=assignment.course, path=f"assignments/{assignment.id}/post_policy"):
            enrollment_grades_recompute(course=assignment.course, user_ids=ids)
    return len(ids)


def grade_override_set(*, course: SandboxCourse, user: SandboxUser, score: Decimal | None) -> list[SandboxEnrollment]:
    """Sets (or clears, with None) the learner's Final Grade Override in every section."""
    if not course.allow_final_grade_override:
        raise SandboxError("Final Grade Override is not enabled in this course")
    if score is not None:
        _score_in_range(score, "an override score")
    if score is not None and score < 0:
        raise SandboxError("an override score cannot be negative")
    with transaction.atomic():
        enrollments = list(
            SandboxEnrollment.objects.select_for_update().filter(course=course, user=user, type="StudentEnrollment")
        )
        if not enrollments:
            raise SandboxError(f"{user.name} is not a student in this course")
        old = enrollments[0].override_score
        for enrollment in enrollments:
            enrollment.override_score = score
            enrollment.save(update_fields=["override_score", "updated_at"])
        with _course_request(course=course, path="gradebook/final_grade_overrides"):
            live_events.emit_on_commit(
                instance=course.instance,
                event_name="grade_override",
                body=live_events.grade_override_body(enrollments[0], old_score=old),
                course=course,
            )
    return enrollments


# The languages a sandbox user can choose (Canvas: Account > Settings > Language); "" is the
# account default, English. Canvas offers many more; these cover the tool's catalogues, a regional
# variant and a right-to-left language.
LOCALES = [
    ("", "Default (English)"),
    ("en", "English"),
    ("es", "Español"),
    ("fr", "Français"),
    ("fr-CA", "Français (Canada)"),
    ("ar", "العربية"),
]


def user_locale_set(*, user: SandboxUser, locale: str) -> SandboxUser:
    """The user's Canvas language: sent as the locale claims of their next launch."""
    if locale not in dict(LOCALES):
        raise SandboxError("choose one of the listed languages")
    user.locale = locale
    user.save(update_fields=["locale"])
    return user


def primary_email_set(*, user: SandboxUser, address: str) -> CommunicationChannel:
    """Makes `address` the user's primary email (position 1), adding the channel if needed."""
    address = address.strip()
    if "@" not in address or len(address) > 320:
        raise SandboxError("enter an email address")
    with transaction.atomic():
        channels = list(CommunicationChannel.objects.select_for_update().filter(user=user, channel_type="email"))
        chosen = next((c for c in channels if c.address.lower() == address.lower()), None)
        if chosen is None:
            chosen = CommunicationChannel.objects.create(user=user, address=address, position=1)
        chosen.workflow_state = "active"
        others = sorted((c for c in channels if c.id != chosen.id), key=lambda c: (c.position, c.id))
        chosen.position = 1
        chosen.save()
        for position, channel in enumerate(others, start=2):
            if channel.position != position:
                channel.position = position
                channel.save(update_fields=["position"])
    return chosen


def sortable_name(name: str) -> str:
    """Canvas's default: "Last, First" from "First Last" (everything after the first word is the last name)."""
    first, _, rest = name.strip().partition(" ")
    return f"{rest}, {first}" if rest else first


def user_create(
    *,
    instance: SandboxInstance,
    name: str,
    email: str,
    login_id: str = "",
    is_account_admin: bool = False,
    is_test_user: bool = False,
) -> SandboxUser:
    """A new user named as Canvas would sort them, with `email` (if any) as the primary channel.

    Raises SandboxError for a blank name; the login id defaults to the email."""
    name = name.strip()
    if not name:
        raise SandboxError("a user needs a name")
    user = SandboxUser.objects.create(
        instance=instance,
        name=name,
        sortable_name=sortable_name(name),
        short_name=name,
        login_id=login_id or email,
        is_account_admin=is_account_admin,
        is_test_user=is_test_user,
    )
    if email:
        CommunicationChannel.objects.create(user=user, address=email, position=1)
    return user


def enrollment_create(
    *,
    course: SandboxCourse,
    user: SandboxUser,
    type: str = "StudentEnrollment",
    section: CourseSection | None = None,
    workflow_state: str = "active",
) -> SandboxEnrollment:
    """Enrolls the user (or re-activates a dropped enrollment in the same section and role)."""
    if type not in SandboxEnrollment.TYPES:
        raise SandboxError(f"unknown enrollment type {type}")
    section = (
        section
        or course.sections.order_by("id").first()
        or CourseSection.objects.create(course=course, name=course.name)
    )
    with transaction.atomic():
        enrollment, created = SandboxEnrollment.objects.get_or_create(
            course=course, user=user, section=section, type=type, defaults={"workflow_state": workflow_state}
        )
        if not created and enrollment.workflow_state != workflow_state:
            enrollment.workflow_state = workflow_state
            enrollment.save(update_fields=["workflow_state", "updated_at"])
        with _course_request(course=course, path="enroll_users"):
            live_events.emit_on_commit(
                instance=course.instance,
                event_name="enrollment_created" if created else "enrollment_updated",
                body=live_events.enrollment_body(enrollment),
                course=course,
            )
        if type in STUDENT_TYPES:
            # Canvas keeps a submission row for every student and assignment, graded or not.
            Submission.objects.bulk_create(
                [Submission(assignment=a, user=user) for a in SandboxAssignment.objects.filter(course=course)],
                ignore_conflicts=True,
            )
            # The new student's scores are computed after the enrollment is saved, by a job in Canvas
            # (its course_grade_change carries the job's metadata).
            enrollment_grades_recompute(course=course, user_ids=[user.id])
            enrollment.refresh_from_db()
    return enrollment


def enrollment_state_set(*, enrollment: SandboxEnrollment, state: str) -> SandboxEnrollment:
    """Drop (deleted), conclude (completed), deactivate (inactive) or re-activate an enrollment."""
    if state not in SandboxEnrollment.STATES:
        raise SandboxError(f"unknown enrollment state {state}")
    enrollment.workflow_state = state
    enrollment.save(update_fields=["workflow_state", "updated_at"])
    with _course_request(course=enrollment.course, path=f"unenroll/{enrollment.id}"):
        live_events.emit_on_commit(
            instance=enrollment.course.instance,
            event_name="enrollment_updated",
            body=live_events.enrollment_body(enrollment),
            course=enrollment.course,
        )
    return enrollment


def course_conclude(*, course: SandboxCourse) -> int:
    """Concludes the course (end of term): it and its active enrollments become completed.

    Returns how many enrollments were concluded. Grades and overrides stay as they are.
    """
    with transaction.atomic():
        course.workflow_state = "completed"
        course.save(update_fields=["workflow_state"])
        return SandboxEnrollment.objects.filter(course=course, workflow_state__in=["active", "invited"]).update(
            workflow_state="completed", updated_at=timezone.now()
        )


def rubric_criteria(titles: list[str], *, points_each: int = 4) -> list[dict]:
    """Criteria in Canvas's shape with the usual four ratings (Exceeds, Meets, Approaching, Not yet)."""
    levels = [
        ("Exceeds", "Goes beyond the standard", 1.0),
        ("Meets", "Meets the standard", 0.75),
        ("Approaching", "Partly meets the standard", 0.5),
        ("Not yet", "Does not meet the standard yet", 0.0),
    ]
    criteria: list[dict] = []
    for title in titles:
        criterion_id = f"_{secrets.randbelow(9000) + 1000}"
        while any(c["id"] == criterion_id for c in criteria):
            criterion_id = f"_{secrets.randbelow(9000) + 1000}"
        criteria.append(
            {
                "id": criterion_id,
                "description": title,
                "long_description": "",
                "points": float(points_each),
                "criterion_use_range": False,
                "ratings": [
                    {
                        "id": f"{criterion_id}_{i}",
                        "description": label,
                        "long_description": text,
                        "points": float(points_each * share),
                    }
                    for i, (label, text, share) in enumerate(levels)
                ],
            }
        )
    return criteria


def assessment_add(
    *,
    course: SandboxCourse,
    name: str,
    criteria_titles: list[str],
    group_name: str = "Credentialing Assessments",
    points_per_criterion: int = 4,
    published: bool = True,
    ignored_for_scoring: list[str] | None = None,
) -> SandboxAssignment:
    """Adds a rubric-graded assignment (by default a credentialing assessment) to the course."""
    name = name.strip()
    if not name:
        raise SandboxError("an assignment needs a name")
    if not criteria_titles:
        raise SandboxError("a rubric needs at least one criterion")
    if not 1 <= len(criteria_titles) <= 50 or not 1 <= points_per_criterion <= 1000:
        raise SandboxError("a rubric has 1-50 criteria and points_per_criterion is 1-1000")
    with transaction.atomic():
        group = AssignmentGroup.objects.filter(course=course, name=group_name).first()
        if group is None:
            position = AssignmentGroup.objects.filter(course=course).count() + 1
            group = AssignmentGroup.objects.create(course=course, name=group_name, position=position)
        data = rubric_criteria(criteria_titles, points_each=points_per_criterion)
        for criterion in data:
            if criterion["description"] in (ignored_for_scoring or []):
                criterion["ignore_for_scoring"] = True
        rubric = Rubric.objects.create(course=course, title=f"{name} rubric", data=data)
        assignment = SandboxAssignment.objects.create(
            course=course,
            group=group,
            name=name,
            points_possible=Decimal(rubric.points_possible),
            published=published,
            position=SandboxAssignment.objects.filter(course=course).count() + 1,
            rubric=rubric,
            use_rubric_for_grading=True,
        )
        students = SandboxEnrollment.objects.filter(course=course, type__in=STUDENT_TYPES).values_list(
            "user_id", flat=True
        )
        Submission.objects.bulk_create(
            [Submission(assignment=assignment, user_id=user_id) for user_id in set(students)],
            batch_size=1000,
            ignore_conflicts=True,
        )
        enrollment_grades_recompute(course=course)
    return assignment


def faults_set(
    *,
    instance: SandboxInstance,
    latency_ms: int | None = None,
    error_rate: float | None = None,
    bucket_size: float | None = None,
    request_cost: float | None = None,
    clear_request_cost: bool = False,
    malformed_rate: float | None = None,
    truncated_rate: float | None = None,
) -> SandboxInstance:
    """Injected REST latency, 5xx share, shares of malformed and truncated answers and throttle
    bucket size (for benchmarks and fault tests)."""
    fields = []
    for name, share in (("malformed_rate", malformed_rate), ("truncated_rate", truncated_rate)):
        if share is not None:
            if not math.isfinite(share) or not 0 <= share <= 1:
                raise SandboxError("a share of answers is between 0 and 1")
            setattr(instance, name, share)
            fields.append(name)
    if latency_ms is not None:
        if not isinstance(latency_ms, int) or not 0 <= latency_ms <= 60_000:
            raise SandboxError("latency must be 0-60000 ms")
        instance.latency_ms = latency_ms
        fields.append("latency_ms")
    if error_rate is not None:
        if not math.isfinite(error_rate) or not 0 <= error_rate <= 1:
            raise SandboxError("the error rate is a share between 0 and 1")
        instance.error_rate = error_rate
        fields.append("error_rate")
    if bucket_size is not None:
        if not math.isfinite(bucket_size) or bucket_size <= 0:
            raise SandboxError("the bucket size must be a positive number")
        instance.throttle_bucket_size = bucket_size
        fields.append("throttle_bucket_size")
    if request_cost is not None or clear_request_cost:
        if request_cost is not None and (not math.isfinite(request_cost) or request_cost < 0):
            raise SandboxError("a request cost must be a number, 0 or more")
        instance.request_cost = request_cost
        fields.append("request_cost")
    if fields:
        instance.save(update_fields=fields)
        # A new bucket size starts every token with a full bucket.
        ApiToken.objects.filter(user__instance=instance).update(bucket_level=0.0, bucket_updated_at=0.0)
    return instance


def live_events_url_set(*, instance: SandboxInstance, url: str) -> SandboxInstance:
    """Where the sandbox posts its signed Live Events from now on; "" turns them off.

    Only this field is validated (a SandboxError for anything but a URL): the instance's own
    base URL may be a test host name that URLField would refuse.
    """
    url = url.strip()
    try:
        url = SandboxInstance._meta.get_field("live_events_url").clean(url, instance)
    except ValidationError as exc:
        raise SandboxError(" ".join(exc.messages)) from exc
    instance.live_events_url = url
    instance.save(update_fields=["live_events_url"])
    return instance


def course_final_grade_override_set(*, course: SandboxCourse, allowed: bool) -> SandboxCourse:
    """Turns the course's "Allow final grade override" setting on or off (Gradebook settings).

    Turning it off hides every override from the API (the stored values stay, as in Canvas)."""
    course.allow_final_grade_override = allowed
    course.save(update_fields=["allow_final_grade_override"])
    return course


def assignment_published_set(*, assignment: SandboxAssignment, published: bool) -> SandboxAssignment:
    """Publishes or unpublishes an assignment (an unpublished one keeps its submissions, as in Canvas)."""
    assignment.published = published
    assignment.save(update_fields=["published", "updated_at"])
    enrollment_grades_recompute(course=assignment.course)
    return assignment
