"""Sync benchmark: what `badging_sync` sets off, end to end, against the sandbox Canvas.

    python -m bench sync [--learners 5000] [--assessments 4] [--latency-ms 50] [--changes 50]
    python -m bench sync --scale [--sizes 1000,5000,20000]

One run: a throw-away SQLite database in a temporary folder (on tmpfs when there is one); the
sandbox seeded with one course in a child process (its memory is not this process's), served by
gunicorn on a free port with the injected latency on every REST call. Then, in this process:

1. the full sync `badging_sync --all` runs for a course never synced (course_sync, trigger
   "command"), and the issuance of every learner it finds eligible, by 2 forked processes of the
   bench (`--issue-processes`: the award_issue_batch work of 2 Celery workers, primary emails included):
   budget <= 120 Canvas requests and <= 10 s from the sync's start until the last award is stored;
2. `--changes` grade changes in the sandbox (posted), then an incremental trigger (the same
   command) and the issuance it sets off: budget <= 12 Canvas requests.

Every Canvas request of these processes is counted (canvas.transport.requests_observed), the sync's
and the issuance's alike. Prints the inputs, the machine (cores, load average at the start), the
requests, wall time, peak memory (RSS) and the requests in flight over time; exits 1 when a
budget is missed. --scale runs sizes in child processes and prints one table.

One file on purpose: one benchmark, read top to bottom (seed, count requests, sync, issue, the
incremental trigger, the scale table); each part exists only for this run.
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
import threading
import time
import urllib.request
from pathlib import Path

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


def machine() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start"


class Recorder:
    """Every Canvas request of this process: path, start and end (wall clock), status."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, float, float, int]] = []
        self._lock = threading.Lock()
        self.issuer_rss = 0.0  # peak RSS of the issuing processes, MiB

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


def _issue_queued(course_id: int, recorder: Recorder, processes: int) -> int:
    """What the Celery workers do with the batches the sync queued (award_issue_batch, 50 learners
    each), done by `processes` forked processes of this bench, as by that many single-process
    workers. Their Canvas requests are added to the recorder; returns how many learners were queued."""
    import multiprocessing

    from django.db import connections

    from badging.models import LearnerProgress
    from badging.services.issuance.queueing import BATCH_SIZE

    ids = list(
        LearnerProgress.objects.filter(
            course_badge__course_id=course_id,
            state=LearnerProgress.ELIGIBLE,
            issue_status=LearnerProgress.ISSUE_QUEUED,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    batches = [ids[start : start + BATCH_SIZE] for start in range(0, len(ids), BATCH_SIZE)]
    if not batches:
        return 0
    connections.close_all()  # a forked child must open its own connection
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    children = [
        context.Process(target=_issue_child, args=(batches[i::processes], results), daemon=True)
        for i in range(max(1, min(processes, len(batches))))
    ]
    for child in children:
        child.start()
    for _ in children:
        status, requests, rss = results.get(timeout=600)
        if status != "ok":
            raise SystemExit(f"an issuing process failed: {status}")
        recorder.requests.extend(tuple(r) for r in requests)
        recorder.issuer_rss = max(recorder.issuer_rss, rss)
    for child in children:
        child.join(timeout=30)
    return len(ids)


def _issue_child(batches: list[list[int]], results) -> None:
    from badging.services.issuance.issue import awards_issue_batch
    from canvas.transport import requests_observed

    own = Recorder()
    try:
        with requests_observed(own):
            for batch in batches:
                awards_issue_batch(progress_ids=batch)
        results.put(("ok", own.requests, _rss()))
    except BaseException as exc:  # reported to the bench, which stops
        results.put((repr(exc), own.requests, _rss()))


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


def run_once(args) -> dict:
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
        "CELERY_BROKER_URL": "memory://",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "skillsforward.settings",
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
        "CANVAS_MAX_IN_FLIGHT_PER_TOKEN": str(args.in_flight),
    }
    os.environ.update(env)
    started_load = machine()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connections

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
    # file, so its per-request bookkeeping never waits for the tool's write locks (and vice versa).
    shutil.copyfile(workdir / "tool.sqlite3", workdir / "canvas.sqlite3")

    from badging.models import AssessmentResult, Award, LearnerProgress
    from badging.services.sync.coordination import course_sync
    from canvas.transport import requests_observed
    from lti.models import Course
    from sandbox.models import SandboxAssignment, SandboxEnrollment

    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "skillsforward.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", str(args.in_flight + 3), "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, **env, "DATABASE_URL": f"sqlite:///{workdir / 'canvas.sqlite3'}"},
    )  # fmt: skip
    recorder = Recorder()
    result: dict = {"learners": args.learners, "machine": started_load, "seed_seconds": round(seed_seconds, 1)}
    try:
        _wait_until_up(f"{base_url}/health/", server)
        course = Course.objects.get(platform_id=seeded["platform_id"], canvas_course_id=str(seeded["course_id"]))
        with requests_observed(recorder):
            wall0, t0 = time.time(), time.perf_counter()
            full = course_sync(course_id=course.pk, trigger="command")
            sync_seconds = time.perf_counter() - t0
            issued = _issue_queued(course.pk, recorder, args.issue_processes)
            full_seconds = time.perf_counter() - t0
            full_requests = sorted(recorder.since(0), key=lambda r: r[1])
            mark = len(recorder.requests)
            result["full"] = {
                "status": full.status,
                "error": full.error,
                "sync_requests": full.canvas_requests,
                "requests": len(full_requests),
                "sync_seconds": round(sync_seconds, 2),
                "seconds": round(full_seconds, 2),
                "peak_rss_mib": round(_rss(), 0),
                "issuer_peak_rss_mib": round(recorder.issuer_rss, 0),
                "awards": Award.objects.filter(course_badge__course=course).count(),
                "issued": issued,
                "results": AssessmentResult.objects.filter(course=course).count(),
                "progress_rows": LearnerProgress.objects.filter(course_badge__course=course).count(),
                "passes": full.stats.get("seconds"),
                "by_path": _by_path(full_requests),
                "peak_in_flight": max(full.stats.get("peak_in_flight", 0), _peak(full_requests)),
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
            t0 = time.perf_counter()
            incremental = course_sync(course_id=course.pk, trigger="command")
            issued_after = _issue_queued(course.pk, recorder, args.issue_processes)
            inc_seconds = time.perf_counter() - t0
            inc_requests = recorder.since(mark)
            result["incremental"] = {
                "status": incremental.status,
                "error": incremental.error,
                "requests": len(inc_requests),
                "seconds": round(inc_seconds, 2),
                "changes": len(learner_ids),
                "submissions": incremental.stats.get("submissions"),
                "roster": incremental.stats.get("roster"),
                "issued": issued_after,
                "by_path": _by_path(inc_requests),
                "peak_rss_mib": round(_rss(), 0),
            }
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        if args.keep:
            print(f"(work files in {workdir})")
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
        f"issuance by {args.issue_processes} forked processes of the bench (award_issue_batch, as by "
        f"{args.issue_processes} single-process Celery workers)"
    )
    print(f"machine: {result['machine']}; seeded in {result['seed_seconds']} s (child process)")
    print(
        f"full sync + issuance: {full['requests']:4d} Canvas requests  {full['seconds']:6.2f} s  "
        f"peak RSS {full['peak_rss_mib']:.0f} MiB (issuing processes {full['issuer_peak_rss_mib']:.0f} MiB)  "
        f"(sync {full['sync_requests']} requests in {full['sync_seconds']} s; "
        f"{full['issued']} learners eligible, {full['awards']} awards stored; {full['results']} results, "
        f"{full['progress_rows']} learner progress rows)"
    )
    print(f"  requests: {full['by_path']}")
    print(f"  seconds per pass: {full['passes']}")
    print(f"  requests in flight (max per 0.25 s; peak {full['peak_in_flight']}), sync then issuance:")
    print(full["timeline"])
    print(
        f"incremental trigger:  {inc['requests']:4d} Canvas requests  {inc['seconds']:6.2f} s  "
        f"(after {inc['changes']} grade changes: {inc['submissions']} submissions read, roster read: {inc['roster']}, "
        f"{inc['issued']} awards issued; {inc['by_path']})"
    )


def scale(args) -> int:
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    print(f"machine: {machine()}")
    for size in sizes:
        cmd = [sys.executable, "-m", "bench", "sync", "--learners", str(size), "--assessments", str(args.assessments),
               "--latency-ms", str(args.latency_ms), "--changes", str(args.changes), "--in-flight", str(args.in_flight),
               "--issue-processes", str(args.issue_processes), "--json"]  # fmt: skip
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
    parser.add_argument("--issue-processes", type=int, default=2, help="processes issuing, like 2 Celery workers")
    parser.add_argument("--scale", action="store_true", help="run --sizes in child processes, print one table")
    parser.add_argument("--sizes", default="1000,5000,20000")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
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
