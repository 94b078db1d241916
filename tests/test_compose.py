"""docker-compose.yml, exercised without Docker: each service's own command and health check, run
directly on this machine against a fresh PostgreSQL database and Redis, with production settings.

What is checked is what the file says: the one-shot migrate service sets the database up and writes
the beat schedule, web (gunicorn) passes its health check and serves the tool behind a TLS proxy,
the worker answers its `inspect ping` health check, and beat starts on the database scheduler.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg2
import pytest
import yaml
from django.conf import settings

from tests.conftest import ARTIFACTS, ROOT

pytestmark = pytest.mark.integration

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PUBLIC_HOST = "badges.example.edu"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def compose_database():
    """A fresh, empty PostgreSQL database (as the db service starts), dropped afterwards."""
    db = settings.DATABASES["default"]
    server = {
        "host": db["HOST"] or "127.0.0.1",
        "port": db["PORT"] or 5432,
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
    }
    name = f"sfb_compose_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dbname="postgres", **server)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    password = f":{server['password']}" if server["password"] else ""
    yield f"postgres://{server['user']}{password}@{server['host']}:{server['port']}/{name}", {"dbname": name, **server}
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


class Services:
    """The processes started for one test; all stopped (process group) at the end."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.procs: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, command: list[str]) -> tuple[subprocess.Popen, Path]:
        log = ARTIFACTS / f"compose-{name}-{uuid.uuid4().hex[:6]}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append((proc, log))
        return proc, log

    def wait_for_log(self, proc: subprocess.Popen, log: Path, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in log.read_text(errors="replace"):
                return
            if proc.poll() is not None:
                pytest.fail(f"{proc.args} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        pytest.fail(f"{proc.args} did not log {text!r} within {timeout}s:\n{log.read_text()[-3000:]}")

    def run(self, command, *, timeout: float = 120, shell: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout, shell=shell
        )

    def stop_all(self) -> None:
        for proc, _log in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _log in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def services(compose_database):
    database_url, _ = compose_database
    app = COMPOSE["x-app"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST", "SANDBOX", "STATIC"))}
    env.update({k: str(v) for k, v in app["environment"].items()})
    env.update(
        # What the operator's .env holds (see .env.example), with the addresses of this machine's stores.
        DATABASE_URL=database_url,
        REDIS_URL=settings.REDIS_URL,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="false",
        DJANGO_ALLOWED_HOSTS=PUBLIC_HOST,
        DJANGO_CSRF_TRUSTED_ORIGINS=f"https://{PUBLIC_HOST}",
        PUBLIC_BASE_URL=f"https://{PUBLIC_HOST}",
        SANDBOX_ENABLED="false",
        LOG_FORMAT="json",
        HOSTNAME=socket.gethostname(),  # set by Docker in a container; the worker health check uses it
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    # The operator may name the queue (CELERY_TASK_DEFAULT_QUEUE in .env): a name of our own here,
    # so the worker must follow it, and it starts empty as on a fresh deployment (tests that enqueued
    # without a worker of their own leave tasks on this Redis db's default queue).
    env["CELERY_TASK_DEFAULT_QUEUE"] = f"compose-{uuid.uuid4().hex[:10]}"
    running = Services(env)
    yield running
    running.stop_all()


def _health_check_command(service: dict, port: int):
    test = service["healthcheck"]["test"]
    if test[0] == "CMD-SHELL":
        return test[1].replace("$$", "$").replace("8000", str(port)), True
    assert test[0] == "CMD"
    return [part.replace(":8000/", f":{port}/") for part in test[1:]], False


def test_compose_services_start_and_pass_their_health_checks(services, compose_database):
    _, db = compose_database

    # migrate: the one-shot set-up, on an empty database.
    migrate = COMPOSE["services"]["migrate"]
    result = services.run(migrate["command"], timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    with psycopg2.connect(**db) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_celery_beat_periodictask WHERE enabled")
        assert cursor.fetchone()[0] > 0, "the beat schedule was written"

    # web, worker and beat start together once migrate is done, as compose starts them.
    # web: gunicorn as compose starts it (on a free port instead of 8000), then its health check.
    web = COMPOSE["services"]["web"]
    port = _free_port()
    command = [part.replace("0.0.0.0:8000", f"127.0.0.1:{port}") for part in web["command"]]
    assert command != web["command"], "the web command binds port 8000"
    web_proc, web_log = services.start("web", command)
    worker = COMPOSE["services"]["worker"]
    worker_proc, worker_log = services.start("worker", worker["command"])
    beat = COMPOSE["services"]["beat"]
    beat_proc, beat_log = services.start("beat", beat["command"])
    services.wait_for_log(web_proc, web_log, "Booting worker")
    check, shell = _health_check_command(web, port)
    deadline = time.monotonic() + 30
    while (result := services.run(check, shell=shell, timeout=30)).returncode != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert result.returncode == 0, f"web health check failed: {result.stderr[-2000:]}\n{web_log.read_text()[-2000:]}"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=10) as response:
        health = json.load(response)
    assert health["status"] == "ok" and health["broker"] == "redis", health
    assert all(check["ok"] for check in health["checks"].values()), health
    # Behind the TLS proxy the tool describes itself with its public https address.
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/lti/config.json", headers={"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        config = json.load(response)
        assert response.headers["Strict-Transport-Security"]
    assert config["oidc_initiation_url"] == f"https://{PUBLIC_HOST}/lti/login/"

    # worker: its health check pings it by name.
    services.wait_for_log(worker_proc, worker_log, "ready.")
    check, shell = _health_check_command(worker, port)
    result = services.run(check, shell=shell, timeout=60)
    assert result.returncode == 0, f"worker health check failed: {result.stdout[-1000:]} {result.stderr[-2000:]}"
    assert "pong" in result.stdout
    # It consumes the configured queue, and logs as LOG_FORMAT says (JSON lines, as web does). Asked
    # by name, the answer comes as soon as it replies (asking everyone waits out the whole timeout).
    node = f"celery@{services.env['HOSTNAME']}"
    result = services.run(
        ["celery", "-A", "skillsforward", "inspect", "active_queues", "-j", "-d", node, "--timeout", "10"], timeout=60
    )
    assert services.env["CELERY_TASK_DEFAULT_QUEUE"] in result.stdout, result.stdout[-2000:]
    (ready,) = [line for line in worker_log.read_text().splitlines() if line.endswith('ready."}')]
    assert json.loads(ready)["levelname"] == "INFO"

    # beat: starts on the database scheduler and stays up.
    services.wait_for_log(beat_proc, beat_log, "beat: Starting...")
    # Its first tick reads the schedule from the database (max interval 5 s): it must survive that,
    # 6 s from its start (it started with web and worker, so most of that time has passed already).
    (starting,) = [json.loads(line) for line in beat_log.read_text().splitlines() if "beat: Starting..." in line]
    # Logged in local time; the next whole second is no earlier than the start.
    started = time.mktime(time.strptime(starting["asctime"][:19], "%Y-%m-%d %H:%M:%S")) + 1
    while time.time() < started + 6 and beat_proc.poll() is None:
        time.sleep(0.5)
    assert beat_proc.poll() is None, beat_log.read_text()[-3000:]
    for log in (web_log, worker_log, beat_log):
        assert "Traceback" not in log.read_text(errors="replace"), log.read_text()[-3000:]
