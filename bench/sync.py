"""Sync benchmark: what `badging_sync` sets off, end to end, against the sandbox Canvas.

    python -m bench sync [--learners 5000] [--assessments 4] [--latency-ms 50] [--changes 50]
    python -m bench sync --scale [--sizes 1000,5000,20000]

    python -m bench sync [--workers 2] [--database-url postgres://postgres@127.0.0.1:5432/sfb_sync_bench]
        [--redis-url redis://127.0.0.1:6379/6]

One run, the production path: the tool's PostgreSQL database dropped and re-created (the sandbox
Canvas seeded into it with one course, in a child process, then copied to its own database
`<name>_canvas`, served by gunicorn on a free port with the injected latency on every REST call);
`--workers` Celery worker processes (one pool process each, a queue of their own on Redis, emails
to a local SMTP sink) started and answering before the clock starts. Then, in this process:

1. the full sync `badging_sync --all` runs for a course never synced (course_sync, trigger
   "command"); it queues the eligible learners as their history is stored (award_issue_batch on
   Redis) and the workers issue them while the sync goes on. The clock stops when no learner of
   the course is left queued or being issued (the database polled every 20 ms): budget <= 120
   Canvas requests and <= 10 s from the sync's start until the last award is stored;
2. `--changes` grade changes in the sandbox (posted), then an incremental trigger (the same
   command) and the issuance it sets off: budget <= 12 Canvas requests.

Canvas requests are counted where Canvas answers them (gunicorn hooks of the stand-in write one
line per REST request: the workers are other processes), the sync's and the issuance's (email
reads) alike; the sync's own count is printed beside. Prints the inputs, the machine (cores, load
average at the start), the requests per endpoint, wall time, peak memory (RSS) of this process
and the largest worker process, the workers' CPU and the requests in flight over time; exits 1
when a budget is missed. --scale runs sizes in child processes and prints one table.

One file on purpose: one benchmark, read top to bottom (seed, count requests, sync, issue, the
incremental trigger, the scale table); each part exists only for this run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from bench.databases import copy_database, recreate_database
from bench.issue import (
    SinkProcess,
    _cpu_seconds,
    _machine_busy_seconds,
    _peak_memory_mb,
    _pid_cpu_seconds,
    _start_worker,
    _wait_ready,
)

ROOT = Path(__file__).resolve().parent.parent
FULL_MAX_REQUESTS = 120
FULL_MAX_SECONDS = 10.0
INCREMENTAL_MAX_REQUESTS = 12
# Memory bound of the scale table: 20x the learners may not need more than this much more memory.
SCALE_MAX_RSS_GROWTH_MIB = 150.0


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


def _warm_up(api_url: str) -> None:
    """One unauthenticated REST request before the clock (a 401, written before the clock starts,
    so not counted): the stand-in's first REST request costs it about half a second of one-time
    start-up, which a long-running Canvas has behind it."""
    try:
        urllib.request.urlopen(api_url, timeout=30).close()
    except urllib.error.HTTPError as answer:
        if answer.code != 401:
            raise
    except OSError:
        pass


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


def _own_cpu_seconds() -> float:
    """CPU time (user + system) of this process, every thread: the sync and its polling."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds of every PostgreSQL process on this machine (backends, WAL writer, checkpointer);
    a backend that exits between two readings is missed, so the difference is a lower bound."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().startswith("postgres"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return _pid_cpu_seconds(pids)


def machine() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start"


class Recorder:
    """Every Canvas request of this process (the sync's): path, start and end (wall clock), status."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, float, float, int]] = []
        self._lock = threading.Lock()

    def __call__(self, path: str, started: float, finished: float, status: int) -> None:
        with self._lock:
            self.requests.append((path, started, finished, status))

    def since(self, mark: int) -> list[tuple[str, float, float, int]]:
        return self.requests[mark:]


def timeline(requests: list[tuple[str, float, float, int]], t0: float, end: float, *, step: float = 0.25) -> str:
    """Requests in flight over time: one line per second, one character per `step` (the most in
    flight at once during it, '.' for none), then how many started in that second."""
    if not requests:
        return "  (no Canvas request)"
    slots = max(1, int((end - t0) / step) + 1)
    peak = [0] * slots
    events = sorted([(s, 1) for _, s, _, _ in requests] + [(e, -1) for _, _, e, _ in requests])
    in_flight, slot = 0, 0
    for moment, delta in events:
        index = min(slots - 1, max(0, int((moment - t0) / step)))
        while slot < index:
            slot += 1
            peak[slot] = max(peak[slot], in_flight)
        in_flight += delta
        peak[index] = max(peak[index], in_flight)
    per_second = int(1 / step)
    lines = []
    for second in range(0, slots, per_second):
        cells = "".join(str(min(9, p)) if p else "." for p in peak[second : second + per_second])
        started = sum(1 for _, s, _, _ in requests if second * step <= s - t0 < (second + per_second) * step)
        lines.append(f"  {second * step:5.1f}s |{cells:<{per_second}}| {started:3d} started")
    return "\n".join(lines)


def _by_path(requests) -> str:
    """Requests per endpoint with their mean duration (the injected latency plus the stand-in's work)."""
    counts: dict[str, list[float]] = {}
    for path, started, finished, _ in requests:
        kind = "/".join("…" if part.isdigit() else part for part in path.split("/api/v1", 1)[-1].split("/"))
        counts.setdefault(kind, []).append(finished - started)
    return ", ".join(
        f"{len(d)} {kind} ({1000 * sum(d) / len(d):.0f} ms)"
        for kind, d in sorted(counts.items(), key=lambda kv: -len(kv[1]))
    )


# The Canvas stand-in's own record of every REST request it served, whichever process sent it (the
# sync here, the issuance in the workers): gunicorn hooks, one JSON line per request.
SERVER_HOOKS = """
import json, time

def pre_request(worker, req):
    req.bench_started = time.time()

def post_request(worker, req, environ, resp):
    if "/api/v1/" in req.path:
        line = json.dumps([req.path, req.bench_started, time.time(), resp.status_code]) + "\\n"
        with open({log!r}, "a") as out:
            out.write(line)
"""


def _served(log: Path) -> list[tuple[str, float, float, int]]:
    """The REST requests the Canvas stand-in has answered so far, by start time."""
    if not log.exists():
        return []
    rows = [tuple(json.loads(line)) for line in log.read_text().splitlines() if line.strip()]
    return sorted(rows, key=lambda r: r[1])  # type: ignore[arg-type, return-value]


def _issuance_wait(course_id: int, procs, *, timeout: float = 300.0) -> tuple[float, int]:
    """Polls the database until no learner of the course is left queued or being issued (every
    eligible learner's award stored, or its failure recorded); returns (when, perf_counter; the
    eligible learners still without an award)."""
    from django.db.models import Q

    from badging.models import LearnerProgress

    waiting = LearnerProgress.objects.filter(course_badge__course_id=course_id, state=LearnerProgress.ELIGIBLE)
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if not waiting.filter(
            Q(issue_status=LearnerProgress.ISSUE_QUEUED) | Q(issue_status=LearnerProgress.ISSUE_ISSUING)
        ).exists():
            return time.perf_counter(), waiting.count()
        for proc in procs:
            if proc.poll() is not None:
                raise SystemExit(f"a worker died:\n{proc.log_path.read_text()[-3000:]}")
        time.sleep(0.02)
    raise SystemExit(f"the workers did not issue every eligible learner within {timeout:.0f} s")


def _seed_child(argv: list[str]) -> int:
    """In a child process: seed the sandbox into the prepared database, print what the bench needs."""
    args = json.loads(argv[0])
    import django

    django.setup()
    from sandbox.seed.instances import sandbox_seed
    from sandbox.services.instance import faults_set

    seeded = sandbox_seed(
        learners=args["learners"],
        assessments=args["assessments"],
        slug="bench",
        base_url=args["base_url"],
        tool_url=args["base_url"],
        backpack_demo=False,
    )
    faults_set(instance=seeded.instance, latency_ms=args["latency_ms"])
    print(
        json.dumps(
            {
                "platform_id": seeded.platform_id,
                "course_id": seeded.course.id,
                "root_url": seeded.instance.root_url,
                "token": seeded.api_token,
            }
        )
    )
    return 0


def _stop(procs) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def run_once(args) -> dict:
    # A SIGTERM (e.g. from `timeout`) must still stop the workers and the server in the finally block.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="sfb-bench-sync-"))
    queue = f"bench-sync-{uuid.uuid4().hex[:8]}"
    canvas_url = f"{args.database_url}_canvas"
    started_load = machine()
    recreate_database(args.database_url)
    smtp = SinkProcess().__enter__()
    env = {
        "SFB_VAR_DIR": str(workdir),
        "DATABASE_URL": args.database_url,
        "SANDBOX_ENABLED": "true",
        # The bench's Canvas runs on this machine: the outbound guard is told it may go there.
        "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_HTTPS": "false",
        "DJANGO_DEBUG": "false",
        "STATIC_MANIFEST": "false",
        "REDIS_URL": args.redis_url,
        "CELERY_BROKER_URL": args.redis_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "CACHE_KEY_PREFIX": queue,
        "EMAIL_URL": smtp.url,
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "skillsforward.settings",
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
        "CANVAS_MAX_IN_FLIGHT_PER_TOKEN": str(args.in_flight),
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    connections.close_all()

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    seed_args = {
        "learners": args.learners,
        "assessments": args.assessments,
        "latency_ms": args.latency_ms,
        "base_url": base_url,
    }
    out = subprocess.run(
        [sys.executable, "-m", "bench", "sync", "--seed-child", json.dumps(seed_args)],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    seeded = json.loads(out.strip().splitlines()[-1])
    seed_seconds = time.perf_counter() - t0
    # Canvas is another system with its own database: the sandbox server gets a copy of the seeded
    # one, so its per-request bookkeeping never waits for the tool's row locks (and vice versa).
    copy_database(args.database_url, canvas_url)

    from django.db.models import Max, Min

    from badging.models import AssessmentResult, Award, LearnerProgress
    from badging.services.sync.coordination import course_sync
    from canvas.transport import requests_observed
    from lti.models import Course
    from sandbox.models import SandboxAssignment, SandboxEnrollment

    served_log = workdir / "canvas-requests.jsonl"
    hooks = workdir / "canvas_hooks.py"
    hooks.write_text(SERVER_HOOKS.replace("{log!r}", repr(str(served_log))))
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "skillsforward.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", str(args.in_flight * (args.workers + 1) + 3), "--log-level", "warning",
         "-c", str(hooks)],
        cwd=ROOT,
        env={**os.environ, **env, "DATABASE_URL": canvas_url},
        start_new_session=True,
    )  # fmt: skip
    server.log_path = workdir / "server.log"  # type: ignore[attr-defined]
    procs = [_start_worker(i, queue, {**os.environ, **env}, workdir) for i in range(args.workers)]
    pgids = {p.pid for p in procs}
    recorder = Recorder()
    result: dict = {"learners": args.learners, "machine": started_load, "seed_seconds": round(seed_seconds, 1)}
    try:
        _wait_until_up(f"{base_url}/health/", server)
        _warm_up(f"{seeded['root_url']}/api/v1/courses/{seeded['course_id']}")
        _wait_ready(procs, queue)
        course = Course.objects.get(platform_id=seeded["platform_id"], canvas_course_id=str(seeded["course_id"]))
        workers_cpu, canvas_cpu = _cpu_seconds(pgids), _cpu_seconds({server.pid})
        sync_cpu, machine_cpu = _own_cpu_seconds(), _machine_busy_seconds()
        postgres_cpu = _postgres_cpu()
        with requests_observed(recorder):
            wall0, t0 = time.time(), time.perf_counter()
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                full = profiler.runcall(course_sync, course_id=course.pk, trigger="command")
                profiler.dump_stats(args.profile)
            else:
                full = course_sync(course_id=course.pk, trigger="command")
            sync_seconds = time.perf_counter() - t0
            done, left = _issuance_wait(course.pk, procs)
            full_seconds = done - t0
        workers_cpu = _cpu_seconds(pgids) - workers_cpu
        canvas_cpu = _cpu_seconds({server.pid}) - canvas_cpu
        postgres_seconds = sum(v - postgres_cpu.get(pid, 0.0) for pid, v in _postgres_cpu().items())
        sync_cpu, machine_cpu = _own_cpu_seconds() - sync_cpu, _machine_busy_seconds() - machine_cpu
        time.sleep(0.2)  # the server writes a request's line just after answering it
        full_requests = [r for r in _served(served_log) if r[1] >= wall0]
        awards = Award.objects.filter(course_badge__course=course).count()
        stored = Award.objects.filter(course_badge__course=course).aggregate(
            first=Min("created_at"), last=Max("created_at")
        )
        worker_peak_mb, _ = _peak_memory_mb(pgids)
        result["full"] = {
            "status": full.status,
            "error": full.error,
            "sync_requests": full.canvas_requests,
            "sync_requests_seen": len(recorder.requests),
            "requests": len(full_requests),
            "sync_seconds": round(sync_seconds, 2),
            "seconds": round(full_seconds, 2),
            "peak_rss_mib": round(_rss(), 0),
            "worker_peak_rss_mib": round(worker_peak_mb, 0),
            "worker_cpu_seconds": round(workers_cpu, 2),
            "sync_cpu_seconds": round(sync_cpu, 2),
            "canvas_cpu_seconds": round(canvas_cpu, 2),
            "machine_cpu_seconds": round(machine_cpu, 2),
            "postgres_cpu_seconds": round(postgres_seconds, 2),
            "awards": awards,
            "issued": awards + left,
            # Seconds from the sync's start: the workers issue while the sync goes on.
            "first_award_s": round(stored["first"].timestamp() - wall0, 2) if stored["first"] else None,
            "last_award_s": round(stored["last"].timestamp() - wall0, 2) if stored["last"] else None,
            "results": AssessmentResult.objects.filter(course=course).count(),
            "progress_rows": LearnerProgress.objects.filter(course_badge__course=course).count(),
            "passes": full.stats.get("seconds"),
            "by_path": _by_path(full_requests),
            "peak_in_flight": _peak(full_requests),
            "throttled": sum(1 for r in full_requests if r[3] in (403, 429)),
            "timeline": timeline(full_requests, wall0, wall0 + full_seconds),
        }

        # Grade changes by the teacher through the sandbox's admin API, posted at once (Canvas's default).
        assignments = list(
            SandboxAssignment.objects.filter(
                course_id=seeded["course_id"], group__name="Credentialing Assessments"
            ).values_list("id", "points_possible")
        )
        learner_ids = list(
            SandboxEnrollment.objects.filter(
                course_id=seeded["course_id"], type="StudentEnrollment", workflow_state="active"
            )
            .order_by("user_id")
            .values_list("user_id", flat=True)[: args.changes]
        )
        for i, user_id in enumerate(learner_ids):
            assignment_id, points = assignments[i % len(assignments)]
            _post_json(
                f"{seeded['root_url']}/admin_api/v1/courses/{seeded['course_id']}/grade",
                {"user_id": user_id, "assignment_id": assignment_id, "score": float(points), "post": True},
                token=seeded["token"],
            )
        wall1, t0 = time.time(), time.perf_counter()
        incremental = course_sync(course_id=course.pk, trigger="command")
        done, _ = _issuance_wait(course.pk, procs)
        inc_seconds = done - t0
        time.sleep(0.2)
        inc_requests = [r for r in _served(served_log) if r[1] >= wall1]
        result["incremental"] = {
            "status": incremental.status,
            "error": incremental.error,
            "requests": len(inc_requests),
            "seconds": round(inc_seconds, 2),
            "changes": len(learner_ids),
            "submissions": incremental.stats.get("submissions"),
            "roster": incremental.stats.get("roster"),
            "issued": Award.objects.filter(course_badge__course=course).count() - awards,
            "by_path": _by_path(inc_requests),
            "peak_rss_mib": round(_rss(), 0),
        }
    finally:
        _stop([*procs, server])
        smtp.__exit__(None, None, None)
        if args.keep:
            print(f"(work files, worker logs and the server's request log in {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def _peak(requests) -> int:
    events = sorted([(s, 1) for _, s, _, _ in requests] + [(e, -1) for _, _, e, _ in requests])
    peak = current = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def failures_of(result: dict) -> list[str]:
    out = []
    full, inc = result["full"], result["incremental"]
    if full["status"] != "ok":
        out.append(f"full sync failed: {full['error']}")
    if full["requests"] > FULL_MAX_REQUESTS:
        out.append(f"sync + issuance made {full['requests']} Canvas requests (budget {FULL_MAX_REQUESTS})")
    if full["seconds"] > FULL_MAX_SECONDS:
        out.append(f"sync + issuance took {full['seconds']:.1f} s (budget {FULL_MAX_SECONDS:.0f} s)")
    if full["awards"] != full["issued"]:
        out.append(f"{full['issued']} learners were eligible but {full['awards']} awards are stored")
    if inc["status"] != "ok":
        out.append(f"incremental sync failed: {inc['error']}")
    if inc["requests"] > INCREMENTAL_MAX_REQUESTS:
        out.append(f"incremental trigger made {inc['requests']} requests (budget {INCREMENTAL_MAX_REQUESTS})")
    if full["throttled"]:
        out.append(f"Canvas throttled {full['throttled']} requests")
    return out


def report(result: dict, args) -> None:
    full, inc = result["full"], result["incremental"]
    print(
        f"inputs: {args.learners} learners x {args.assessments} credentialing assessments, {args.latency_ms} ms per "
        f"Canvas request, {args.changes} grade changes, up to {args.in_flight} requests in flight per token; "
        f"issuance by {args.workers} Celery worker processes (--concurrency 1) as the sync queues it; "
        f"PostgreSQL {args.database_url.rsplit('/', 1)[-1]} (Canvas: its copy _canvas), Redis {args.redis_url}"
    )
    print(f"machine: {result['machine']}; seeded in {result['seed_seconds']} s (child process)")
    print(
        f"full sync + issuance: {full['requests']:4d} Canvas requests  {full['seconds']:6.2f} s  "
        f"peak RSS {full['peak_rss_mib']:.0f} MiB (largest worker process {full['worker_peak_rss_mib']:.0f} MiB; "
        f"workers' CPU {full['worker_cpu_seconds']} s)  "
        f"(sync returned after {full['sync_seconds']} s, its {full['sync_requests']} requests; "
        f"{full['issued']} learners eligible, {full['awards']} awards stored, the first "
        f"{full['first_award_s']} s and the last {full['last_award_s']} s after the sync's start; "
        f"{full['results']} results, {full['progress_rows']} learner progress rows)"
    )
    print(
        f"  CPU: the sync (this process) {full['sync_cpu_seconds']} s, the workers {full['worker_cpu_seconds']} s, "
        f"the Canvas stand-in {full['canvas_cpu_seconds']} s, PostgreSQL {full['postgres_cpu_seconds']} s (the tool's "
        f"and the stand-in's backends), the whole machine {full['machine_cpu_seconds']} s "
        f"(of {(os.cpu_count() or 1) * full['seconds']:.1f} s on {os.cpu_count()} cores; rest: Redis, SMTP sink)"
    )
    print(f"  requests served by the Canvas stand-in (sync and workers): {full['by_path']}")
    print(f"  seconds per pass: {full['passes']}")
    print(f"  requests in flight (max per 0.25 s; peak {full['peak_in_flight']}), sync and issuance:")
    print(full["timeline"])
    print(
        f"incremental trigger:  {inc['requests']:4d} Canvas requests  {inc['seconds']:6.2f} s  "
        f"(after {inc['changes']} grade changes: {inc['submissions']} submissions read, roster read: {inc['roster']}, "
        f"{inc['issued']} awards issued by the workers; {inc['by_path']})"
    )


def scale(args) -> int:
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    print(f"machine: {machine()}")
    for size in sizes:
        cmd = [sys.executable, "-m", "bench", "sync", "--learners", str(size), "--assessments", str(args.assessments),
               "--latency-ms", str(args.latency_ms), "--changes", str(args.changes), "--in-flight", str(args.in_flight),
               "--workers", str(args.workers), "--database-url", args.database_url,
               "--redis-url", args.redis_url, "--json"]  # fmt: skip
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if not lines:
            print(proc.stdout[-2000:], proc.stderr[-3000:], file=sys.stderr)
            return 1
        rows.append(json.loads(lines[-1]))
    print(f"{'learners':>8} | {'requests':>8} | {'wall s':>6} | {'sync s':>6} | {'awards':>6} | {'peak RSS MiB':>12} | "
          f"{'incr. requests':>14} | machine at start")  # fmt: skip
    for row in rows:
        full, inc = row["full"], row["incremental"]
        print(
            f"{row['learners']:>8} | {full['requests']:>8} | {full['seconds']:>6} | {full['sync_seconds']:>6} | "
            f"{full['awards']:>6} | {full['peak_rss_mib']:>12.0f} | {inc['requests']:>14} | {row['machine']}"
        )
    failures = []
    first, last = rows[0], rows[-1]
    growth = last["learners"] / first["learners"]
    if last["full"]["requests"] > first["full"]["requests"] * growth * 1.1:
        failures.append("requests grow faster than the learners")
    if last["full"]["peak_rss_mib"] - first["full"]["peak_rss_mib"] > SCALE_MAX_RSS_GROWTH_MIB:
        failures.append(
            f"peak memory grew by {last['full']['peak_rss_mib'] - first['full']['peak_rss_mib']:.0f} MiB "
            f"from {first['learners']} to {last['learners']} learners (bound {SCALE_MAX_RSS_GROWTH_MIB:.0f} MiB)"
        )
    for row in rows:
        if row["incremental"]["requests"] > INCREMENTAL_MAX_REQUESTS:
            failures.append(f"{row['learners']} learners: incremental made {row['incremental']['requests']} requests")
    for failure in failures:
        print(f"OVER BUDGET: {failure}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--seed-child"]:
        return _seed_child(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench sync")
    parser.add_argument("--learners", type=int, default=5000)
    parser.add_argument("--assessments", type=int, default=4)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--changes", type=int, default=50, help="grade changes before the incremental trigger")
    parser.add_argument("--in-flight", type=int, default=3, help="CANVAS_MAX_IN_FLIGHT_PER_TOKEN")
    parser.add_argument("--workers", "--issue-processes", type=int, default=2, help="Celery worker processes issuing")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/sfb_sync_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--scale", action="store_true", help="run --sizes in child processes, print one table")
    parser.add_argument("--sizes", default="1000,5000,20000")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    parser.add_argument("--profile", metavar="PATH", help="cProfile the full sync in this process, stats to PATH")
    parser.add_argument("--keep", action="store_true", help="keep the temporary databases for inspection")
    args = parser.parse_args(argv)
    if args.scale:
        return scale(args)
    result = run_once(args)
    failures = failures_of(result)
    if args.json:
        print(json.dumps({**result, "failures": failures}))
        return 1 if failures else 0
    report(result, args)
    for failure in failures:
        print(f"OVER BUDGET: {failure}", file=sys.stderr)
    if not failures:
        print(
            f"within budget: sync + issuance <= {FULL_MAX_REQUESTS} requests and <= {FULL_MAX_SECONDS:.0f} s, "
            f"incremental <= {INCREMENTAL_MAX_REQUESTS} requests"
        )
    return 1 if failures else 0
