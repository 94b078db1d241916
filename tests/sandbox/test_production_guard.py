"""The sandbox never reaches production: with SANDBOX_ENABLED off its app is not installed and no
/sandbox/ URL resolves; with it on and DEBUG off, `manage.py check` warns (sandbox.W001).

Settings are read once at import, so each case runs in a fresh interpreter."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

PROBE = """
import django
django.setup()
from django.apps import apps
from django.urls import Resolver404, resolve
for path in ("/sandbox/", "/sandbox/demo/api/v1/courses/1", "/sandbox/demo/api/lti/security/jwks"):
    try:
        resolve(path)
        print("resolves", path)
    except Resolver404:
        pass
print("installed" if apps.is_installed("sandbox") else "not installed")
"""


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SANDBOX_ENABLED", "DJANGO_DEBUG")}
    clean.update(DJANGO_SETTINGS_MODULE="skillsforward.settings", **env)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def test_disabled_sandbox_has_no_app_and_no_urls():
    result = _run(["-c", PROBE], SANDBOX_ENABLED="false", DJANGO_DEBUG="false")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["not", "installed"], result.stdout


def test_enabled_sandbox_is_installed_and_served():
    result = _run(["-c", PROBE], SANDBOX_ENABLED="true", DJANGO_DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert "resolves /sandbox/demo/api/lti/security/jwks" in result.stdout
    assert result.stdout.strip().endswith("installed") and "not installed" not in result.stdout


def test_manage_check_warns_when_the_sandbox_is_on_without_debug():
    warned = _run(["manage.py", "check"], SANDBOX_ENABLED="true", DJANGO_DEBUG="false")
    assert "sandbox.W001" in warned.stdout + warned.stderr
    quiet = _run(["manage.py", "check"], SANDBOX_ENABLED="true", DJANGO_DEBUG="true")
    assert "sandbox.W001" not in quiet.stdout + quiet.stderr


def test_the_demo_sandbox_process_serves_its_pages(client, seeded, settings):
    """The demo's sandbox process runs with sandbox.root_urls: no tool URLs, no Django admin."""
    settings.ROOT_URLCONF = "sandbox.root_urls"
    response = client.get(f"/sandbox/{seeded.instance.slug}/courses/{seeded.course.id}/")
    assert response.status_code == 200
    assert "Launch Badges as" in response.content.decode()
    assert client.get("/health/").status_code == 200
