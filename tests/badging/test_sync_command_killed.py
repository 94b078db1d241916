"""`badging_sync` killed with SIGKILL in the middle of a sync (an operator's Ctrl-\\, a cron job's
timeout, an OOM kill) and run again: the second run syncs the course, the interrupted run is
marked failed ("interrupted") instead of staying "running" on the dashboard, and a run attempted
while the dead one's course lock is still leased says so and asks for a later sync instead of
failing. Run twice in a row, the command syncs twice without error."""

import os
import signal
import subprocess
import sys

import pytest
from django.db import connection

from badging.models import SyncRun
from lti.models import Course
from sandbox.models import SandboxInstance
from sandbox.seed.instances import sandbox_seed
from tests.conftest import ROOT, wait_for

pytestmark = [pytest.mark.integration]

LEASE_SECONDS = 6  # the commands' course lock lease here (production: BADGING_LEASE_SECONDS, 30)


def _command(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "badging_sync", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip


def test_badging_sync_killed_and_run_again(transactional_db, live_server, celery_queue_name, settings):
    result = sandbox_seed(learners=6, assessments=2, slug="killcmd", base_url=live_server.url)
    course = Course.objects.get(platform_id=result.platform_id, canvas_course_id=str(result.course.id))
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=(
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}"
        ),
        CACHE_KEY_PREFIX=celery_queue_name,  # the commands share their course locks, no one else's
        CELERY_TASK_DEFAULT_QUEUE=celery_queue_name,
        OUTBOUND_ALLOWED_HOSTS="127.0.0.1,localhost",
        SANDBOX_ENABLED="true",
        # The dead run's course lock runs out in 6 s (not 30), the last Canvas in-flight place it
        # held 10 s after it was taken (CANVAS_HTTP_TIMEOUT + 5 s, not 35; answers take 1.5 s here).
        BADGING_LEASE_SECONDS=str(LEASE_SECONDS),
        CANVAS_HTTP_TIMEOUT="5",
        DJANGO_SETTINGS_MODULE="skillsforward.settings",
    )
    key = result.course_badge_key
    SandboxInstance.objects.filter(slug="killcmd").update(latency_ms=1500)  # every Canvas answer takes 1.5 s

    first = _command(env, "--course-badge", key)
    interrupted = wait_for(
        lambda: SyncRun.objects.filter(course=course, status=SyncRun.STATUS_RUNNING).first(),
        timeout=60,
        message="the command's sync to be running",
    )
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=15)
    SandboxInstance.objects.filter(slug="killcmd").update(latency_ms=0)

    outputs = []

    def rerun_syncs():
        again = _command(env, "--course-badge", key)
        out, _ = again.communicate(timeout=120)
        outputs.append((again.returncode, out))
        return again.returncode == 0 and ": ok," in out

    # While the dead run's lease lasts, a rerun says a sync is running; then it syncs.
    wait_for(rerun_syncs, timeout=LEASE_SECONDS + 90, interval=3, message="a rerun to sync the course")
    assert all(code == 0 for code, _ in outputs), outputs
    assert all(": ok," in out or "already running" in out for _, out in outputs), outputs
    interrupted.refresh_from_db()
    assert interrupted.status == SyncRun.STATUS_FAILED and "interrupted" in interrupted.error
    assert not SyncRun.objects.filter(course=course, status=SyncRun.STATUS_RUNNING).exists()

    # Run twice in a row: two good syncs, nothing else changes.
    twice = _command(env, "--course-badge", key)
    out, _ = twice.communicate(timeout=120)
    assert twice.returncode == 0 and ": ok," in out, out
    assert SyncRun.objects.filter(course=course, status=SyncRun.STATUS_OK).count() == 2
