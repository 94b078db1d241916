"""`make demo`: the whole product on one machine, against the local Canvas sandbox.

Migrates, seeds (idempotent), then starts the tool, the sandbox on its own origin, a Celery
worker and beat; prints one URL; Ctrl-C stops everything it started. SQLite and the filesystem
broker by default, Redis when REDIS_URL is set; emails go to the worker's log.

Plain http means no Secure cookies, so the demo sets DJANGO_HTTPS=false and puts the tool and
the sandbox on the same host name with different ports: different origins (the tool runs in a
cross-origin iframe, as in Canvas) but the same site, so the tool's SameSite=Lax cookies
(the OIDC state) still reach it inside the iframe. Override with DEMO_TOOL_URL/DEMO_SANDBOX_URL.
"""

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def var_dir() -> Path:
    return Path(os.environ.get("SFB_VAR_DIR", ROOT / "var"))


def log_dir() -> Path:
    folder = var_dir() / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def base_env(tool_url: str = "http://localhost:8000") -> dict[str, str]:
    env = dict(os.environ)
    # Award emails and issued badges link to the tool's public address: the demo's tool is at
    # tool_url (DEMO_TOOL_URL), whatever .env says; an explicit PUBLIC_BASE_URL still wins.
    env.setdefault("PUBLIC_BASE_URL", tool_url)
    env.setdefault("DJANGO_DEBUG", "false")
    env.setdefault("DJANGO_HTTPS", "false")
    env.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    env.setdefault("EMAIL_URL", "consolemail://")
    env.setdefault("LOG_LEVEL", "INFO")
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("DJANGO_SETTINGS_MODULE", "skillsforward.settings")
    # The demo's Canvas is the sandbox on this machine: the outbound guard must be told it may go there.
    sandbox_host = urlsplit(os.environ.get("DEMO_SANDBOX_URL", "http://localhost:8001")).hostname or "localhost"
    env.setdefault("OUTBOUND_ALLOWED_HOSTS", ",".join(sorted({"127.0.0.1", "localhost", sandbox_host})))
    return env


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"demo: `manage.py {' '.join(args)}` failed (exit {result.returncode})")
    return result.stdout


class Processes:
    """The demo's children, each in its own process group so that stopping them stops their workers."""

    def __init__(self) -> None:
        self.running: list[tuple[str, subprocess.Popen]] = []
        self.log_start: dict[str, int] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        path = log_dir() / f"{name}.log"
        self.log_start[name] = path.stat().st_size if path.exists() else 0
        log = open(path, "ab")  # noqa: SIM115  (the child keeps it open)
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append((name, proc))

    def exited(self) -> tuple[str, int] | None:
        for name, proc in self.running:
            if proc.poll() is not None:
                return name, proc.returncode
        return None

    def stop(self) -> None:
        for _, proc in self.running:
            if proc.poll() is None:
                proc.terminate()  # the leader (gunicorn master, celery main) stops its own children
        deadline = time.monotonic() + 15
        for _, proc in self.running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for _, proc in self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # any straggler left in its group


def wait_healthy(url: str, procs: Processes, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crashed = procs.exited()
        if crashed:
            raise SystemExit(f"demo: {crashed[0]} exited with {crashed[1]}; see {log_dir() / (crashed[0] + '.log')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  (a local http URL we built)
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"demo: {url} did not answer within {timeout:.0f}s")


def wait_logged(name: str, text: str, procs: Processes, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    log = log_dir() / f"{name}.log"
    start = procs.log_start.get(name, 0)
    while time.monotonic() < deadline:
        crashed = procs.exited()
        if crashed:
            raise SystemExit(f"demo: {crashed[0]} exited with {crashed[1]}; see {log_dir() / (crashed[0] + '.log')}")
        with open(log, "rb") as f:
            f.seek(start)
            if text.encode() in f.read():
                return
        time.sleep(0.3)
    raise SystemExit(f"demo: the {name} did not start within {timeout:.0f}s; see {log}")


def demo_admin_password(env: dict[str, str]) -> str:
    """A Django admin account for the demo (the tool's admin pages link to it); kept across runs."""
    path = log_dir() / "admin-password.txt"
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    result = subprocess.run(
        [PY, "manage.py", "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@localhost"],
        cwd=ROOT,
        env={**env, "DJANGO_SUPERUSER_PASSWORD": password},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        return ""  # an "admin" user made by hand already exists: leave it alone
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


def main() -> int:
    tool_url = os.environ.get("DEMO_TOOL_URL", "http://localhost:8000").rstrip("/")
    sandbox_url = os.environ.get("DEMO_SANDBOX_URL", "http://localhost:8001").rstrip("/")
    tool, sandbox = urlsplit(tool_url), urlsplit(sandbox_url)
    for label, variable, parts in (("tool", "DEMO_TOOL_URL", tool), ("sandbox", "DEMO_SANDBOX_URL", sandbox)):
        if not port_free("127.0.0.1", parts.port or 80):
            raise SystemExit(
                f"demo: port {parts.port} for the {label} is in use; stop what runs there, or pick another port:\n"
                f"  make demo {variable}={parts.scheme}://{parts.hostname}:<port>"
            )

    env = base_env(tool_url)
    print("demo: preparing the database and the sandbox course…", flush=True)
    setup_env = {**env, "SANDBOX_ENABLED": "true"}
    manage(setup_env, "migrate", "--noinput")
    manage(setup_env, "collectstatic", "--noinput")
    manage(setup_env, "badging_schedule")
    admin_password = demo_admin_password(setup_env)
    out = manage(
        setup_env,
        "sandbox_seed",
        "--base-url",
        sandbox_url,
        "--tool-url",
        tool_url,
        # Signed Live Events go to the tool's URL for the platform the seed registers.
        "--live-events",
        # Two more courses whose Canvas settings stop the badge, to see how the tool explains it.
        "--problem-courses",
        # A second Canvas registered the way hosted Canvas registers (Django admin › Platforms).
        "--hosted-example",
    )
    seeded = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    open_url = seeded["Open"]

    # The tool runs as in production (no sandbox app); only the sandbox process serves the fake Canvas.
    # Grading in the sandbox sends signed Live Events; the tool checks them against the sandbox's
    # Live Events key set (as against Instructure's for hosted Canvas).
    tool_env = {
        **env,
        "SANDBOX_ENABLED": "false",
        "LIVE_EVENTS_JWKS_URL": seeded["Live Events JWKS"],
    }
    sandbox_env = {**env, "SANDBOX_ENABLED": "true", "DJANGO_SETTINGS_MODULE": "sandbox.demo_settings"}
    gunicorn = [PY, "-m", "gunicorn", "skillsforward.wsgi", "--workers", "2", "--threads", "4", "--timeout", "120"]
    gunicorn += ["--access-logfile", "-", "--no-control-socket"]
    procs = Processes()

    def stop(signum, frame):
        raise KeyboardInterrupt

    # Explicit, because a shell that starts the demo in the background leaves SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        procs.start("tool", [*gunicorn, "--bind", f"127.0.0.1:{tool.port or 80}"], tool_env)
        procs.start("sandbox", [*gunicorn, "--bind", f"127.0.0.1:{sandbox.port or 80}"], sandbox_env)
        celery = [PY, "-m", "celery", "-A", "skillsforward"]
        procs.start("worker", [*celery, "worker", "--loglevel=INFO", "--concurrency=2"], tool_env)
        procs.start("beat", [*celery, "beat", "--loglevel=INFO"], tool_env)
        wait_healthy(f"http://127.0.0.1:{tool.port or 80}/health/", procs)
        wait_healthy(f"http://127.0.0.1:{sandbox.port or 80}/health/", procs)
        wait_logged("worker", "ready.", procs)
        # A first sync now, so the first launch already shows where every learner stands.
        synced = subprocess.run(
            [PY, "manage.py", "badging_sync", "--all", "--full"],
            cwd=ROOT,
            env=tool_env,
            capture_output=True,
            text=True,
        )
        if synced.returncode != 0:
            print(f"demo: the first sync failed (the tool will retry):\n{synced.stdout}{synced.stderr}", flush=True)
        print(
            f"\n  Skills Forward Badges demo is running. Open:\n\n    {open_url}\n\n"
            "  Launch the tool as any learner, the teacher or the admin from that page.\n"
            + (f"  The tool's Django admin: user admin, password {admin_password}\n" if admin_password else "")
            + f"  Logs (and the emails sent) are in {log_dir()}/. Press Ctrl-C to stop.\n",
            flush=True,
        )
        while True:
            crashed = procs.exited()
            if crashed:
                print(f"demo: {crashed[0]} exited with {crashed[1]}; see {log_dir() / (crashed[0] + '.log')}")
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\ndemo: stopping…", flush=True)
        return 0
    finally:
        procs.stop()


if __name__ == "__main__":
    sys.exit(main())
