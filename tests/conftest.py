"""Shared fixtures: real services (PostgreSQL, Redis, a Celery worker) and a real browser.

Integration tests (marker `integration`) need PostgreSQL as the database and Redis as the broker.
When those are unreachable they are skipped with the reason printed, except under CI=true,
where a missing service is a failure (decided in tests/services.py, the one place).
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import NamedTuple

import pytest
from django.conf import settings

from tests.services import IN_CI

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", ROOT / "test-artifacts"))
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _services_missing() -> str | None:
    """Why integration tests cannot run here, or None when PostgreSQL and Redis are both in use."""
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        return "DATABASE_URL is not PostgreSQL"
    if not settings.REDIS_URL or not settings.CELERY_BROKER_URL.startswith("redis"):
        return "REDIS_URL is not set"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis unreachable at {settings.REDIS_URL}: {exc}"
    return None


def pytest_collection_modifyitems(config, items):
    missing = _services_missing()
    chromium_missing = None if Path(CHROMIUM).exists() else f"{CHROMIUM} is not installed"
    wanted = {m for item in items for m in ("integration", "browser") if m in item.keywords}
    if IN_CI and missing and "integration" in wanted:
        raise pytest.UsageError(f"CI=true and integration tests were selected, but {missing}")
    if IN_CI and chromium_missing and "browser" in wanted:
        raise pytest.UsageError(f"CI=true and browser tests were selected, but {chromium_missing}")
    for item in items:
        if missing and "integration" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=f"integration: {missing}"))
        if chromium_missing and "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=f"browser: {chromium_missing}"))


# --- Celery -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def celery_queue_name():
    """A queue of our own, so that concurrent test runs on one Redis never take each other's tasks."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def celery_worker_process(transactional_db, celery_queue_name, settings):
    """A real `celery worker` process on the test database and the Redis broker.

    Tests that use it write with transactional_db so the worker sees committed rows.
    """

    settings.CELERY_TASK_DEFAULT_QUEUE = celery_queue_name
    # Locks and coalescing live in the cache: the worker and this process must share it.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": celery_queue_name,
        }
    }
    from skillsforward.celery import app

    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = celery_queue_name
    proc = celery_worker_start(celery_queue_name, hostname=f"test-{celery_queue_name}", log_name="worker")
    yield proc
    # Later tests must not inherit this queue: which queue a test enqueues on may not depend on order.
    app.conf.task_default_queue = previous_queue
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def celery_worker_start(queue: str, *, hostname: str, log_name: str, timeout: float = 30.0) -> subprocess.Popen:
    """A real `celery worker` process (its own session, so it can be killed whole) on the test
    database and `queue`, sharing this process's Redis cache prefix; returned once it is ready."""
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=(
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}"
        ),
        CELERY_TASK_DEFAULT_QUEUE=queue,
        CACHE_KEY_PREFIX=queue,
        DJANGO_SETTINGS_MODULE="skillsforward.settings",
    )
    log = ARTIFACTS / f"celery-{log_name}-{queue}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "skillsforward", "worker", "--loglevel=INFO", "--concurrency=2",
             "--pool=prefork", "-Q", queue, "--without-heartbeat", "--without-gossip", "--without-mingle",
             f"--hostname={hostname}@%h"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    while b"ready." not in log.read_bytes():
        if proc.poll() is not None:
            pytest.fail(f"celery worker exited early:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"celery worker did not become ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    proc.log_path = log  # type: ignore[attr-defined]
    return proc


def wait_for(predicate, timeout=30.0, interval=0.2, message="condition"):
    """Poll until predicate() is truthy (for work done by another process); fail after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {message}")


# --- Test doubles: the outside world ------------------------------------------------------------
#
# One name, one meaning, in every test area:
# - `rsps`: the HTTP mock (`responses`); any outbound request a test makes is answered by it or
#   refused. Doubles of other services (Badgr, JWKS, registration) register their answers here.
# - `canvas_api`: the Canvas REST API double (tests/canvas/fake.py) served through `rsps`: courses,
#   assignments, learners, grades; a module adds its own course by extending the fixture
#   (`def canvas_api(canvas_api): canvas_api.add_student(...)`).
# - `canvas` (tests/lti/platform.py): Canvas as the LTI platform that signs launches.
# - `enqueued`: the Celery tasks handed to the broker (no broker is contacted).
# Tasks that must really run use `celery_worker_process` instead of `enqueued`.


@pytest.fixture
def rsps():
    """The HTTP mock: every outbound request is answered by what the test registered, or refused."""
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def canvas_api(rsps):
    """The Canvas REST API double (tests/canvas/fake.py: paginated, filtered like Canvas, counting
    the requests it answers) at https://fake.instructure.com, served through `rsps`. Empty: the
    test, or a module's fixture of the same name, adds assignments and learners."""
    from tests.canvas.fake import FakeCanvas

    return FakeCanvas().install(rsps)


@pytest.fixture
def canvas(db):
    """Canvas as the LTI platform (tests/lti/platform.py), registered in the tool: it signs launches
    (`canvas.launch(client, roles=LEARNER)`) and seeds its key set into the tool's cache. Tests of
    the LTI layer have it serve the key set over HTTP instead (tests/lti/conftest.py)."""
    from tests.lti.platform import FakeCanvas

    platform = FakeCanvas()
    platform.register()
    return platform


class Task(NamedTuple):
    """One task handed to the broker: its registered name and arguments (`options` holds
    countdown, queue and the like)."""

    name: str
    args: list | tuple | None
    kwargs: dict | None
    options: dict


class Enqueued(list[Task]):
    """The tasks handed to the broker so far, in order."""

    @property
    def names(self) -> list[str]:
        return [task.name for task in self]

    @property
    def calls(self) -> list[tuple[str, list | tuple | None]]:
        """(name, args) of each task: what most assertions compare."""
        return [(task.name, task.args) for task in self]

    def named(self, name: str) -> list[Task]:
        return [task for task in self if task.name == name]


@pytest.fixture
def enqueued(monkeypatch) -> Enqueued:
    """Records the Celery tasks the code hands to the broker instead of sending them.

    Every enqueue in the product goes through `Celery.send_task` (by name, so a task moved between
    modules keeps its name): replacing that public method catches them all, whatever module calls
    it. Work enqueued with `transaction.on_commit` appears only once the test's transaction commits
    (`django_capture_on_commit_callbacks(execute=True)`)."""
    from celery.app.base import Celery

    tasks = Enqueued()

    def send_task(self, name, args=None, kwargs=None, **options):
        tasks.append(Task(name, args, kwargs, options))

    monkeypatch.setattr(Celery, "send_task", send_task)
    return tasks


def celery_idle(queue: str) -> bool:
    """True when `queue` holds no message and no worker of this test run (their node names carry the
    queue's name) has a task running or reserved: whatever was enqueued has had all its effects.
    Tests wait for this before asserting that something did NOT happen (no duplicate email), so
    the absence is observed after the work ended rather than after a guessed pause."""
    from amqp.exceptions import ChannelError

    from skillsforward.celery import app

    with app.connection_for_read() as conn:
        try:
            if conn.default_channel.queue_declare(queue, passive=True).message_count:
                return False
        except ChannelError as exc:  # Redis keeps no empty list: no queue is an empty queue
            if "NOT_FOUND" not in str(exc):
                raise
    inspect = app.control.inspect(timeout=1.0)
    ours = []
    for answer in (inspect.active(), inspect.reserved()):
        replies = {node: tasks for node, tasks in (answer or {}).items() if queue in node}
        if not replies:  # no worker answered: nothing is known, so nothing is idle
            return False
        ours.extend(task for tasks in replies.values() for task in tasks)
    return not ours


# --- Browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def screenshot(request):
    """screenshot(page, "name"): keeps a full-page PNG under test-artifacts/screenshots/."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture(autouse=True)
def _isolated_cache(settings, tmp_path):
    """Each test gets an empty cache of its own (LTI nonces, locks), unless it asks for Redis."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }
    yield


# A public address (never contacted: `responses` answers the requests made to these hosts).
FAKE_PUBLIC_ADDRESS = "93.184.215.14"


@pytest.fixture(autouse=True)
def _default_language():
    """A launch activates its user's Canvas language for the rest of the thread (as LocaleMiddleware
    does for every request); code a test calls directly afterwards must not inherit it."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fake_public_dns(monkeypatch):
    """The tests' Canvas hosts (uni.canvas.test, sso.canvaslms.com, ...) do not resolve on a machine
    without DNS: the outbound guard sees them at a public address. Names under `.invalid` (RFC 2606)
    still do not resolve, and real names keep their real addresses (localhost is loopback).
    Replaces the DNS lookup itself (socket.getaddrinfo), the outside world's edge."""
    import socket

    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            return real(host, port, *args, **kwargs)
        except socket.gaierror:
            if not isinstance(host, str) or host.endswith(".invalid"):
                raise
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (FAKE_PUBLIC_ADDRESS, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def pytest_sessionstart(session):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _flush_by_delete()


def _flush_by_delete() -> None:
    """Tests that commit (transactional_db, live servers, real workers) empty every table after
    themselves. Django does it with one TRUNCATE of all 59 tables, which on PostgreSQL replaces each
    table's and index's files: about a second each time on this machine, for tables holding a few
    rows. DELETE FROM each table in one transaction (the foreign keys are deferred to its commit)
    leaves the same empty tables in a fifth of that. Test runs only: `manage.py flush` is untouched."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade or not tables:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return ["SET CONSTRAINTS ALL DEFERRED;", *(f"DELETE FROM {self.quote_name(table)};" for table in tables)]

    DatabaseOperations.sql_flush = sql_flush
