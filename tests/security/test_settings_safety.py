"""Production safety of the settings: safe defaults, and `check --deploy` catches the demo's key."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.core.checks import run_checks

ROOT = Path(__file__).resolve().parents[2]


def _deploy_ids(settings, **overrides):
    for name, value in overrides.items():
        setattr(settings, name, value)
    return {message.id for message in run_checks(include_deployment_checks=True)}


def test_deploy_check_refuses_the_demo_secret_key(settings):
    assert "skillsforward.E001" in _deploy_ids(settings, SECRET_KEY="insecure-demo-key-change-me-" + "x" * 32)
    assert "skillsforward.E001" not in _deploy_ids(settings, SECRET_KEY="k3y-" + "a1b2c3d4e5" * 6)


def _settings_in_a_clean_environment(**env) -> dict:
    code = (
        "import json, django; from django.conf import settings; django.setup(); print(json.dumps({k: "
        "getattr(settings, k) for k in ('DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
        "'SESSION_COOKIE_SAMESITE', 'SECURE_CONTENT_TYPE_NOSNIFF', 'SECURE_REFERRER_POLICY', "
        "'X_FRAME_OPTIONS', 'SECURE_HSTS_SECONDS', 'SANDBOX_ENABLED', 'CSRF_COOKIE_SAMESITE', "
        "'SECURE_PROXY_SSL_HEADER', 'TRUSTED_PROXY_COUNT') if hasattr(settings, k)}))"
    )
    clean = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "skillsforward.settings", **env}
    clean["SFB_VAR_DIR"] = env.get("SFB_VAR_DIR", "/tmp/sfb-settings-check")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_settings_are_safe_with_no_environment_at_all():
    values = _settings_in_a_clean_environment()
    assert values["DEBUG"] is False and values["SANDBOX_ENABLED"] is False
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    # The session and CSRF cookies serve the admin only, never inside Canvas's iframe.
    assert values["SESSION_COOKIE_SAMESITE"] == "Lax" and values["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] and values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_REFERRER_POLICY"] in ("same-origin", "strict-origin-when-cross-origin", "no-referrer")
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
