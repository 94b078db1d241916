import pytest
from django.db import IntegrityError

from skillsforward.fields import decrypt_text, encrypt_text
from tests.factories import PlatformFactory


def test_encrypted_text_roundtrip():
    token = encrypt_text("s3cret")
    assert token.startswith("fernet:") and "s3cret" not in token
    assert decrypt_text(token) == "s3cret"


@pytest.mark.django_db
def test_platform_api_token_is_encrypted_at_rest(django_db_blocker):
    from django.db import connection

    platform = PlatformFactory(api_token="tok-123")
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_token FROM lti_platform WHERE id = %s", [platform.pk])
        stored = cursor.fetchone()[0]
    assert "tok-123" not in stored
    platform.refresh_from_db()
    assert platform.api_token == "tok-123"


@pytest.mark.django_db
def test_same_issuer_and_client_id_is_refused():
    PlatformFactory(issuer="https://canvas.instructure.com", client_id="1")
    with pytest.raises(IntegrityError):
        PlatformFactory(issuer="https://canvas.instructure.com", client_id="1")


@pytest.mark.django_db
def test_health_reports_each_dependency(client):
    response = client.get("/health/")
    body = response.json()
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert body["checks"]["database"]["ok"] is True
    assert response.status_code == (200 if body["status"] == "ok" else 503)


@pytest.mark.django_db
def test_health_answers_probes_whatever_host_they_use(client, settings):
    """Container and load-balancer probes address the process by IP, not by the public host name."""
    settings.ALLOWED_HOSTS = ["badges.example.edu"]

    probe = client.get("/health/", HTTP_HOST="10.0.0.7:8000")

    assert probe.status_code in (200, 503) and probe.json()["checks"]["database"]["ok"] is True
    assert probe["Cache-Control"].startswith("max-age=0")
    # Every other page still refuses a host that is not allowed.
    assert client.get("/lti/config.json", HTTP_HOST="10.0.0.7:8000").status_code == 400


@pytest.mark.django_db
def test_health_fails_when_the_cache_is_down(client, settings, caplog):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }

    response = client.get("/health/")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["cache"] == {"ok": False, "error": "ConnectionError", "ms": body["checks"]["cache"]["ms"]}
    assert body["checks"]["database"]["ok"] is True
    # Addresses stay out of the public answer and go to the log.
    assert "127.0.0.1" not in response.content.decode()
    assert any("cache failed" in r.getMessage() and "127.0.0.1:1" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_health_fails_when_the_broker_is_down(client, monkeypatch):
    from skillsforward.celery import app

    real_broker = app.connection_for_write().as_uri()
    with monkeypatch.context() as patch:
        # Only broker_url: broker_write_url is derived from it and must come back with it.
        patch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
        body = client.get("/health/").json()

    assert body["status"] == "fail"
    assert body["checks"]["broker"]["ok"] is False and body["checks"]["broker"]["error"]
    assert app.connection_for_write().as_uri() == real_broker  # later tests still reach the real broker


def test_json_logs_go_to_stdout():
    """LOG_FORMAT=json: one JSON object per line on stdout, as log collectors read containers."""
    import json
    import os
    import subprocess
    import sys

    script = "import django, logging; django.setup(); logging.getLogger('lti').warning('launch refused %s', 'x')"
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "skillsforward.settings"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "launch refused" in line]
    record = json.loads(line)
    assert record["message"] == "launch refused x" and record["levelname"] == "WARNING" and record["name"] == "lti"


def test_deploy_checks_want_shared_stores(settings):
    """A production deployment on the demo's per-machine stores is flagged by `check --deploy`."""
    from django.core.checks import run_checks

    file_cache = "django.core.cache.backends.filebased.FileBasedCache"
    settings.CACHES = {"default": {"BACKEND": file_cache, "LOCATION": "/tmp/sfb-check-cache"}}
    settings.CELERY_BROKER_URL = "filesystem://"
    ids = {m.id for m in run_checks(include_deployment_checks=True)}
    assert {"lti.W002", "skillsforward.W001"} <= ids
    assert not {"lti.W002", "skillsforward.W001"} & {m.id for m in run_checks()}  # only under --deploy

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}}
    settings.CELERY_BROKER_URL = "redis://x"
    ids = {m.id for m in run_checks(include_deployment_checks=True)}
    assert not {"lti.W002", "skillsforward.W001"} & ids


def test_celery_app_is_configured_for_safe_redelivery():
    """JSON only, a killed worker's task goes back to the queue, one task at a time, bounded run time."""
    from skillsforward.celery import app

    conf = app.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"] and conf.result_serializer == "json"
    assert conf.task_acks_late is True and conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert ours
    # Explicit names (house style): renaming a module must not orphan queued messages.
    derived = [name for name, task in ours.items() if name == f"{task.run.__module__}.{task.run.__name__}"]
    assert not derived, derived


def test_var_dir_comes_from_dotenv_and_folders_are_made_at_start_up(tmp_path):
    """SFB_VAR_DIR may be set in .env (settings read it after loading .env); reading the settings
    creates no folder, starting Django creates the ones the demo's stores need (filesystem broker,
    SQLite file)."""
    import os
    import subprocess
    import sys

    dotenv = tmp_path / "dotenv"
    var = tmp_path / "from-dotenv"
    dotenv.write_text(f"SFB_VAR_DIR={var}\n")
    # The settings read the file SFB_ENV_FILE names (the project's .env by default).
    script = (
        "import pathlib\n"
        "from django.conf import settings\n"
        "print(settings.VAR_DIR)\n"
        "assert not pathlib.Path(settings.VAR_DIR).exists(), 'settings created a folder'\n"
        "import django; django.setup()\n"
        "print(sorted(p.name for p in pathlib.Path(settings.VAR_DIR).rglob('*')))\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SFB_VAR_DIR", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL")
    }
    env["DJANGO_SETTINGS_MODULE"] = "skillsforward.settings"
    env["SFB_ENV_FILE"] = str(dotenv)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    var_dir, created = result.stdout.splitlines()[-2:]
    assert var_dir == str(var)
    assert created == "['broker', 'control', 'processed']"


def test_celery_logs_as_the_web_does_with_log_format_json():
    """The worker and beat set up logging through Celery (`app.log.setup`, as `celery worker`
    does): with LOG_FORMAT=json their records are JSON lines on stdout too, not Celery's own text."""
    import json
    import os
    import subprocess
    import sys

    script = (
        "import django, logging; django.setup()\n"
        "from skillsforward.celery import app\n"
        "app.log.setup(loglevel='INFO', redirect_stdouts=True)\n"
        "logging.getLogger('celery.worker.consumer').info('celery@host ready.')\n"
    )
    env = {**os.environ, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "DJANGO_SETTINGS_MODULE": "skillsforward.settings"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "ready." in line]
    record = json.loads(line)
    assert record["message"] == "celery@host ready." and record["name"] == "celery.worker.consumer"


def test_a_copy_of_env_example_is_a_settings_file_the_tool_starts_with():
    """.env.example says "copy to .env": every value in it, inline comments and all, must read as
    that value (a comment after an integer once stopped the tool at start-up)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    keep = {"PATH", "HOME", "LANG", "REQUESTS_CA_BUNDLE"}
    environment = {k: v for k, v in os.environ.items() if k in keep}
    environment |= {"SFB_ENV_FILE": str(root / ".env.example"), "DJANGO_SETTINGS_MODULE": "skillsforward.settings"}
    probe = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.TRUSTED_PROXY_COUNT, s.SECRET_KEY, s.ALLOWED_HOSTS, s.CELERY_DB_REUSE_MAX, s.DEBUG, s.VAR_DIR)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # SFB_VAR_DIR= is empty there: absent, so the default folder (not the working directory).
    assert result.stdout.split() == [
        "1",
        "change-me-to-50-random-characters",
        "['badges.example.edu']",
        "500",
        "False",
        str(root / "var"),
    ]
