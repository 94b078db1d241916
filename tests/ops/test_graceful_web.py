"""SIGTERM to gunicorn finishes the launches in flight: gunicorn stops accepting, lets each worker
finish its requests within --graceful-timeout, then exits (docs.gunicorn.org, "Signal Handling":
TERM is a graceful shutdown). A launch that is half-way (the tool's OIDC login done, the launch
POST being handled) when the signal arrives lands on the learner's page with a 200; the deploy's
stop timeout must exceed the graceful timeout (README Operations)."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from bench.chaos_probe import launch
from sandbox.models import SandboxEnrollment
from sandbox.seed.instances import sandbox_seed
from tests.conftest import ARTIFACTS, ROOT
from tests.test_chaos import _free_port

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _gunicorn(port: int, flag, log) -> subprocess.Popen:
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}",
        SANDBOX_ENABLED="true",
        OUTBOUND_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_HTTPS="false",
        DJANGO_DEBUG="false",
        STATIC_MANIFEST="false",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        CACHE_KEY_PREFIX=f"graceful-{port}",
        SLOW_LAUNCH_FLAG=str(flag),
        SLOW_LAUNCH_SECONDS="4",
        DJANGO_SETTINGS_MODULE="skillsforward.settings",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tests.ops.slow_wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "4", "--graceful-timeout", "30", "--log-level", "info"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def test_sigterm_to_gunicorn_finishes_the_launch_in_flight_then_exits(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    seeded = sandbox_seed(learners=3, assessments=1, slug="graceful", base_url=base, tool_url=base)
    learner = SandboxEnrollment.objects.filter(course=seeded.course, type="StudentEnrollment").first().user_id
    launch_url = f"{seeded.instance.root_url}/courses/{seeded.course.id}/external_tools/badges/launch?as={learner}"
    tools = (seeded.instance.tool_login_url, seeded.instance.tool_launch_url)
    flag = tmp_path / "slow-launch"
    log_path = ARTIFACTS / f"gunicorn-graceful-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        server = _gunicorn(port, flag, log)
    try:
        deadline = time.monotonic() + 60
        while b"Booting worker" not in log_path.read_bytes():
            assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        ok, url, _, _ = launch(launch_url, tools)  # a launch without the slow step first: the flow works
        assert ok and "/l/" in url, url

        flag.write_text("armed")
        result: dict = {}
        thread = threading.Thread(target=lambda: result.update(zip(("ok", "url", "session", "s"), launch(
            launch_url, tools))))  # fmt: skip
        thread.start()
        deadline = time.monotonic() + 30
        while flag.read_text() != "started":  # the launch POST is in the worker's hands
            assert time.monotonic() < deadline, "the launch never reached the tool"
            time.sleep(0.05)
        os.killpg(server.pid, signal.SIGTERM)
        thread.join(timeout=60)
        assert result.get("ok"), f"the launch in flight did not land: {result.get('url')}"
        assert "/l/" in result["url"]
        assert server.wait(timeout=40) == 0  # then gunicorn exits, cleanly
        log_text = log_path.read_text()
        assert "Handling signal: term" in log_text, log_text[-2000:]
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
