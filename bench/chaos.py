"""Chaos run: an end-of-term issuance under faults, then a check that nothing was lost or done twice.

    python -m bench chaos [--learners 1600] [--seed 1] [--window 150] [--fast]
        [--database-url postgres://postgres@127.0.0.1:5432/sf_chaos] [--redis-port 6390]

What runs, all on this machine: PostgreSQL (a database of its own, dropped and re-created), a
redis-server of the run's own on --redis-port (no persistence: a restart loses every queued
task), the tool and its Canvas sandbox under gunicorn (the sandbox course is seeded with
--learners), one Celery worker (concurrency 2, restarted 2 s after each kill as a supervisor
would), celery beat, and a local SMTP sink.

The run syncs the course through the worker (the sync queues every eligible learner for issuance)
while faults happen on a schedule drawn from --seed and printed first, spread over --window
seconds: `kill -9` of the whole worker several times; a restart of the run's Redis and a FLUSHDB
of it; a PostgreSQL restart of the run's database (new connections refused with ALLOW_CONNECTIONS
false and every open one cut with pg_terminate_backend, mid-transaction: the server is shared, so
it is not restarted itself); the SMTP sink refusing with 421 then 451 for a while, and one
connection dropped after DATA before the 250 (the email is kept: the sender cannot know); Canvas
answering 500s, throttling, hanging past the timeout, sending malformed JSON (while an
instructor's Sync now runs) and truncated pages, each for a while; beat stopped and started
again, and a second beat running at once; a rolling restart of web (gunicorn SIGHUP) and worker
(the new one first, then SIGTERM to the old).

Meanwhile bench/chaos_probe.py reads /health/, a learner's page and the dashboard every second
and does whole LTI launches through the sandbox, and checks the dashboard shows each failure's
reason while it lasts. Then the run waits for the work to settle and checks, from the database,
the SMTP sink and the public URLs: exactly one live award per eligible learner and none for anyone
else; every award's email received once, extra ones only as counted unconfirmed sends; every
award's public assertion JSON fetches; no course sync stuck. It prints p50/p99 of the pages, how
long the work took to recover after the last fault, and PASS or FAIL (exit status 1).

--fast shortens the leases (6 s, the course lock's too), the queued-stale time (15 s), the first
retry of a failed issue or email (5 s instead of a minute), Canvas retries (2) and the
reconciler's interval (2 s) for the CI version (tests/test_chaos.py); without it the production
defaults apply (30 s leases, retries after a minute, reconciler every minute).

One file on purpose: one run, read top to bottom (start the processes, draw and apply the fault
schedule, settle, check the verdict); the probes that run beside it are in chaos_probe.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.databases import recreate_database

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Fault:
    at: float  # seconds after the start of the run, or of issuance
    kind: str
    duration: float = 0.0
    phase: str = "run"  # "issuance": the clock starts when the sync has queued the first learner

    def describe(self) -> str:
        lasting = f" for {self.duration:.0f} s" if self.duration else ""
        clock = "issuance + " if self.phase == "issuance" else ""
        return f"at {clock}{self.at:.1f} s: {self.kind}{lasting}"


def fault_schedule(seed: int, window: float, kills: int) -> list[Fault]:
    """The run's faults, drawn from the seed: each kind at a random time within the window."""
    rng = random.Random(seed)

    def at(lo: float = 0.05, hi: float = 0.9) -> float:
        return round(rng.uniform(lo * window, hi * window), 1)

    span = max(window / 8, 5.0)
    # Canvas, Redis and beat faults hit the sync (and what runs beside it); the worker kills and
    # the mail server's faults hit issuance and the emails, timed from the first learner queued.
    faults = [
        Fault(at(0.0, 0.5), "canvas 500s (half the requests)", round(span, 1)),
        Fault(at(0.0, 0.5), "canvas throttling", round(span, 1)),
        Fault(at(0.0, 0.5), "canvas hangs", round(span / 2, 1)),
        Fault(at(0.0, 0.5), "canvas malformed JSON", round(span, 1)),
        Fault(at(0.0, 0.5), "canvas truncated pages", round(span, 1)),
        Fault(at(0.2, 0.9), "restart redis"),
        Fault(at(), "beat stopped", round(span * 1.5, 1)),
        Fault(at(), "second beat", round(span * 1.5, 1)),
    ]
    issuing = [Fault(0.0, "kill -9 worker mid-issuance")]
    issuing += [Fault(at(0.05, 0.4), "kill -9 worker") for _ in range(kills - 1)]
    issuing += [
        Fault(at(0.0, 0.3), "smtp refuses 421", round(span / 2, 1)),
        Fault(at(0.0, 0.3), "smtp refuses 451", round(span / 2, 1)),
        Fault(at(0.0, 0.3), "smtp drops one connection after DATA"),
        Fault(at(0.05, 0.35), "postgres restart", round(max(span / 2, 5.0), 1)),
        Fault(at(0.05, 0.35), "flush redis"),
        Fault(at(0.05, 0.35), "rolling restart of web and worker"),
    ]
    for fault in issuing:
        fault.phase = "issuance"
    faults += sorted(issuing, key=lambda f: f.at)
    return sorted(faults, key=lambda f: (f.phase == "issuance", f.at))


def _due(fault: Fault, now: float, issuance_started: float | None) -> bool:
    if fault.phase == "issuance":
        return issuance_started is not None and issuance_started + fault.at <= now
    return fault.at <= now


class Processes:
    """The run's own processes (started and stopped by it, never anything else)."""

    def __init__(self, workdir: Path, env: dict, queue: str, redis_port: int):
        self.workdir, self.env, self.queue, self.redis_port = workdir, env, queue, redis_port
        self.worker: subprocess.Popen | None = None
        self.beats: list[subprocess.Popen] = []
        self.redis: subprocess.Popen | None = None
        self.web: subprocess.Popen | None = None
        self.incarnation = 0
        self.worker_since = 0.0
        self.lock = threading.Lock()

    def _start(self, args: list[str], log_name: str, env: dict | None = None) -> subprocess.Popen:
        log = open(self.workdir / log_name, "ab")  # noqa: SIM115 (kept open for the process)
        return subprocess.Popen(
            args, cwd=ROOT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def redis_start(self) -> None:
        self.redis = self._start(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", str(self.workdir)],
            "redis.log",
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the run's redis-server did not start")

    def redis_restart(self) -> None:
        assert self.redis is not None
        self.redis.kill()  # everything queued is gone: no persistence
        self.redis.wait()
        self.redis_start()

    def redis_flush(self) -> None:
        """FLUSHDB of the run's Redis database (0): the queue, locks, nonces, marks and cache gone."""
        with socket.create_connection(("127.0.0.1", self.redis_port), timeout=5) as s:
            s.sendall(b"*1\r\n$7\r\nFLUSHDB\r\n")
            if not s.recv(16).startswith(b"+OK"):
                raise RuntimeError("FLUSHDB was refused")

    def web_start(self, port: int) -> None:
        self.web = self._start(
            [sys.executable, "-m", "gunicorn", "skillsforward.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--threads", "8", "--timeout", "120", "--graceful-timeout", "60",
             "--log-level", "warning"],
            "web.log",
        )  # fmt: skip

    def web_reload(self) -> None:
        """gunicorn's rolling restart: SIGHUP starts new workers (new code) and lets the old ones
        finish their requests within the graceful timeout."""
        assert self.web is not None
        os.kill(self.web.pid, signal.SIGHUP)

    def worker_roll(self) -> int:
        """A rolling restart of the worker, as a deploy does it: the new one starts first, then the
        old one gets SIGTERM (warm shutdown: it finishes its tasks; SIGKILL after 90 s, as a
        container's stop timeout would). Returns the old worker's exit status."""
        with self.lock:
            old = self.worker
            self.worker = None
        self.worker_start()
        if old is None or old.poll() is not None:
            return 0
        old.stopped = True  # type: ignore[attr-defined]
        os.killpg(old.pid, signal.SIGTERM)
        try:
            return old.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(old.pid, signal.SIGKILL)
            return old.wait()

    def worker_start(self) -> None:
        with self.lock:
            if self.worker is not None and self.worker.poll() is None:
                return  # one worker at a time (two restarts after two close kills)
            self.incarnation += 1
            self.worker_since = time.monotonic()
            self.worker = self._start(
                [sys.executable, "-m", "celery", "-A", "skillsforward", "worker", "--loglevel=INFO",
                 "--concurrency=2", "--pool=prefork", "-Q", self.queue, "--without-heartbeat", "--without-gossip",
                 "--without-mingle", f"--hostname=chaos{self.incarnation}-{self.queue}@%h"],
                "worker.log",
            )  # fmt: skip

    def supervise(self, note) -> None:
        """Start again a worker or beat that exited by itself, as docker-compose's `restart:
        unless-stopped` does (a Celery worker exits when it loses Redis at the wrong moment)."""
        with self.lock:
            worker = self.worker
        if (
            worker is not None
            and worker.poll() is not None
            and not getattr(worker, "killed", False)
            and not getattr(worker, "stopped", False)
        ):
            note(f"worker exited by itself (status {worker.returncode}): started again")
            self.worker_start()
        for beat in list(self.beats):
            if beat.poll() is not None and not getattr(beat, "stopped", False):
                self.beats.remove(beat)
                note(f"beat exited by itself (status {beat.returncode}): started again")
                self.beat_start()

    def worker_kill(self) -> None:
        with self.lock:
            if self.worker and self.worker.poll() is None:
                self.worker.killed = True  # type: ignore[attr-defined]
                os.killpg(self.worker.pid, signal.SIGKILL)  # main process and pool: nobody gives tasks back
                self.worker.wait()

    def beat_start(self) -> subprocess.Popen:
        n = len(self.beats) + 1
        proc = self._start(
            [sys.executable, "-m", "celery", "-A", "skillsforward", "beat", "--loglevel=INFO",
             "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
             f"--pidfile={self.workdir / f'beat{n}-{time.monotonic_ns()}.pid'}"],
            "beat.log",
        )  # fmt: skip
        self.beats.append(proc)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen | None, sig=signal.SIGTERM) -> None:
        if proc is None or proc.poll() is not None:
            return
        proc.stopped = True  # type: ignore[attr-defined]
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        for proc in [self.worker, *self.beats, self.web, self.redis]:
            self.stop(proc)


def postgres_outage(database_url: str, allow: bool) -> int:
    """A PostgreSQL restart, for this run's database only (the server is shared): new connections
    refused (ALLOW_CONNECTIONS false, as while a server restarts), every open one cut, whatever
    transaction it was in. Returns how many were cut. `allow=True` ends the outage."""
    from urllib.parse import urlsplit

    import psycopg2

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username,
                             password=parts.password, dbname="postgres")  # fmt: skip
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {"true" if allow else "false"}')
            if allow:
                return 0
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid()",
                [name],
            )
            return cursor.fetchone()[0]
    finally:
        admin.close()


class AwardsHeld:
    """Holds every award insert (a table lock in a transaction of its own, in a thread of its own)
    until released, so that the first batch is killed mid-issuance for certain: its learners leased
    and its documents signed, its awards not yet stored. Without it the kill raced the batch, and a
    batch that finished first left the kill waiting for one that never came. Reads go on (the lock
    is SHARE: it only conflicts with writes to the table); released after 120 s whatever happens."""

    def __init__(self, table: str):
        self.table = table
        self.held = threading.Event()
        self.done = threading.Event()

    def hold(self) -> None:
        threading.Thread(target=self._hold, daemon=True).start()
        if not self.held.wait(30):
            raise SystemExit("could not lock the award table to catch a batch mid-issuance")

    def release(self) -> None:
        self.done.set()

    def _hold(self) -> None:
        from django.db import Error, connection, transaction

        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f'LOCK TABLE "{self.table}" IN SHARE MODE')
                self.held.set()
                self.done.wait(120)
        except Error:  # the run's PostgreSQL outage cut this connection: the lock went with it
            pass
        finally:
            connection.close()


def db_retry(action, seconds: float = 300.0):
    """Runs `action` (the run's own database work), waiting out a database outage the run caused."""
    from django.db import Error, connection

    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except Error:
            connection.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def _get(url: str, accept: str = "application/ld+json") -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except OSError:
        return 0, b""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench chaos")
    parser.add_argument("--learners", type=int, default=1600)
    parser.add_argument("--assessments", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window", type=float, default=150.0, help="seconds over which the faults happen")
    parser.add_argument("--kills", type=int, default=3, help="how many times the worker is killed")
    parser.add_argument("--fast", action="store_true", help="short leases and retries, a 2 s reconciler (CI)")
    parser.add_argument("--settle", type=float, default=0, help="longest wait after the last fault (default: 6 min)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/sf_chaos")
    parser.add_argument("--redis-port", type=int, default=6390)
    parser.add_argument("--keep", action="store_true", help="keep the logs and work files")
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        print("redis-server is not installed: the chaos run needs one of its own", file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.path.insert(0, str(ROOT))
    from tests.badging.test_issuance_support import SMTPSink

    settle = args.settle or (120.0 if args.fast else 360.0)
    workdir = Path(tempfile.mkdtemp(prefix="sfb-chaos-"))
    queue = f"chaos-{args.seed}-{os.getpid()}"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    redis_url = f"redis://127.0.0.1:{args.redis_port}/0"
    schedule = fault_schedule(args.seed, args.window, args.kills)
    print(f"chaos run: {args.learners} learners, seed {args.seed}, faults over {args.window:.0f} s"
          f"{' (fast leases)' if args.fast else ''}; work files in {workdir}")  # fmt: skip
    print("fault schedule:")
    for fault in schedule:
        print(f"  {fault.describe()}")
    sys.stdout.flush()

    recreate_database(args.database_url)
    smtp = SMTPSink()
    smtp.__enter__()
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "CACHE_KEY_PREFIX": queue,
        "PUBLIC_BASE_URL": base_url,
        "EMAIL_URL": smtp.url,
        "EMAIL_TIMEOUT": "5",
        "SANDBOX_ENABLED": "true",
        # The run's Canvas is the sandbox on this machine: the outbound guard is told it may go there.
        "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_HTTPS": "false",
        "DJANGO_DEBUG": "false",
        "STATIC_MANIFEST": "false",
        "LOG_LEVEL": "WARNING",
        "CANVAS_HTTP_TIMEOUT": "20",  # a hanging Canvas costs a task 20 s per try, not 30
        "BADGING_SYNC_INTERVAL_MINUTES": "1",  # a sync that failed under the faults is tried again soon
        "DJANGO_SETTINGS_MODULE": "skillsforward.settings",
    }
    if args.fast:
        # Fewer Canvas retries: a sync meets the short Canvas faults and fails, visibly, as in the full run.
        # The recovery is the same path as in production, with its waits (leases, queued-stale time,
        # backoff, reconciler interval) scaled down to the run's short window.
        env.update(
            BADGING_LEASE_SECONDS="6",
            BADGING_QUEUED_STALE_AFTER_SECONDS="15",
            BADGING_RETRY_BASE_SECONDS="5",
            CANVAS_MAX_RETRIES="2",
        )
    os.environ.update(env)
    procs = Processes(workdir, env, queue, args.redis_port)
    try:
        return _run(args, procs, smtp, schedule, base_url, port, settle)
    finally:
        procs.stop_all()
        smtp.__exit__(None, None, None)
        if args.keep:
            print(f"(logs and work files in {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(args, procs: Processes, smtp, schedule: list[Fault], base_url: str, port: int, settle: float) -> int:
    import django

    procs.redis_start()
    django.setup()
    from django.core.management import call_command

    print("migrating a fresh database, seeding the sandbox course…", flush=True)
    call_command("migrate", verbosity=0)
    from django.db.models import Count
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from badging import models as bm
    from badging.services.sync.schedule import beat_schedule_write
    from lti.models import Course
    from sandbox.models import SandboxInstance
    from sandbox.seed.instances import sandbox_seed
    from sandbox.services.instance import faults_set
    from skillsforward.celery import app

    seeded = sandbox_seed(learners=args.learners, assessments=args.assessments, slug="chaos", base_url=base_url,
                          tool_url=base_url, backpack_demo=False)  # fmt: skip
    course = Course.objects.get(platform_id=seeded.platform_id, canvas_course_id=str(seeded.course.id))
    beat_schedule_write()
    if args.fast:
        every, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.filter(task="badging.reconcile").update(interval=every)
    instance = SandboxInstance.objects.get(slug="chaos")
    bucket = instance.throttle_bucket_size

    procs.web_start(port)
    procs.worker_start()
    procs.beat_start()
    deadline = time.monotonic() + 60
    while _get(f"{base_url}/health/", "application/json")[0] != 200:
        if time.monotonic() > deadline:
            raise SystemExit(f"the tool did not come up:\n{(procs.workdir / 'web.log').read_text()[-3000:]}")
        time.sleep(0.5)

    events: list[str] = []
    started = time.monotonic()

    def note(text: str) -> None:
        line = f"  t={time.monotonic() - started:6.1f}s  {text}"
        events.append(line)
        print(line, flush=True)

    def later(delay: float, action, text: str) -> None:
        def run():
            time.sleep(delay)
            db_retry(action)  # ending a fault must not be lost to the database outage
            note(text)

        threading.Thread(target=run, daemon=True).start()

    def kill_mid_issuance() -> None:
        from django.db import connections

        deadline = time.monotonic() + 120
        being_issued = bm.LearnerProgress.objects.filter(issue_status=bm.LearnerProgress.ISSUE_ISSUING)
        try:
            while not db_retry(being_issued.exists):
                if time.monotonic() > deadline:
                    note("no batch seen being issued within 120 s: killing anyway")
                    break
                time.sleep(0.05)
            issuing = db_retry(being_issued.count)
            procs.worker_kill()
            note(f"kill -9 worker mid-issuance ({issuing} learners being issued)")
        except Exception as exc:  # noted, and the run goes on: it must end with a verdict, not hang
            note(f"kill -9 worker mid-issuance failed: {type(exc).__name__}: {exc}")
        finally:
            awards_held.release()
            last_kill[0] = time.monotonic()
        time.sleep(2.0)
        procs.worker_start()
        note("worker started again")
        connections.close_all()

    last_kill = [0.0]
    windows: dict[str, list[tuple[float, float]]] = {}

    def instructor_sync(within: float) -> None:
        from django.db import connection

        from badging.services.sync.coordination import course_sync

        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                run = course_sync(course_id=course.pk, trigger="instructor", roster=True)
            except Exception as exc:  # the database may be down too
                note(f"instructor's Sync now: {type(exc).__name__}")
                run = None
            finally:
                connection.close()
            if run is not None:
                note(f"instructor's Sync now: {run.status} {run.error[:70]!r}")
                return
            time.sleep(0.5)  # another sync holds the course: ask again
        note("instructor's Sync now: another sync held the course all along")

    def rolling_restart() -> None:
        deadline = time.monotonic() + 60
        # Roll a worker that is up and working (one started a moment ago has no signal handlers yet).
        while procs.worker is None or procs.worker.poll() is not None or time.monotonic() - procs.worker_since < 8:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        procs.web_reload()
        note("web: gunicorn reloading its workers (SIGHUP)")
        status = procs.worker_roll()
        note(f"worker: the new one started, the old one stopped on SIGTERM (exit status {status})")

    def apply(fault: Fault) -> None:
        kind = fault.kind
        t = time.monotonic() - started
        windows.setdefault(kind, []).append((t, t + max(fault.duration, 1.0)))
        if kind == "postgres restart":
            cut = postgres_outage(args.database_url, allow=False)
            note(f"postgres restart: connections refused, {cut} open connections cut")
            later(fault.duration, lambda: postgres_outage(args.database_url, allow=True), "postgres accepts again")
            return
        if kind == "rolling restart of web and worker":
            threading.Thread(target=rolling_restart, daemon=True).start()
        if kind == "kill -9 worker mid-issuance":
            threading.Thread(target=kill_mid_issuance, daemon=True).start()
            return
        if kind == "kill -9 worker":
            procs.worker_kill()
            later(2.0, procs.worker_start, "worker started again")
        elif kind == "restart redis":
            procs.redis_restart()
        elif kind.startswith("smtp refuses"):
            smtp.refusing = kind.rsplit(" ", 1)[1]
            later(fault.duration, lambda: setattr(smtp, "refusing", ""), "smtp accepts again")
        elif kind.startswith("smtp drops"):
            smtp.drop = 1
        elif kind.startswith("canvas 500s"):
            faults_set(instance=instance, error_rate=0.5)
            later(fault.duration, lambda: faults_set(instance=instance, error_rate=0.0), "canvas answers again")
        elif kind == "canvas throttling":
            faults_set(instance=instance, bucket_size=60.0)
            later(fault.duration, lambda: faults_set(instance=instance, bucket_size=bucket), "canvas stops throttling")
        elif kind == "canvas malformed JSON":
            faults_set(instance=instance, malformed_rate=1.0)
            # An instructor's Sync now meanwhile (run here, as a worker would): it fails, and the
            # dashboard must say why while it lasts.
            threading.Thread(target=instructor_sync, args=(fault.duration,), daemon=True).start()
            later(fault.duration, lambda: faults_set(instance=instance, malformed_rate=0.0), "canvas JSON whole again")
        elif kind == "canvas truncated pages":
            faults_set(instance=instance, truncated_rate=0.5)
            later(fault.duration, lambda: faults_set(instance=instance, truncated_rate=0.0), "canvas pages whole again")
        elif kind == "flush redis":
            procs.redis_flush()
        elif kind == "canvas hangs":
            faults_set(instance=instance, latency_ms=25_000)
            later(fault.duration, lambda: faults_set(instance=instance, latency_ms=0), "canvas answers promptly")
        elif kind == "beat stopped":
            for beat in list(procs.beats):
                procs.stop(beat)
            procs.beats.clear()
            later(fault.duration, procs.beat_start, "beat started again")
        elif kind == "second beat":
            extra = procs.beat_start()
            later(fault.duration, lambda: procs.stop(extra), "second beat stopped")
        note(kind)

    # People at work while it faults: a learner's page, the dashboard, launches, /health/.
    from bench.chaos_probe import Prober, report
    from sandbox.models import SandboxEnrollment

    def launch_url(enrollment_type: str) -> str:
        user_id = (
            SandboxEnrollment.objects.filter(course=seeded.course, type=enrollment_type, workflow_state="active")
            .order_by("id")
            .values_list("user_id", flat=True)
            .first()
        )
        return f"{instance.root_url}/courses/{seeded.course.id}/external_tools/badges/launch?as={user_id}"

    prober = Prober(
        base_url=base_url, started=started, learner_launch=launch_url("StudentEnrollment"),
        teacher_launch=launch_url("TeacherEnrollment"), tool_urls=(instance.tool_login_url, instance.tool_launch_url),
        course=course, course_badge_id=bm.CourseBadge.objects.get(course=course).pk,
    )  # fmt: skip
    prober.start()

    # End of term: the instructor's course is synced; the sync queues every eligible learner. The
    # first batch is caught mid-issuance: its learners leased, their awards not yet stored.
    awards_held = AwardsHeld(bm.Award._meta.db_table)
    awards_held.hold()
    app.send_task("badging.course_sync", kwargs={"course_id": course.pk, "trigger": "bench", "full": True})
    note("course sync queued")
    last_fault_end = 0.0
    pending = list(schedule)
    last_report = 0.0
    done_at = None
    delivered_at: float | None = None
    issuance_started: float | None = None
    from django.db import Error as DatabaseError
    from django.db import connection

    while True:
        now = time.monotonic() - started
        try:
            procs.supervise(note)
            if issuance_started is None and (
                bm.LearnerProgress.objects.exclude(issue_status="").exists() or bm.Award.objects.exists()
            ):
                issuance_started = now
                note("the sync queued the first learners: issuance faults start")

            while any(_due(f, now, issuance_started) for f in pending):
                fault = next(f for f in pending if _due(f, now, issuance_started))
                pending.remove(fault)
                db_retry(lambda fault=fault: apply(fault))
                now = time.monotonic() - started
                last_fault_end = max(last_fault_end, now + fault.duration + (2.0 if "kill" in fault.kind else 0.0))
            if now - last_report >= 10:
                last_report = now
                print(
                    f"  t={now:6.1f}s  awards {bm.Award.objects.count()}, emails received {len(smtp.messages)}, "
                    f"deliveries sent {bm.Delivery.objects.filter(status=bm.Delivery.SENT).count()}, eligible "
                    f"waiting {bm.LearnerProgress.objects.filter(state=bm.LearnerProgress.ELIGIBLE).count()}",
                    flush=True,
                )
            last_fault_end = max(last_fault_end, last_kill[0] - started + 2.0)
            if delivered_at is None and not pending and _delivered(bm, course):
                delivered_at = now
            elif delivered_at is not None and not _delivered(bm, course):
                delivered_at = None  # a later fault (or sync) found more work
            if not pending and now >= last_fault_end and last_kill[0]:
                if _settled(bm, course):
                    done_at = now
                    break
                if now > last_fault_end + settle:
                    break
        except DatabaseError:  # the run's own PostgreSQL outage: wait it out
            connection.close()
        time.sleep(0.5)
    recovery = None if done_at is None else max(0.0, done_at - last_fault_end)
    if delivered_at is not None:
        after = max(0.0, delivered_at - last_fault_end)
        print(f"every eligible learner issued and emailed at t={delivered_at:.0f}s, {after:.0f} s after the last fault")

    time.sleep(3.0)  # an email still on its way would arrive now
    # Quiet now: no launches (a launch on stale data asks for a sync) and no beat (a sync every
    # minute); every sync still running must finish by itself, or it is stuck.
    prober.finish()
    for beat in list(procs.beats):
        procs.stop(beat)
    # Canvas's own answer, fault-free: a sync now finds no eligible learner the run missed. It runs
    # once no other sync holds the course (asked while one does, it is folded into that one).
    from badging.services.sync.coordination import course_sync

    faults_set(instance=instance, error_rate=0.0, latency_ms=0, bucket_size=bucket, malformed_rate=0.0,
               truncated_rate=0.0)  # fmt: skip
    running = bm.SyncRun.objects.filter(status=bm.SyncRun.STATUS_RUNNING)
    deadline = time.monotonic() + STUCK_SYNC_SECONDS
    check = None
    while check is None and time.monotonic() < deadline:
        if not running.exists():
            check = course_sync(course_id=course.pk, trigger="bench-check", full=True)
        if check is None:
            time.sleep(1.0)
    while running.exists() and time.monotonic() < deadline:  # a sync asked meanwhile finishes by itself
        time.sleep(1.0)
    print(f"check sync: {check.status if check else 'never ran: another sync held the course all along'}")
    # After recovery, once more: health, the dashboard (no failure left on it) and a launch.
    prober.probe_health()
    prober.probe_launch("teacher")
    prober.probe_dashboard()
    prober.email_reasons_cleared()
    seen = report(prober, windows)
    return _verify(args, bm, Count, course, smtp, base_url, recovery, last_fault_end, settle, seen)


STUCK_SYNC_SECONDS = 300  # far longer than a sync of the course takes here, even under load


def _delivered(bm, course) -> bool:
    """Nothing eligible waits and every email is sent (the sync may still be running)."""
    return (
        bm.LearnerProgress.objects.filter(course_badge__course=course).exists()
        and not bm.LearnerProgress.objects.filter(state=bm.LearnerProgress.ELIGIBLE).exists()
        and not bm.Delivery.objects.filter(kind=bm.Delivery.KIND_EMAIL).exclude(status=bm.Delivery.SENT).exists()
    )


def _settled(bm, course) -> bool:
    """The course's latest finished sync succeeded and no sync is stuck, nothing eligible waits,
    every email is sent. With a sync due every minute (the run's interval) a 5,000-learner course is
    almost always being synced: a running sync counts as stuck only past STUCK_SYNC_SECONDS."""
    from datetime import timedelta

    from django.utils import timezone

    latest = bm.SyncRun.objects.filter(course=course).exclude(status=bm.SyncRun.STATUS_RUNNING).order_by("-pk").first()
    return (
        latest is not None
        and latest.status == bm.SyncRun.STATUS_OK
        and not bm.SyncRun.objects.filter(
            status=bm.SyncRun.STATUS_RUNNING, started_at__lt=timezone.now() - timedelta(seconds=STUCK_SYNC_SECONDS)
        ).exists()
        and bm.LearnerProgress.objects.filter(course_badge__course=course).exists()
        and not bm.LearnerProgress.objects.filter(state=bm.LearnerProgress.ELIGIBLE).exists()
        and not bm.Delivery.objects.filter(kind=bm.Delivery.KIND_EMAIL).exclude(status=bm.Delivery.SENT).exists()
    )


def _verify(args, bm, Count, course, smtp, base_url, recovery, last_fault_end, settle, seen) -> int:
    failures: list[str] = list(seen)
    progress = bm.LearnerProgress.objects.filter(course_badge__course=course)
    eligible = set(progress.filter(state__in=[bm.LearnerProgress.ISSUED, bm.LearnerProgress.ELIGIBLE]).values_list(
        "learner_id", flat=True))  # fmt: skip
    waiting = progress.filter(state=bm.LearnerProgress.ELIGIBLE).count()
    live = list(bm.Award.objects.filter(revoked=False).values_list("learner_id", "public_id"))
    per_learner = Counter(learner for learner, _ in live)
    twice = [learner for learner, n in per_learner.items() if n > 1]
    missing = eligible - set(per_learner)
    strangers = set(per_learner) - eligible
    print(f"learners {progress.count()}, eligible {len(eligible)}, live awards {len(live)}")
    if waiting:
        failures.append(f"{waiting} eligible learners without an award (after the check sync)")
    if missing:
        failures.append(f"{len(missing)} eligible learners have no award")
    if twice:
        failures.append(f"{len(twice)} learners have more than one live award")
    if strangers:
        failures.append(f"{len(strangers)} awards went to learners who are not eligible")

    received = Counter()
    for message in smtp.messages:
        found = re.search(rb"^X-Badge-Award: (\S+)", message["data"], re.MULTILINE)
        received[found.group(1).decode() if found else "?"] += 1
    deliveries = {
        d["award__public_id"]: d
        for d in bm.Delivery.objects.filter(kind=bm.Delivery.KIND_EMAIL).values(
            "award__public_id", "status", "unconfirmed_sends"
        )
    }
    counted = sum(d["unconfirmed_sends"] for d in deliveries.values())
    extra = sum(max(0, n - 1) for n in received.values())
    never = [pid for _, pid in live if received[pid] == 0]
    uncounted = [pid for pid, n in received.items() if n > 1 + deliveries.get(pid, {}).get("unconfirmed_sends", 0)]
    unknown = [pid for pid in received if pid not in deliveries]
    print(f"emails received {len(smtp.messages)} for {len(received)} awards: {extra} extra, "
          f"{counted} unconfirmed sends counted")  # fmt: skip
    if never:
        failures.append(f"{len(never)} awards' emails never arrived")
    if uncounted:
        failures.append(f"{len(uncounted)} awards got more emails than sent once plus the counted unconfirmed sends")
    if unknown:
        failures.append(f"{len(unknown)} emails for no known award")

    broken = []
    for _, public_id in live:
        status, body = _get(f"{base_url}/public/assertions/{public_id}")
        try:
            ok = status == 200 and json.loads(body).get("id", "").endswith(public_id)
        except ValueError:
            ok = False
        if not ok:
            broken.append((public_id, status))
    print(f"public assertions fetched: {len(live) - len(broken)} of {len(live)}")
    if broken:
        failures.append(f"{len(broken)} public assertions do not fetch, e.g. {broken[:3]}")
    running = bm.SyncRun.objects.filter(status=bm.SyncRun.STATUS_RUNNING).count()
    runs = Counter(bm.SyncRun.objects.filter(course=course).values_list("status", flat=True))
    print(f"course syncs: {dict(runs)}")
    if running:
        failures.append(f"{running} course syncs still running")

    if recovery is None:
        failures.append(f"the work had not settled {settle:.0f} s after the last fault")
        print(f"time to recover after the last fault (t={last_fault_end:.0f}s): did not within {settle:.0f} s")
    else:
        print(f"time to recover after the last fault (t={last_fault_end:.0f}s; awards, emails and a "
              f"successful sync): {recovery:.1f} s")  # fmt: skip
    for failure in failures:
        print(f"FAIL: {failure}")
    print("PASS" if not failures else "FAIL", flush=True)
    return 1 if failures else 0
