"""`make test`: run the whole suite against PostgreSQL and Redis when they answer.

When one is unreachable the suite still runs (on SQLite, without the broker) and says which
tests were skipped and why; under CI=true an unreachable service is an error instead.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.services import IN_CI, reachable  # noqa: E402  (skip or fail is decided there)


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
