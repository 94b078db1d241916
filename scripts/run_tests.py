"""`make test`: run the whole suite against PostgreSQL and Redis when they answer.

When one is unreachable the suite still runs (on SQLite, without the broker) and says which
tests were skipped and why; under CI=true an unreachable service is an error instead.
"""

import os
import socket
import subprocess
import sys
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def main() -> int:
    env = dict(os.environ)
    env.setdefault("DJANGO_DEBUG", "false")
    env.setdefault("SANDBOX_ENABLED", "true")
    notes = []
    services = (
        ("PostgreSQL", "DATABASE_URL", "postgres", 5432, "using SQLite; integration tests are skipped"),
        ("Redis", "REDIS_URL", "", 6379, "integration tests are skipped"),
    )
    for name, variable, scheme, port, fallback in services:
        url = env.get(variable, "")
        if not url or not url.startswith(scheme) or reachable(url, port):
            continue  # not configured (SQLite, no broker) or up
        if IN_CI:
            print(f"CI=true: {name} is not reachable at {url}", file=sys.stderr)
            return 2
        notes.append(f"{name} unreachable at {url}: {fallback}")
        env.pop(variable)
    for note in notes:
        print(f"make test: {note}")
    print(f"make test: database={env.get('DATABASE_URL', 'sqlite')} redis={env.get('REDIS_URL', 'none')}")
    result = subprocess.run([sys.executable, "-m", "pytest", *sys.argv[1:]], cwd=ROOT, env=env)
    for note in notes:
        print(f"make test: {note}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
