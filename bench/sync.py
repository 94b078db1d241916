"""Sync benchmark: a full and an incremental course sync against the sandbox Canvas.

    python -m bench sync [--learners 5000] [--assessments 4] [--latency-ms 50] [--changes 50]

Sets up a throw-away SQLite database in a temporary folder, seeds the sandbox with one course,
serves the sandbox with gunicorn on a free port (every REST call pays the injected latency), then
runs in this process: a full sync (budget: <= 260 Canvas requests, <= 20 s), 50 grade changes in
the sandbox, and an incremental sync (budget: <= 12 requests). Prints requests, wall time and peak
memory; exits 1 when a budget is exceeded.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FULL_MAX_REQUESTS = 260
FULL_MAX_SECONDS = 20.0
INCREMENTAL_MAX_REQUESTS = 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the sandbox server exited early (code {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the sandbox server did not answer at {url}")


def _post_json(url: str, body: dict, *, token: str) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _rss() -> float:
    """Peak resident memory of this process so far, MiB (tracemalloc would slow the sync several-fold)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _profiled(func, name):
    if not os.environ.get("BENCH_PROFILE"):
        return func()
    import cProfile
    import pstats

    profile = cProfile.Profile()
    result = profile.runcall(func)
    pstats.Stats(profile).sort_stats("cumulative").print_stats(35)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench sync")
    parser.add_argument("--learners", type=int, default=5000)
    parser.add_argument("--assessments", type=int, default=4)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--changes", type=int, default=50, help="grade changes before the incremental sync")
    parser.add_argument("--keep", action="store_true", help="keep the temporary databases for inspection")
    args = parser.parse_args(argv)

    # On tmpfs when there is one: the sandbox books its throttle bucket in SQLite on every request,
    # and disk fsyncs would measure this machine's disk rather than the sync.
    shm = Path("/dev/shm")
    workdir = Path(tempfile.mkdtemp(prefix="sfb-bench-sync-", dir=shm if shm.is_dir() else None))
    env = {
        "SFB_VAR_DIR": str(workdir),
        "DATABASE_URL": f"sqlite:///{workdir / 'tool.sqlite3'}",
        "SANDBOX_ENABLED": "true",
        # The bench's Canvas runs on this machine: the outbound guard is told it may go there.
        "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_HTTPS": "false",
        "DJANGO_DEBUG": "false",
        "STATIC_MANIFEST": "false",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "filesystem://",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "skillsforward.settings",
    }
    os.environ.update(env)
    (workdir / "broker" / "processed").mkdir(parents=True, exist_ok=True)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from badging.models import AssessmentResult, LearnerProgress
    from badging.services.sync import course_sync
    from lti.models import Course
    from sandbox.models import SandboxAssignment, SandboxEnrollment
    from sandbox.seed import sandbox_seed
    from sandbox.services import faults_set

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    seeded = sandbox_seed(
        learners=args.learners, assessments=args.assessments, slug="bench", base_url=base_url, tool_url=base_url
    )
    print(f"seeded {args.learners} learners x {args.assessments} assessments in {time.perf_counter() - t0:.1f} s")
    faults_set(instance=seeded.instance, latency_ms=args.latency_ms)
    # Canvas is another system with its own database: the sandbox server gets a copy of the seeded
    # file, so its per-request bookkeeping never waits for the tool's write locks (and vice versa).
    from django.db import connections

    connections.close_all()
    shutil.copyfile(workdir / "tool.sqlite3", workdir / "canvas.sqlite3")

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "skillsforward.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env, "DATABASE_URL": f"sqlite:///{workdir / 'canvas.sqlite3'}"},
    )
    failures: list[str] = []
    try:
        _wait_until_up(f"{base_url}/health/", server)
        course = Course.objects.get(platform_id=seeded.platform_id, canvas_course_id=str(seeded.course.id))

        t0 = time.perf_counter()
        full = _profiled(lambda: course_sync(course_id=course.pk, trigger="bench", full=True), "full")
        full_seconds = time.perf_counter() - t0
        full_peak = _rss()
        progress = LearnerProgress.objects.filter(course_badge__course=course).count()
        print(
            f"full sync:        {full.canvas_requests:4d} requests  {full_seconds:6.2f} s  "
            f"peak RSS {full_peak:5.0f} MiB  "
            f"({AssessmentResult.objects.filter(course=course).count()} results, {progress} learner progress rows)"
        )
        print(f"                  seconds per pass: {full.stats.get('seconds')}")
        if full.status != "ok":
            failures.append(f"full sync failed: {full.error}")
        if full.canvas_requests > FULL_MAX_REQUESTS:
            failures.append(f"full sync made {full.canvas_requests} requests (budget {FULL_MAX_REQUESTS})")
        if full_seconds > FULL_MAX_SECONDS:
            failures.append(f"full sync took {full_seconds:.1f} s (budget {FULL_MAX_SECONDS:.0f} s)")

        # Grade changes by the teacher through the sandbox's admin API, posted at once (Canvas's default).
        assignments = list(
            SandboxAssignment.objects.filter(course=seeded.course, group__name="Credentialing Assessments").values_list(
                "id", "points_possible"
            )
        )
        learner_ids = list(
            SandboxEnrollment.objects.filter(course=seeded.course, type="StudentEnrollment", workflow_state="active")
            .order_by("user_id")
            .values_list("user_id", flat=True)[: args.changes]
        )
        for i, user_id in enumerate(learner_ids):
            assignment_id, points = assignments[i % len(assignments)]
            _post_json(
                f"{seeded.instance.root_url}/admin_api/v1/courses/{seeded.course.id}/grade",
                {"user_id": user_id, "assignment_id": assignment_id, "score": float(points), "post": True},
                token=seeded.api_token,
            )

        t0 = time.perf_counter()
        incremental = _profiled(lambda: course_sync(course_id=course.pk, trigger="bench"), "incremental")
        inc_seconds = time.perf_counter() - t0
        inc_peak = _rss()
        print(
            f"incremental sync: {incremental.canvas_requests:4d} requests  {inc_seconds:6.2f} s  "
            f"peak RSS {inc_peak:5.0f} MiB  (after {len(learner_ids)} grade changes, "
            f"{incremental.stats.get('submissions')} submissions read)"
        )
        if incremental.status != "ok":
            failures.append(f"incremental sync failed: {incremental.error}")
        if incremental.canvas_requests > INCREMENTAL_MAX_REQUESTS:
            failures.append(
                f"incremental sync made {incremental.canvas_requests} requests (budget {INCREMENTAL_MAX_REQUESTS})"
            )
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    for failure in failures:
        print(f"OVER BUDGET: {failure}", file=sys.stderr)
    if not failures:
        print(
            f"within budget: full <= {FULL_MAX_REQUESTS} requests and <= {FULL_MAX_SECONDS:.0f} s, "
            f"incremental <= {INCREMENTAL_MAX_REQUESTS} requests"
        )
    if args.keep:
        print(f"(work files in {workdir})")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0
