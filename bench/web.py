"""Web benchmark: learner page, instructor dashboard and launch under load, on gunicorn + PostgreSQL + Redis.

    python -m bench web [--learners 2000] [--clients 100] [--duration 20] [--workers 4]
        [--learner-load wrk|locust]
        [--database-url postgres://postgres@127.0.0.1:5432/sfb_web_bench] [--redis-url redis://127.0.0.1:6379/5]

Drops and re-creates its own PostgreSQL database, migrates it and seeds one course of --learners
learners × 4 credentialing assessments (bench/dashboard.py's data: every state, awards for a third),
each learner with a launch of their own, and an instructor launch. Serves the tool with gunicorn
(production settings: DEBUG off, the TLS proxy's headers trusted, Redis cache), the platform's key
set from a local HTTP server (so the launch fetches and caches it as from Canvas), and drives it
from --clients concurrent clients: the learner page with wrk (bench/web_learner.lua, Debian package
`wrk`: far less CPU per request than Locust on the same cores), the dashboard and the launch
with Locust (bench/web_load.py; `--learner-load locust` drives the learner page with it too):

- learner page: each client is a learner's browser that views its page six times (the issue's
  300 views/s for 50 launches/s), then another learner's, at random among all of them; every
  answer must be that launch's page (its links carry the launch id, and it shows what only that
  learner's page shows), else it counts as a failure;
- at a fixed offered rate (the learner page at 300/s, on wrk's per-thread schedule of send times:
  see bench/web_learner.lua; with Locust each client paced: the dashboard at --dashboard-rate,
  the launch at 50/s): p50/p99 latency and the requests/s served;
- flat out (no pause between requests): the most requests/s the server gives.

Each run is preceded by a warm-up: with wrk inside the same run (its first --warmup seconds are load
but not figures, as wrk2's calibration: a new run starts every client at once on a launch's first
view, a burst no steady load has; wrk's own p50/p99 of the whole run are printed beside), with
Locust a run of its own. Prints the inputs, the machine (cores, load average at the
start), and per page p50/p99/requests/s, the server's CPU per request (gunicorn processes only) and
the load tool's CPU; exits 1 when a target is missed: learner page p99 ≤ 100 ms at ≥ 300/s, launch
(OIDC login + id_token POST) ≥ 50/s.

One file on purpose: one benchmark, read top to bottom (seed, start gunicorn, drive each page with
the load tool in bench/web_load.py, read CPU, print); each part exists only for this run.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.databases import recreate_database
from bench.issue import _cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
LEARNER_P99_MS = 100.0
LEARNER_RATE = 300.0
LAUNCH_RATE = 50.0
ISSUER = "https://canvas.instructure.com"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KeySet:
    """The platform's JWKS over HTTP on this machine; counts how often the tool fetches it."""

    def __init__(self, jwks: dict):
        self.fetches = 0
        body = json.dumps(jwks).encode()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def _platform_key():
    from cryptography.hazmat.primitives import serialization
    from jwcrypto.jwk import JWK

    key = JWK.generate(kty="RSA", size=2048, kid="bench-canvas-key-1")
    public = key.export_public(as_dict=True)
    public.update(alg="RS256", use="sig")
    pem = key.export_to_pem(private_key=True, password=None)
    serialization.load_pem_private_key(pem, password=None)  # a usable key, checked once here
    return key.kid, pem.decode(), {"keys": [public]}


def _seed(args, keyset_url: str, base_url: str) -> dict:
    """The course, a launch per learner, and the spec bench/web_load.py reads."""
    from django.urls import reverse
    from django.utils import timezone

    from badging.models import Award, CourseSync, LearnerProgress
    from badging.views.learner import share_form_token
    from bench.dashboard import _seed as seed_course
    from lti.launch import launch_cookie_name
    from lti.models import Course, LaunchContext, Person, Platform

    instructor, _, awards = seed_course(learners=args.learners, assessments=args.assessments)
    platform, course = instructor.platform, instructor.course
    api_base_url = "https://bench.canvas.test"
    Platform.objects.filter(pk=platform.pk).update(keyset_url=keyset_url, api_base_url=api_base_url)
    Course.objects.filter(pk=course.pk).update(lti_context_id="ctx-bench-7")
    # A course synced a minute ago, as during term (a stale one makes each page view ask for a sync).
    CourseSync.objects.create(course=course, last_synced_at=timezone.now(), allow_final_grade_override=True)
    people = list(Person.objects.filter(platform=platform).exclude(pk=instructor.person_id).order_by("pk"))
    for person in people:
        person.lti_sub = f"sub-{person.canvas_user_id}"
    Person.objects.bulk_update(people, ["lti_sub"], batch_size=2000)

    now = timezone.now()
    keys = {}
    contexts = []
    for person in people:
        key = secrets.token_urlsafe(32)
        context = LaunchContext(
            platform=platform,
            deployment=instructor.deployment,
            course=course,
            person=person,
            role=LaunchContext.ROLE_LEARNER,
            roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
            email=person.email,
            locale="en",
            expires_at=now + timezone.timedelta(hours=8),
            last_used_at=now,
            browser_key_hash=hashlib.sha256(key.encode()).hexdigest(),
            browser_bound=True,
        )
        keys[context.public_id] = key
        contexts.append(context)
    LaunchContext.objects.bulk_create(contexts, batch_size=2000)
    instructor_key = secrets.token_urlsafe(32)
    LaunchContext.objects.filter(pk=instructor.pk).update(
        browser_key_hash=hashlib.sha256(instructor_key.encode()).hexdigest(), browser_bound=True, last_used_at=now
    )
    # What proves a page is this learner's: a badge earned shows this launch's share-form token; a
    # badge still open shows where it will be sent (the learner's email); other states show neither.
    awarded = set(Award.objects.filter(course_badge__course=course, revoked=False).values_list("learner_id", flat=True))
    open_states = {LearnerProgress.NOT_STARTED, LearnerProgress.IN_PROGRESS, LearnerProgress.AWAITING_FINAL_GRADE}
    still_open = set(
        LearnerProgress.objects.filter(course_badge__course=course, state__in=open_states).values_list(
            "learner_id", flat=True
        )
    )

    def marker(context: LaunchContext) -> str:
        if context.person_id in awarded:
            return share_form_token(context)
        return context.person.email if context.person_id in still_open else ""

    learners = [
        {
            "id": c.public_id,
            "url": reverse("badging:launch_home", args=[c.public_id]),
            "cookie": launch_cookie_name(c.public_id),
            "key": keys[c.public_id],
            "marker": marker(c),
        }
        for c in contexts
    ]
    return {
        "awards": awards,
        "learners": learners,
        "instructors": [
            {
                "url": reverse("badging:instructor_dashboard", args=[instructor.public_id]),
                "cookie": launch_cookie_name(instructor.public_id),
                "key": instructor_key,
            }
        ],
        "people": [
            {"canvas_user_id": p.canvas_user_id, "sub": p.lti_sub, "name": p.name, "email": p.email} for p in people
        ],
        "platform": {
            "issuer": platform.issuer,
            "client_id": platform.client_id,
            "deployment_id": instructor.deployment.deployment_id,
            "context_id": "ctx-bench-7",
            "canvas_course_id": course.canvas_course_id,
            "course_name": course.name,
            "api_base_url": api_base_url,
            "target_link_uri": base_url + "/lti/launch/",
        },
    }


def _wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /health/")


def _run_locust(
    *,
    user: str,
    rate: float,
    clients: int,
    seconds: float,
    base_url: str,
    spec: Path,
    workdir: Path,
    gunicorn_pgid: int,
    database: str,
) -> dict:
    """One Locust run (headless); its figures per request name for the whole run, after all clients started."""
    prefix = workdir / f"{user}-{int(rate)}-{time.monotonic_ns()}"
    env = {
        **os.environ,
        "SFB_WEB_BENCH_SPEC": str(spec),
        "SFB_WEB_BENCH_RATE": str(rate / clients if rate else 0),
    }
    server_cpu = _cpu_seconds({gunicorn_pgid})
    database_cpu = _database_cpu(database)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "web_load.py"), user, "--headless",
         "-u", str(clients), "-r", str(clients), "-t", f"{max(1, round(seconds))}s", "--host", base_url,
         "--reset-stats",
         "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "10"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    output, _ = proc.communicate(timeout=seconds + 120)
    wall = time.monotonic() - started
    server_cpu = _cpu_seconds({gunicorn_pgid}) - server_cpu
    database_cpu = _cpu_delta(database_cpu, _database_cpu(database))
    load_cpu = _children_cpu()
    rows = {}
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            rows[row["Name"]] = row
    if not rows or "Aggregated" not in rows:
        raise SystemExit(f"locust gave no statistics:\n{output.decode()[-3000:]}")
    return {
        "figures": {name: _figures(row) for name, row in rows.items() if name != "Aggregated"},
        "requests": int(rows["Aggregated"]["Request Count"]),
        "server_cpu": server_cpu,
        "database_cpu": database_cpu,
        "wall": wall,
        "load_cpu": load_cpu,
    }


WRK_LINE = re.compile(r"^SFB (.*)$", re.M)


def _run_wrk(
    *,
    rate: float,
    clients: int,
    seconds: float,
    warmup: float,
    base_url: str,
    learners: Path,
    gunicorn_pgid: int,
    database: str,
) -> dict:
    """One wrk run of the learner page (bench/web_learner.lua: Locust's LearnerPage mix, paced at
    `rate` requests/s or flat out when 0): `warmup` seconds of load, then `seconds` timed; the same
    figures as _run_locust, of the timed part, and wrk's p50/p99 of the whole run (start included)."""
    threads = max(1, min(clients, os.cpu_count() or 1))  # wrk: one event loop per thread
    server_cpu = _cpu_seconds({gunicorn_pgid})
    database_cpu = _database_cpu(database)
    started = time.monotonic()
    proc = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{max(1, round(warmup + seconds))}s", "--timeout",
         "30s", "-s", str(ROOT / "bench" / "web_learner.lua"), base_url + "/",
         "--", str(learners), f"{rate:.3f}", str(clients), str(threads), f"{warmup:.3f}"],
        cwd=ROOT, capture_output=True, text=True, timeout=warmup + seconds + 120, start_new_session=True,
    )  # fmt: skip
    wall = time.monotonic() - started
    server_cpu = _cpu_seconds({gunicorn_pgid}) - server_cpu
    database_cpu = _cpu_delta(database_cpu, _database_cpu(database))
    load_cpu = _children_cpu()
    found = WRK_LINE.search(proc.stdout)
    if proc.returncode != 0 or found is None:
        raise SystemExit(f"wrk gave no statistics:\n{(proc.stdout + proc.stderr)[-3000:]}")
    got = {key: int(value) for key, value in (pair.split("=") for pair in found.group(1).split())}
    # A request cut by a socket error or timeout never reached the page's check: a failure too.
    failures = got["failures"] + got["connect"] + got["read"] + got["write"] + got["timeout"]
    figures = {
        "count": got["requests"],
        "failures": failures,
        "p50": got["p50_us"] / 1000,
        "p99": got["p99_us"] / 1000,
        "rps": got["requests"] / (got["duration_us"] / 1e6) if got["duration_us"] else 0.0,
        "run_p50": got["run_p50_us"] / 1000,
        "run_p99": got["run_p99_us"] / 1000,
    }
    return {
        "figures": {"learner page": figures} if got["requests"] else {},
        "requests": got["run_requests"],  # CPU is measured over the whole run
        "server_cpu": server_cpu,
        "database_cpu": database_cpu,
        "wall": wall,
        "load_cpu": load_cpu,
    }


def _database_cpu(url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving this run's database (Linux /proc)."""
    import psycopg2

    name = url.rsplit("/", 1)[-1]
    parts = url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = parts.rpartition("@")[2].partition(":")
    user = parts.partition("@")[0] if "@" in parts else None
    conn = psycopg2.connect(host=host, port=port or 5432, user=user, dbname="postgres")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [name])
            pids = [row[0] for row in cursor.fetchall()]
    finally:
        conn.close()
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # PostgreSQL on another host: its CPU is not counted
        seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def _cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    # A backend that ended during the run is not counted (connections live CONN_MAX_AGE seconds).
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


_last_children_cpu = [0.0]


def _children_cpu() -> float:
    """CPU seconds of the children waited for since the last call (the load tool's runs)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    spent, _last_children_cpu[0] = total - _last_children_cpu[0], total
    return spent


def _figures(row: dict) -> dict:
    return {
        "count": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "p50": float(row["50%"]),
        "p99": float(row["99%"]),
        "rps": float(row["Requests/s"]),
    }


def main(argv: list[str]) -> int:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(prog="python -m bench web")
    parser.add_argument("--learners", type=int, default=2000, help="learners in the course (each has a launch)")
    parser.add_argument("--assessments", type=int, default=4)
    parser.add_argument("--clients", type=int, default=100, help="concurrent clients of the load tool")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of warm-up before each page")
    parser.add_argument("--workers", type=int, default=2 * cores, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--dashboard-rate", type=float, default=10.0, help="offered dashboard requests/s")
    parser.add_argument("--pages", default="learner,dashboard,launch")
    parser.add_argument(
        "--learner-load",
        choices=["wrk", "locust"],
        default="wrk",
        help="load tool of the learner page (the dashboard and the launch always use Locust)",
    )
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/sfb_web_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--keep", action="store_true", help="keep the logs and work files")
    args = parser.parse_args(argv)
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    if "learner" in pages and args.learner_load == "wrk" and shutil.which("wrk") is None:
        raise SystemExit(
            "bench web drives the learner page with wrk: install it (Debian package wrk), or --learner-load locust"
        )

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_start = os.getloadavg()
    print(
        f"web benchmark: {args.learners} learners × {args.assessments} assessments, {args.clients} clients, "
        f"{args.duration:.0f} s per run after {args.warmup:.0f} s warm-up; gunicorn {args.workers} workers × "
        f"{args.threads} threads; PostgreSQL {args.database_url.rsplit('/', 1)[-1]}, Redis {args.redis_url}"
    )
    print(
        f"machine: {cores} cores, load average at start {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}"
        " (1, 5, 15 min); the load tool runs on the same cores"
    )
    sys.stdout.flush()

    workdir = Path(tempfile.mkdtemp(prefix="sfb-bench-web-"))
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    kid, private_pem, jwks = _platform_key()
    keyset = KeySet(jwks)
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "CELERY_BROKER_URL": args.redis_url,
        # No worker runs: a page asking for a background sync only queues it here.
        "CELERY_TASK_DEFAULT_QUEUE": f"bench-web-{os.getpid()}",
        "CACHE_KEY_PREFIX": f"bench-web-{os.getpid()}",
        "DJANGO_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "skillsforward.settings",
        # As in production behind the TLS proxy (docker-compose.yml): https via X-Forwarded-Proto.
        "TRUSTED_PROXY_COUNT": "1",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",  # the platform's key set is served on this machine
        "STATIC_MANIFEST": "false",
        "LOG_LEVEL": "WARNING",
        "SFB_VAR_DIR": str(workdir),
        "SANDBOX_ENABLED": "false",
    }
    os.environ.update(env)
    recreate_database(args.database_url)
    web = None
    try:
        import django

        django.setup()
        from django.core.cache import cache
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        cache.clear()  # this run's key prefix only (a fresh one)
        started = time.monotonic()
        spec = _seed(args, keyset.url, base_url)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        spec["platform"].update(kid=kid, private_key_pem=private_pem)
        print(
            f"seeded in {time.monotonic() - started:.1f} s: {len(spec['learners'])} learner launches, "
            f"{spec['awards']} awards"
        )
        connection.close()
        spec_path = workdir / "spec.json"
        spec_path.write_text(json.dumps(spec))

        log = workdir / "web.log"
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "skillsforward.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", str(args.workers), "--threads", str(args.threads), "--timeout", "60",
             "--backlog", "2048", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True,  # noqa: SIM115
        )  # fmt: skip
        _wait_until_up(base_url + "/health/", web, log)

        plans = {
            "learner": ("LearnerPage", ["learner page"], LEARNER_RATE),
            "dashboard": ("Dashboard", ["dashboard"], args.dashboard_rate),
            "launch": ("Launch", ["launch: OIDC login", "launch: id_token POST"], LAUNCH_RATE),
        }
        results: dict[tuple[str, str], dict] = {}
        print(
            f"\n{'page':<24}{'load':<18}{'requests':>9}{'fail':>6}{'p50 ms':>8}{'p99 ms':>8}{'req/s':>8}"
            f"{'CPU ms/req: web':>17}{'db':>6}"
        )
        learners_tsv = workdir / "learners.tsv"
        learners_tsv.write_text(
            "".join(f"{x['id']}\t{x['url']}\t{x['cookie']}\t{x['key']}\t{x['marker']}\n" for x in spec["learners"])
        )
        for page in pages:
            user, names, rate = plans[page]
            if page == "learner" and args.learner_load == "wrk":
                # Each wrk run has its own warm-up (see bench/web_learner.lua): none before it.
                def load(rate: float, seconds: float) -> dict:
                    return _run_wrk(
                        rate=rate, clients=args.clients, seconds=seconds, warmup=args.warmup, base_url=base_url,
                        learners=learners_tsv, gunicorn_pgid=web.pid, database=args.database_url,
                    )  # fmt: skip

            else:

                def load(rate: float, seconds: float, user: str = user) -> dict:
                    return _run_locust(
                        user=user, rate=rate, clients=args.clients, seconds=seconds, base_url=base_url,
                        spec=spec_path, workdir=workdir, gunicorn_pgid=web.pid, database=args.database_url,
                    )  # fmt: skip

                load(0, args.warmup)
            # Paced a little above the target, so that the rate served can meet it.
            for label, offered in ((f"paced at {rate:.0f}/s", rate * 1.05), ("flat out", 0)):
                result = load(offered, args.duration)
                requests_total = result["requests"] or 1
                for name in names:
                    f = result["figures"].get(name)
                    if f is None:
                        # Not one answer within the run (every client still waiting): a miss, not a crash.
                        print(f"{name:<24}{label:<18}  no request completed in {args.duration:.0f} s")
                        results[(name, label)] = {"count": 0, "failures": 1, "p50": 0.0, "p99": 0.0, "rps": 0.0}
                        continue
                    results[(name, label)] = f
                    print(
                        f"{name:<24}{label:<18}{f['count']:>9}{f['failures']:>6}{f['p50']:>8.0f}{f['p99']:>8.0f}"
                        f"{f['rps']:>8.0f}{result['server_cpu'] * 1000 / requests_total:>17.1f}"
                        f"{result['database_cpu'] * 1000 / requests_total:>6.1f}"
                    )
                    if "run_p99" in f:
                        print(
                            f"{'':<24}(wrk's own figures of the whole run, its first {args.warmup:.0f} s included: "
                            f"p50 {f['run_p50']:.0f} ms, p99 {f['run_p99']:.0f} ms)"
                        )
                # CPU per request (server, database, load tool) does not depend on what else runs
                # on the machine as much as latency does: it bounds what idle cores could serve.
                per_request = (result["server_cpu"] + result["database_cpu"] + result["load_cpu"]) / requests_total
                print(
                    f"{'':<24}(load tool CPU {result['load_cpu'] / result['wall'] * 100:.0f}% of a core; "
                    f"web + db + load tool {per_request * 1000:.1f} ms CPU/request: at most "
                    f"~{cores / per_request:.0f} requests/s on {cores} idle cores; load average now "
                    f"{os.getloadavg()[0]:.2f})"
                )
                sys.stdout.flush()
        print(f"\nplatform key set fetched {keyset.fetches} time(s) by the tool (cached in Redis afterwards)")

        ok = True
        for (name, label), f in results.items():
            if f["failures"]:
                what = f"{f['failures']} failed requests" if f["count"] else "none completed"
                print(f"FAILED: {name} ({label}): {what}")
                ok = False
        learner = results.get(("learner page", f"paced at {LEARNER_RATE:.0f}/s"))
        if learner is not None:
            met = learner["p99"] <= LEARNER_P99_MS and learner["rps"] >= LEARNER_RATE
            ok &= met
            print(
                f"learner page: p99 {learner['p99']:.0f} ms at {learner['rps']:.0f}/s: "
                f"{'within' if met else 'MISSES'} the target (p99 ≤ {LEARNER_P99_MS:.0f} ms at ≥ {LEARNER_RATE:.0f}/s)"
            )
        launch = results.get(("launch: id_token POST", "flat out"))
        if launch is not None:
            met = launch["rps"] >= LAUNCH_RATE
            ok &= met
            print(
                f"launch: {launch['rps']:.0f} launches/s flat out: "
                f"{'within' if met else 'MISSES'} the target (≥ {LAUNCH_RATE:.0f}/s)"
            )
        return 0 if ok else 1
    finally:
        if web is not None and web.poll() is None:
            os.killpg(web.pid, signal.SIGTERM)
            try:
                web.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(web.pid, signal.SIGKILL)
        keyset.close()
        if args.keep:
            print(f"(logs and work files in {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
