"""`make test` (scripts/run_tests.py): says plainly what it skips when PostgreSQL or Redis is down,
and refuses to skip anything for that reason under CI=true."""

import os
import socket
import subprocess
import sys

from tests.conftest import ROOT


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


def _run(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "DATABASE_URL", "REDIS_URL")}
    clean.update(env)
    # A tiny selection (one integration test, one plain test) keeps the nested run short.
    selection = [
        "tests/lti/test_integration.py::test_launch_with_redis_state_and_postgres",
        "tests/test_foundation.py::test_encrypted_text_roundtrip",
        "-p",
        "no:cacheprovider",
    ]
    return subprocess.run(
        [sys.executable, "scripts/run_tests.py", *selection],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_unreachable_services_are_named_and_their_tests_skipped():
    port = _closed_port()
    result = _run(DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/x", REDIS_URL=f"redis://127.0.0.1:{port}/0")

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"PostgreSQL unreachable at postgres://postgres@127.0.0.1:{port}/x" in result.stdout
    assert f"Redis unreachable at redis://127.0.0.1:{port}/0" in result.stdout
    assert "SKIPPED [1] tests/lti/test_integration.py" in result.stdout
    assert "1 passed, 1 skipped" in result.stdout


def test_under_ci_an_unreachable_service_fails_the_run():
    port = _closed_port()
    result = _run(CI="true", DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/x")

    assert result.returncode != 0
    assert f"CI=true: PostgreSQL is not reachable at postgres://postgres@127.0.0.1:{port}/x" in result.stderr
    assert "passed" not in result.stdout
