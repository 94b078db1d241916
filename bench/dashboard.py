"""Instructor dashboard benchmark: server time and queries of the first page for a big course.

    python -m bench dashboard [--learners 10000] [--assessments 4] [--runs 15]

Creates a throw-away test database (SQLite in memory by default; PostgreSQL when DATABASE_URL
points there: Django's test database `test_<name>`, dropped at the end), seeds one course with
--learners learners in bulk (LearnerProgress with the evaluation's real detail, results, awards and
deliveries for the issued third), then requests dashboard pages with Django's test client: the
first page, a state filter, a search, a sort by state and the last page. Prints the median and
slowest server time and the query count of each; exits 1 when the first page's median is over
the 300 ms target. Also times one CSV export of every learner (streamed, in chunks of 500).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

TARGET_MS = 300.0


def _setup_django() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="sfb-bench-dashboard-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillsforward.settings")
    os.environ.setdefault("SFB_VAR_DIR", str(workdir))
    os.environ.setdefault("STATIC_MANIFEST", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _seed(*, learners: int, assessments: int):
    from django.utils import timezone

    from badging import evaluation as ev
    from badging.models import (
        AssessmentResult,
        Assignment,
        Award,
        BadgeClass,
        CourseBadge,
        Delivery,
        Enrollment,
        Issuer,
        LearnerProgress,
    )
    from lti.models import Course, Deployment, LaunchContext, Person, Platform

    platform = Platform.objects.create(
        name="Bench Canvas", issuer="https://canvas.instructure.com", client_id="10000000000099", api_token="x"
    )
    deployment = Deployment.objects.create(platform=platform, deployment_id="1:bench")
    course = Course.objects.create(platform=platform, canvas_course_id="7", name="Bench course")
    issuer = Issuer.objects.create(key="bench", name="Bench University", url="https://uni.example.edu", email="b@x.edu")
    badge_class = BadgeClass.objects.create(
        key="bench", issuer=issuer, name="Bench badge", description="d", image=b"x", criteria_narrative="c"
    )
    course_badge = CourseBadge.objects.create(key="bench", badge_class=badge_class, course=course)
    rubric = [
        {"id": f"_{i}", "description": f"Skill {i}", "points": 6.0, "ratings": [{"id": "r", "points": 6.0}]}
        for i in range(2)
    ]
    assignments = [
        Assignment.objects.create(
            course=course,
            canvas_assignment_id=str(500 + i),
            name=f"Credentialing assessment {i + 1}",
            assignment_group_name="Credentialing Assessments",
            points_possible=12,
            position=i,
            rubric=rubric,
        )
        for i in range(assessments)
    ]
    rule = ev.BadgeRule(
        assessments=tuple(
            ev.AssessmentSpec(a.canvas_assignment_id, a.name, Decimal(12), min_percent=Decimal(80)) for a in assignments
        )
    )
    people = Person.objects.bulk_create(
        [
            Person(
                platform=platform,
                canvas_user_id=str(100_000 + i),
                name=f"Learner {i:05d}",
                sortable_name=f"{i:05d}, Learner",
                email=f"learner{i}@uni.example.edu",
            )
            for i in range(learners)
        ],
        batch_size=2000,
    )
    Enrollment.objects.bulk_create(
        [
            Enrollment(course=course, learner=p, canvas_enrollment_id=str(i), state="active")
            for i, p in enumerate(people)
        ],
        batch_size=2000,
    )
    now = timezone.now()
    progresses, results, issued = [], [], []
    for i, person in enumerate(people):
        graded = i % 5  # 0..4 assessments graded, so every state shows up
        facts_results = {}
        for j, a in enumerate(assignments[: min(graded, assessments)]):
            score = Decimal(12 if (i + j) % 7 else 6)
            facts_results[a.canvas_assignment_id] = ev.ResultFact(
                a.canvas_assignment_id, "graded", score, graded=True, posted=True
            )
            results.append(
                AssessmentResult(
                    course=course, assignment=a, learner=person, workflow_state="graded", score=score, posted_at=now
                )
            )
        final = i % 3 == 0
        award = ev.AWARD_LIVE if (final and graded >= assessments) else None
        evaluation = ev.evaluate_learner(
            rule=rule,
            learner=ev.LearnerFacts(
                enrollments=(ev.EnrollmentFact("active", override_grade="A" if final else ""),),
                results=facts_results,
                award=award,
            ),
        )
        progresses.append(
            LearnerProgress(
                course_badge=course_badge,
                learner=person,
                state=evaluation.state,
                mastered_count=evaluation.mastered_count,
                assessment_count=evaluation.assessment_count,
                final_grade_entered=evaluation.final_grade.entered,
                detail=evaluation.detail(),
                evaluated_at=now,
                issue_status="failed" if i % 97 == 0 and evaluation.state == ev.ELIGIBLE else "",
            )
        )
        if award:
            issued.append(person)
    LearnerProgress.objects.bulk_create(progresses, batch_size=2000)
    AssessmentResult.objects.bulk_create(results, batch_size=2000)
    awards = Award.objects.bulk_create(
        [
            Award(
                badge_class=badge_class,
                course_badge=course_badge,
                learner=p,
                recipient_email=p.email,
                issued_on=now,
            )
            for p in issued
        ],
        batch_size=2000,
    )
    Delivery.objects.bulk_create(
        [Delivery(award=a, kind=Delivery.KIND_EMAIL, status=Delivery.SENT, sent_at=now) for a in awards],
        batch_size=2000,
    )
    teacher = Person.objects.create(platform=platform, canvas_user_id="2", name="Bench Teacher")
    launch = LaunchContext.objects.create(
        platform=platform,
        deployment=deployment,
        course=course,
        person=teacher,
        role=LaunchContext.ROLE_INSTRUCTOR,
        expires_at=now + timezone.timedelta(hours=8),
    )
    return launch, course_badge, len(awards)


def _measure(client, url: str, runs: int) -> tuple[float, float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm: template loading, first-query caches
    times = []
    queries = 0
    status = 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        queries = len(ctx.captured_queries)
        status = response.status_code
    return statistics.median(times), max(times), queries, status


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench dashboard")
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--assessments", type=int, default=4)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)

    _setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.urls import reverse

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        started = time.perf_counter()
        launch, course_badge, awards = _seed(learners=args.learners, assessments=args.assessments)
        seeded = time.perf_counter() - started
        # A production database has planner statistics (autovacuum); a fresh bulk load has none.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(
            f"database: {connection.vendor}; seeded {args.learners} learners × {args.assessments} assessments "
            f"({awards} awards) in {seeded:.1f} s"
        )
        base = reverse("badging:instructor_dashboard", args=[launch.public_id])
        last_page = (args.learners + 49) // 50
        cases = [
            ("first page", base),
            ("state filter (issued)", f"{base}?badge={course_badge.pk}&state=issued"),
            ("search (name)", f"{base}?badge={course_badge.pk}&q=Learner+0421"),
            ("sorted by state", f"{base}?badge={course_badge.pk}&sort=state"),
            ("sorted by award date", f"{base}?badge={course_badge.pk}&sort=awarded&dir=desc"),
            (f"last page ({last_page})", f"{base}?badge={course_badge.pk}&page={last_page}"),
        ]
        client = Client()
        first_median = None
        print(f"{'page':<26}{'median ms':>10}{'max ms':>10}{'queries':>9}")
        for label, url in cases:
            median, slowest, queries, status = _measure(client, url, args.runs)
            if status != 200:
                print(f"{label}: HTTP {status}")
                return 1
            if first_median is None:
                first_median = median
            print(f"{label:<26}{median:>10.1f}{slowest:>10.1f}{queries:>9}")
        from badging.views.instructor.access import action_token

        export_url = reverse("badging:instructor_export", args=[launch.public_id, course_badge.pk])
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.post(export_url, {"token": action_token(launch=launch, action="export")})
            lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
            export_ms = (time.perf_counter() - started) * 1000
        print(f"{'CSV export (all)':<26}{export_ms:>10.1f}{'':>10}{len(ctx.captured_queries):>9}  ({lines - 1} rows)")
        ok = first_median is not None and first_median < TARGET_MS
        print(f"first page median {first_median:.1f} ms: {'within' if ok else 'OVER'} the {TARGET_MS:.0f} ms target")
        return 0 if ok else 1
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
