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
