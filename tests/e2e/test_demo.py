"""`make demo` as a newcomer runs it: real processes (tool, sandbox on its own origin, worker, beat)
on a fresh SQLite database, one URL printed, the launch working inside the cross-origin iframe in
Chromium, and Ctrl-C stopping everything it started."""

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = [pytest.mark.browser]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def demo(tmp_path):
    tool_port, sandbox_port = _free_port(), _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_KEY_PREFIX", "CELERY_TASK_DEFAULT_QUEUE")
    }
    env.update(
        SFB_VAR_DIR=str(tmp_path / "var"),
        DEMO_TOOL_URL=f"http://localhost:{tool_port}",
        DEMO_SANDBOX_URL=f"http://localhost:{sandbox_port}",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    output, url = [], None
    deadline = time.monotonic() + 180
    while url is None and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        output.append(line)
        if line.strip().startswith(f"http://localhost:{sandbox_port}/"):
            url = line.strip()
    try:
        assert url, "the demo printed no URL:\n" + "".join(output)
        yield proc, url, (tool_port, sandbox_port), output
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_make_demo_launches_in_the_iframe_and_stops_on_ctrl_c(demo, page, screenshot, tmp_path):
    proc, url, ports, output = demo
    var_dir = tmp_path / "var"
    urls = [line for line in output if "http://" in line]
    assert urls == [f"    {url}\n"], "exactly one URL to open"
    page.goto(url)
    page.get_by_role("link", name="Launch Badges as Zoë").click()
    frame = page.frame_locator("iframe[name=tool_content]")
    expect(frame.get_by_role("heading", name="Badges in this course")).to_be_visible(timeout=20000)
    # The demo synced the course before printing the URL: Zoë's state is already known.
    expect(frame.get_by_text("Data Skills Practitioner").first).to_be_visible()
    assert page.frame(name="tool_content").url.startswith(f"http://localhost:{ports[0]}/l/")
    screenshot(page, "demo-launch-learner")

    page.goto(url)
    page.get_by_role("link", name="Launch Badges as Grace").click()
    expect(frame.get_by_role("heading", name="Badges in Data Skills for Everyone — Autumn <2026>")).to_be_visible(
        timeout=20000
    )
    screenshot(page, "demo-launch-teacher")

    # The teacher grades Sofía in the sandbox and enters her final grade: Live Events reach the
    # tool, the worker syncs and issues, and her next launch shows the badge.
    page.goto(url)
    page.get_by_role("link", name="Sofía Herrera", exact=True).click()
    assessments = page.locator("details.sbx-assignment")
    for i in range(4):
        assessment = assessments.nth(i)
        assessment.evaluate("element => element.open = true")
        criteria = assessment.locator("fieldset")
        for j in range(criteria.count()):
            criteria.nth(j).locator("input[type=radio]").first.check()
        assessment.get_by_role("button", name="Save grade").click()
        expect(page.locator(".sbx-flash")).to_contain_text("and posted the grade")
    page.get_by_label("Override score (%)").fill("95")
    page.get_by_role("button", name="Set override").click()
    expect(page.locator(".sbx-flash")).to_contain_text("Final grade override set to 95% for Sofía Herrera.")
    earned = False
    deadline = time.monotonic() + 60
    while not earned and time.monotonic() < deadline:
        page.goto(url)
        page.get_by_role("link", name="Launch Badges as Sofía").click()
        body = page.frame_locator("iframe[name=tool_content]").locator("body")
        expect(body).to_contain_text("Badges in this course", timeout=20000)
        earned = "You have earned this badge" in body.inner_text()
    assert earned, "Sofía's badge was not issued within a minute of her final grade"
    screenshot(page, "demo-badge-earned")
    # The award email goes to her primary Canvas address; the demo's console backend logs it.
    log = var_dir / "demo" / "worker.log"
    deadline = time.monotonic() + 30
    while "To: learner9@students.example.edu" not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "no award email to learner9@students.example.edu in the worker log"
        time.sleep(0.5)

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=40) == 0
    assert not any(_listening(port) for port in ports), "Ctrl-C left a web server running"
