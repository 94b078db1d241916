"""Issuance benchmark: N awards end to end through real Celery workers on PostgreSQL + Redis.

    python -m bench issue [--awards 5000] [--workers 2] [--batch 50] [--breakdown 500] [--profile 300]
        [--database-url postgres://postgres@127.0.0.1:5432/sfb_issue_bench] [--redis-url redis://127.0.0.1:6379/4]
    python -m bench issue --scale          # 1,000 / 5,000 / 20,000 awards with 1 and 2 workers, one table

Each award: the learner's primary email (from "Canvas", a local HTTP stand-in), the Award row, OB
2.0 assertion, OB 3.0 credential signed twice (eddsa-rdfc-2022 + RS256 VC-JWT), baked OB 2.0 and
OB 3.0 PNGs, and the notification email sent to a local SMTP sink (its own process). The clock
runs from queueing the eligible learners until the last email is in the sink. The database is
dropped and re-created each run. Prints the inputs, the machine (cores, load average), awards/s,
emails/s, worker CPU per award and peak memory; checks zero duplicate awards and exactly one email
per award; exits 1 below TARGET_PER_SECOND. --breakdown N first times each stage of N issues in
this process (ms per award); --profile N runs cProfile over N issues.

One file on purpose: one benchmark, read top to bottom (its SMTP sink and Canvas stand-in, the
workers, the clock, the figures); each part exists only for this run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing
import os
import pstats
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.databases import recreate_database

ROOT = Path(__file__).resolve().parent.parent
TARGET_PER_SECOND = 500.0
SCALE_SIZES = (1_000, 5_000, 20_000)


def _badge_png() -> bytes:
    """A realistic badge image (256×256, anti-aliased shapes and text), about 10 KB."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 8, 248, 248), fill=(7, 112, 163, 255), outline=(3, 87, 127, 255), width=8)
    draw.regular_polygon((128, 118, 70), 5, fill=(255, 255, 255, 255))
    draw.text((78, 196), "DATA SKILLS", fill=(255, 255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _start_worker(index: int, queue: str, env: dict, logdir: Path) -> subprocess.Popen:
    log = open(logdir / f"worker{index}.log", "wb")  # noqa: SIM115 (kept open for the process)
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "skillsforward", "worker", "--loglevel=WARNING",
         "--concurrency=1", "--pool=prefork", "-Q", queue, "--without-heartbeat", "--without-gossip",
         "--without-mingle", f"--hostname=bench{index}-{queue}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    proc.log_path = logdir / f"worker{index}.log"  # type: ignore[attr-defined]
    return proc


def _wait_ready(procs, queue: str, timeout: float = 60) -> None:
    from skillsforward.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise SystemExit(f"a worker exited early:\n{proc.log_path.read_text()[-3000:]}")
        replies = app.control.ping(timeout=1.0) or []
        if sum(1 for r in replies for name in r if queue in name) >= len(procs):
            return
    raise SystemExit("workers did not become ready")


def _cpu_seconds(pgids: set[int]) -> float:
    """CPU time (user + system) of the live processes in these process groups (Linux /proc)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in pgids:  # fields after the command: state ppid pgrp … utime(11) stime(12)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _pid_cpu_seconds(pids) -> dict[int, float]:
    """CPU time (user + system) of each of these live processes (Linux /proc)."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def _database_backends() -> list[int]:
    """The PostgreSQL backends connected to the bench database, but this process's own (polling)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def _machine_busy_seconds() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# (label, module, function): timed in-process by --breakdown; inclusive, so nested stages are indented.
STAGES = [
    ("issue batch (all of issuing)", "badging.services.issuance.issue", "awards_issue_batch"),
    ("  lease learners", "badging.services.issuance.issue", "_claim"),
    ("  read emails from Canvas", "badging.services.issuance.issue", "_emails_read"),
    ("  OB 3.0 document", "badging.openbadges.ob3", "credential_document"),
    ("  Data Integrity proof (eddsa-rdfc-2022)", "badging.openbadges.ob3", "data_integrity_sign"),
    ("    RDFC-1.0 canonicalisation", "badging.openbadges.jsonld", "canonize"),
    ("  VC-JWT (RS256)", "badging.openbadges.ob3", "credential_jwt"),
    ("  OB 2.0 assertion", "badging.openbadges.ob2", "assertion_document"),
    ("  baking PNG", "badging.openbadges.baking", "bake_png"),
    ("  store rows (awards, images, deliveries)", "badging.services.issuance.issue", "_store"),
    ("send emails (all of sending)", "badging.services.notifications", "_deliveries_attempt"),
    ("  lease emails", "badging.services.notifications", "_batch_lease"),
    ("  render email (templates, MIME)", "badging.services.notifications", "award_email_message"),
    ("  SMTP", "badging.services.notifications", "_smtp_send"),
]


def _breakdown(progress_ids: list[int]) -> None:
    """Wall time per stage for issuing then emailing these learners in this process (no profiler)."""
    import functools
    import importlib

    totals: dict[str, float] = dict.fromkeys((label for label, *_ in STAGES), 0.0)
    cpu: dict[str, float] = dict.fromkeys((label for label, *_ in STAGES), 0.0)
    undo = []
    for label, module_name, name in STAGES:
        owner = importlib.import_module(module_name)
        attribute = name
        if "." in name:
            class_name, attribute = name.split(".")
            owner = getattr(owner, class_name)
        original = getattr(owner, attribute)

        def timed(*args, __original=original, __label=label, **kwargs):
            began, began_cpu = time.perf_counter(), time.process_time()
            try:
                return __original(*args, **kwargs)
            finally:
                totals[__label] += time.perf_counter() - began
                cpu[__label] += time.process_time() - began_cpu

        setattr(owner, attribute, functools.wraps(original)(timed))
        undo.append((owner, attribute, original))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from badging import models as bm
    from badging.services import notifications
    from badging.services.issuance import issue, queueing

    try:
        began, began_cpu = time.perf_counter(), time.process_time()
        issued = []
        statements = CaptureQueriesContext(connection)
        statements.__enter__()
        for start in range(0, len(progress_ids), queueing.BATCH_SIZE):
            batch = issue.awards_issue_batch(progress_ids=progress_ids[start : start + queueing.BATCH_SIZE])
            delivery_ids = list(bm.Delivery.objects.filter(award__in=batch).values_list("pk", flat=True))
            notifications.deliveries_send(delivery_ids=delivery_ids)
            issued += batch
        took, took_cpu = time.perf_counter() - began, time.process_time() - began_cpu
        statements.__exit__(None, None, None)
    finally:
        for owner, attribute, original in undo:
            setattr(owner, attribute, original)
    count = max(len(issued), 1)
    print(
        f"breakdown: {len(issued)} awards issued and emailed in this process, in batches of {queueing.BATCH_SIZE}; "
        "ms per award, wall and CPU (this process's CPU: it includes the Canvas stand-in's threads; load "
        f"average now {os.getloadavg()[0]:.2f}):"
    )
    for label, *_ in STAGES:
        print(f"  {label:<48} {totals[label] * 1000 / count:6.2f} {cpu[label] * 1000 / count:6.2f}")
    print(f"  {'total':<48} {took * 1000 / count:6.2f} {took_cpu * 1000 / count:6.2f}")
    print(f"  SQL statements per award: {len(statements.captured_queries) / count:.2f}", flush=True)


def _sink_serve(ready, count, stop, results) -> None:
    """A minimal SMTP server (asyncio, its own process: it must not share a core's GIL with the
    bench's polling) that accepts every message; counts them live, sends (recipients, first and
    last arrival times) through `results` when `stop` is set."""
    import asyncio

    recipients: list[str] = []
    times: list[float] = []

    async def handle(reader, writer):
        writer.write(b"220 sink ESMTP\r\n")
        to: list[str] = []
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"MAIL":
                to = []
                writer.write(b"250 OK\r\n")
            elif verb == b"RCPT":
                to.append(line[8:].decode("latin-1").strip().strip("<>"))
                writer.write(b"250 OK\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await reader.readuntil(b"\r\n.\r\n")
                recipients.extend(to)
                times.append(time.time())
                count.value += 1
                writer.write(b"250 OK queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 OK\r\n")
        writer.close()

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 22)
        ready.send(server.sockets[0].getsockname()[1])
        while not stop.is_set():
            await asyncio.sleep(0.1)
        server.close()
        results.send((recipients, times))

    asyncio.run(serve())


class SinkProcess:
    """The SMTP sink in a child process: .url, .count (live), .finish() -> (recipients, arrival times)."""

    def __enter__(self):
        context = multiprocessing.get_context("fork")
        ready_r, ready_w = context.Pipe(duplex=False)
        self._results_r, results_w = context.Pipe(duplex=False)
        self.count = context.Value("i", 0, lock=False)
        self._stop = context.Event()
        self._proc = context.Process(target=_sink_serve, args=(ready_w, self.count, self._stop, results_w), daemon=True)
        self._proc.start()
        self.pid = self._proc.pid
        self.url = f"smtp://127.0.0.1:{ready_r.recv()}"
        return self

    def finish(self) -> tuple[list[str], list[float]]:
        self._stop.set()
        return self._results_r.recv()

    def __exit__(self, *exc):
        self._stop.set()
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()


def _peak_memory_mb(pgids: set[int]) -> tuple[float, float]:
    """(largest, sum of) peak resident set sizes (VmHWM) of the live processes in these groups."""
    peaks = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            pgrp = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2])
            if pgrp not in pgids:
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return (max(peaks, default=0.0), sum(peaks))


def _machine() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


def _scale(args) -> int:
    """Runs the benchmark at each size with 1 and 2 workers (a fresh database each) and prints one table."""
    rows = []
    for awards in SCALE_SIZES:
        for workers in (1, 2):
            command = [sys.executable, "-m", "bench", "issue", "--awards", str(awards), "--workers", str(workers),
                       "--batch", str(args.batch), "--database-url", args.database_url,
                       "--redis-url", args.redis_url]  # fmt: skip
            print(f"$ {' '.join(command[1:])}", flush=True)
            output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True).stdout
            result = next((json.loads(line[7:]) for line in output.splitlines() if line.startswith("RESULT ")), None)
            if result is None:
                print(output[-3000:])
                return 1
            print(
                f"  {result['awards_per_s']:.0f} awards/s in {result['wall_s']:.1f} s, {result['peak_mb']:.0f} MB peak "
                f"per worker process, {result['worker_cpu_ms']:.1f} ms worker CPU/award (load {result['load']:.2f})",
                flush=True,
            )
            rows.append(result)
    print()
    print(
        "| awards | workers | wall (s) | awards/s | emails/s | worker CPU ms/award "
        "| peak memory, largest worker process (MB) | load at start |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['awards']:,} | {r['workers']} | {r['wall_s']:.1f} | {r['awards_per_s']:.0f} "
            f"| {r['emails_per_s']:.0f} | {r['worker_cpu_ms']:.1f} | {r['peak_mb']:.0f} | {r['load']:.2f} |"
        )
    return 0 if all(r["ok"] for r in rows if r["workers"] == 2) else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench issue")
    parser.add_argument("--awards", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--profile", type=int, default=0, help="also profile N issues in this process (cProfile)")
    parser.add_argument(
        "--breakdown", type=int, default=0, help="also time each stage of N issues in this process (ms per award)"
    )
    parser.add_argument("--scale", action="store_true", help="1,000 / 5,000 / 20,000 awards × 1 and 2 workers")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/sfb_issue_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4")
    args = parser.parse_args(argv)
    if args.scale:
        return _scale(args)

    # A SIGTERM (e.g. from `timeout`) must still stop the worker processes in the finally block.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.path.insert(0, str(ROOT))
    from tests.badging.test_issuance_support import CanvasProfiles

    machine = _machine()
    load_at_start = os.getloadavg()[0]
    print(
        f"inputs: {args.awards} awards, {args.workers} worker processes, batches of {args.batch}, "
        f"PostgreSQL {args.database_url.rsplit('/', 1)[-1]}, Redis {args.redis_url}; machine: {machine}",
        flush=True,
    )
    queue = f"bench-issue-{uuid.uuid4().hex[:8]}"
    logdir = ROOT / "var" / "bench-issue"
    logdir.mkdir(parents=True, exist_ok=True)
    recreate_database(args.database_url)

    with CanvasProfiles() as profiles, SinkProcess() as smtp:
        env = {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "CELERY_BROKER_URL": args.redis_url,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "CACHE_KEY_PREFIX": queue,
            "PUBLIC_BASE_URL": "https://badges.bench.example.edu",
            "EMAIL_URL": smtp.url,
            "LOG_LEVEL": "WARNING",
            # The bench's Canvas runs on this machine: the outbound guard is told it may go there.
            "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_DEBUG": "false",
            "DJANGO_SETTINGS_MODULE": "skillsforward.settings",
        }
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db.models import Count
        from django.utils import timezone

        from badging import models as bm
        from badging.services.issuance import issue, issuer_keys, queueing
        from lti import models as lm

        print("migrating a fresh database…", flush=True)
        call_command("migrate", verbosity=0)
        queueing.BATCH_SIZE = args.batch
        platform = lm.Platform.objects.create(
            name="Bench Canvas", issuer="https://canvas.instructure.com", client_id="1000", api_base_url=profiles.url,
            api_token="bench-token",
        )  # fmt: skip
        course = lm.Course.objects.create(platform=platform, canvas_course_id="1", name="Data Skills 101")
        issuer = bm.Issuer.objects.create(
            key="bench", name="Skills Forward University", url="https://uni.example.edu", email="badges@uni.example.edu"
        )
        badge_class = bm.BadgeClass.objects.create(
            key="bench-badge", issuer=issuer, name="Data Analysis Fundamentals",
            description="Cleans, analyses and presents a data set.", image=_badge_png(), image_content_type="image/png",
            criteria_narrative="Master every credentialing assessment and receive a final grade.",
            alignments=[{"targetName": "Data analysis", "targetUrl": "https://skills.example.org/data-analysis"}],
            tags=["data"], valid_for_days=730,
        )  # fmt: skip
        course_badge = bm.CourseBadge.objects.create(key="bench", badge_class=badge_class, course=course)
        for position, name in enumerate(["Cleaning a data set", "Analysing a data set", "Presenting findings"]):
            bm.Assignment.objects.create(
                course=course, canvas_assignment_id=str(position + 1), name=name, position=position
            )
        issuer_keys.issuer_keys_current(issuer=issuer)

        total = args.awards + args.profile + args.breakdown
        read_at = timezone.now()  # as the roster pass of the sync that made them eligible left them
        people = lm.Person.objects.bulk_create(
            [
                lm.Person(platform=platform, canvas_user_id=str(10_000 + i), name=f"Learner {i}",
                          email=f"learner{i}@uni.example.edu", email_read_at=read_at)
                for i in range(total)
            ],
            batch_size=1000,
        )  # fmt: skip
        profiles.emails = {p.canvas_user_id: f" Learner{i}@Uni.Example.edu" for i, p in enumerate(people)}
        progress = bm.LearnerProgress.objects.bulk_create(
            [
                bm.LearnerProgress(course_badge=course_badge, learner=p, state=bm.LearnerProgress.ELIGIBLE,
                                   mastered_count=3, assessment_count=3, final_grade_entered=True)
                for p in people
            ],
            batch_size=1000,
        )  # fmt: skip

        if args.breakdown:
            _breakdown([p.pk for p in progress[args.awards + args.profile :]])

        if args.profile:
            # Where the time goes: the same service, in this process, email to the sink.
            ids = [p.pk for p in progress[args.awards : args.awards + args.profile]]
            profiler = cProfile.Profile()
            started = time.perf_counter()
            profiler.enable()
            issued = issue.awards_issue_batch(progress_ids=ids, send_emails=True)
            profiler.disable()
            took = time.perf_counter() - started
            print(f"profile: {len(issued)} awards in one process: {took * 1000 / max(len(issued), 1):.1f} ms/award")
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(28)
            stats.sort_stats("tottime").print_stats(25)
        in_sink_before = smtp.count.value

        print(f"starting {args.workers} worker processes…", flush=True)
        procs = [_start_worker(i, queue, env, logdir) for i in range(args.workers)]
        pgids = {p.pid for p in procs}
        try:
            _wait_ready(procs, queue)
            workers_cpu_before = _cpu_seconds(pgids)
            # Sampled while the run goes: a backend may live for one task only (a connection per task).
            database_first = _pid_cpu_seconds(_database_backends())
            database_last = dict(database_first)
            sink_before = _pid_cpu_seconds([smtp.pid])
            bench_cpu_before = time.process_time()
            machine_before = _machine_busy_seconds()
            started_wall = time.time()
            started = time.perf_counter()
            queued = queueing.awards_enqueue_eligible(course_badge_id=course_badge.pk)
            assert queued == args.awards, queued
            last_report, last_progress, last_count = started, started, -1
            while True:
                in_sink = smtp.count.value - in_sink_before
                now = time.perf_counter()
                if in_sink >= args.awards:
                    break
                if in_sink != last_count:
                    last_count, last_progress = in_sink, now
                elif now - last_progress > 60:
                    print("no progress for 60 s: stopping (see the failures below)")
                    break
                if now - last_report > 5:
                    awards = bm.Award.objects.count()
                    print(f"  {now - started:5.1f}s: {awards} awards, {in_sink} emails in the sink", flush=True)
                    last_report = now
                for proc in procs:
                    if proc.poll() is not None:
                        raise SystemExit(f"a worker died:\n{proc.log_path.read_text()[-3000:]}")
                database_last.update(_pid_cpu_seconds(_database_backends()))
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
            workers_cpu = _cpu_seconds(pgids) - workers_cpu_before
            database_last.update(_pid_cpu_seconds(_database_backends()))
            # A lower bound: a backend's last few milliseconds before it exited are not seen.
            database_cpu = sum(cpu - database_first.get(pid, 0.0) for pid, cpu in database_last.items())
            sink_cpu = sum(_pid_cpu_seconds([smtp.pid]).values()) - sum(sink_before.values())
            bench_cpu = time.process_time() - bench_cpu_before
            machine_cpu = _machine_busy_seconds() - machine_before
            peak_mb, peak_total_mb = _peak_memory_mb(pgids)
            last_award = bm.Award.objects.order_by("-pk").values_list("issued_on", flat=True).first()
            time.sleep(1.0)  # a duplicate email would arrive now
        finally:
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        recipients, arrivals = smtp.finish()
        arrivals = arrivals[in_sink_before:]
        first_email, last_email = (arrivals[0], arrivals[-1]) if arrivals else (0.0, 0.0)

        duplicates = bm.Award.objects.values("badge_class", "learner").annotate(n=Count("pk")).filter(n__gt=1).count()
        awards = bm.Award.objects.count()
        signed = bm.Award.objects.filter(ob3_credential__isnull=False).exclude(ob3_jwt="").count()
        baked = bm.AwardImage.objects.count()
        recipients = recipients[in_sink_before:]
        emails = len(recipients)
        unique_recipients = len(set(recipients))
        failed = bm.LearnerProgress.objects.filter(issue_status=bm.LearnerProgress.ISSUE_FAILED)
        for reason in failed.values_list("issue_error", flat=True).distinct()[:5]:
            print(f"  failure: {reason}")
        failed = failed.count()
        rate = min(emails, args.awards) / elapsed
        email_lag = last_email - last_award.timestamp() if last_award else 0.0
        print(
            f"issued {awards} awards ({signed} signed OB 3.0, {baked} baked images), {emails} emails to "
            f"{unique_recipients} recipients, {failed} failures, in {elapsed:.2f} s with {args.workers} workers "
            f"(first email {first_email - started_wall:.2f} s after queueing, last email {email_lag:.2f} s after "
            "the last award's issue time, whole seconds)"
        )
        per = 1000 / args.awards
        print(
            f"CPU per award: workers {workers_cpu * per:.2f} ms, this process (Canvas stand-in, polling) "
            f"{bench_cpu * per:.2f} ms, PostgreSQL (this database's backends) {database_cpu * per:.2f} ms, "
            f"the SMTP sink {sink_cpu * per:.2f} ms, whole machine {machine_cpu * per:.2f} ms (those, Redis "
            f"and anything else running); peak memory: {peak_mb:.0f} MB largest worker process, "
            f"{peak_total_mb:.0f} MB all worker processes"
        )
        print(
            f"throughput: {rate:.1f} awards/s end to end (target {TARGET_PER_SECOND:.0f}/s), "
            f"{emails / elapsed:.1f} emails/s; duplicate awards: {duplicates}; machine: {machine}"
        )
        complete = emails == args.awards == unique_recipients and awards == args.awards + args.profile + args.breakdown
        ok = duplicates == 0 and complete and rate >= TARGET_PER_SECOND
        result = {
            "awards": args.awards, "workers": args.workers, "wall_s": elapsed, "awards_per_s": rate,
            "emails_per_s": emails / elapsed, "worker_cpu_ms": workers_cpu * per, "machine_cpu_ms": machine_cpu * per,
            "database_cpu_ms": database_cpu * per, "sink_cpu_ms": sink_cpu * per,
            "peak_mb": peak_mb, "load": load_at_start, "ok": ok,
        }  # fmt: skip
        print("RESULT " + json.dumps(result))
        if duplicates or not complete:
            print("FAILED: duplicates or missing/extra emails")
            return 1
        if not ok:
            print(f"FAILED: {rate:.1f} awards/s is below the target of {TARGET_PER_SECOND:.0f}/s")
            return 1
        return 0
