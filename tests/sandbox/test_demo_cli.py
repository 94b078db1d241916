"""`make demo` when a port it needs is taken: it stops before touching anything and says how to
pick another port (the variables the README documents)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_busy_port_is_reported_with_the_variable_that_moves_it(tmp_path):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        free_port = free.getsockname()[1]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "SFB_VAR_DIR": str(tmp_path / "var")}
        env.update(DEMO_TOOL_URL=f"http://localhost:{free_port}", DEMO_SANDBOX_URL=f"http://localhost:{port}")
        result = subprocess.run(
            [sys.executable, "-m", "sandbox.demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode != 0
    assert f"port {port} for the sandbox is in use" in result.stderr
    assert "DEMO_SANDBOX_URL=http://localhost:" in result.stderr
    assert not (tmp_path / "var" / "db.sqlite3").exists()  # nothing was set up


def test_sandbox_seed_defaults_match_the_demo(db):
    """`sandbox_seed` run by hand (README) points at the demo's default origins: the tool on
    localhost:8000, the same site as the sandbox on localhost:8001, so the launch cookie survives."""
    from django.core.management import call_command

    from sandbox.models import SandboxInstance

    call_command("sandbox_seed", "--learners", "2", "--assessments", "1", "--instance", "byhand", "--no-register")
    instance = SandboxInstance.objects.get(slug="byhand")
    assert instance.base_url == "http://localhost:8001"
    assert instance.tool_login_url == "http://localhost:8000/lti/login/"
    assert instance.tool_launch_url == "http://localhost:8000/lti/launch/"


def test_the_demo_on_another_port_links_award_emails_to_that_port(tmp_path, monkeypatch):
    """`make demo DEMO_TOOL_URL=http://localhost:8400`: the tool and its worker get that URL as the
    public base, so an award email's links (built in the worker, with no request to take a host
    from) point at the tool the demo started, not at localhost:8000."""
    from sandbox import demo

    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
    monkeypatch.setenv("SFB_VAR_DIR", str(tmp_path / "var"))
    built = demo.base_env("http://localhost:8400")
    script = (
        "import django; django.setup()\n"
        "from badging.services.notifications import delivery_links\n"
        "print(delivery_links().assertion('abc'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=built, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("http://localhost:8400/public/"), result.stdout
    # An address given on purpose (a tunnel, a proxy) is kept.
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://demo.example.edu")
    assert demo.base_env("http://localhost:8400")["PUBLIC_BASE_URL"] == "https://demo.example.edu"
