"""What people see while the chaos run faults: a small thread pool that, every second, asks the
running tool for /health/, a learner's page and the instructor dashboard, does a whole LTI launch
through the sandbox Canvas every few seconds, and checks that the failure reasons the dashboard's
selectors hold (a failed sync, an email the mail server refused) are on the dashboard's HTML.

The launches are real: the sandbox's "Launch as" form, the tool's OIDC login, the sandbox's
authorization answer (a signed id_token) and the tool's launch, over HTTP, with a cookie jar."""

from __future__ import annotations

import html
import re
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

FORM = re.compile(r'<form[^>]*\bmethod="post"[^>]*\baction="([^"]+)"[^>]*>(.*?)</form>', re.S | re.I)
HIDDEN = re.compile(r'<input[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"', re.I)
# templates/badging/instructor/_sync.html: the failed sync's reason, in instructors' words.
SYNC_NOTICE = re.compile(r"What went wrong:</strong>\s*(.*?)</p>", re.S)
TIMEOUT = 30


def launch(launch_url: str, tool_urls: tuple[str, ...]) -> tuple[bool, str, requests.Session, float]:
    """One LTI launch as Canvas's browser does it: posts each auto-submitted form addressed to the
    tool (login, then launch) and follows redirects. (ok, landing URL, the session, seconds)."""
    started = time.perf_counter()
    session = requests.Session()
    try:
        response = session.get(launch_url, timeout=TIMEOUT)
        for _ in range(4):
            found = FORM.search(response.text) if response.status_code == 200 else None
            if not found or html.unescape(found.group(1)) not in tool_urls:
                break
            fields = {html.unescape(k): html.unescape(v) for k, v in HIDDEN.findall(found.group(2))}
            response = session.post(html.unescape(found.group(1)), data=fields, timeout=TIMEOUT)
        ok = response.status_code == 200 and ("/l/" in response.url or "/instructor/" in response.url)
        return ok, response.url, session, time.perf_counter() - started
    except requests.RequestException as exc:
        return False, f"{type(exc).__name__}", session, time.perf_counter() - started


@dataclass
class Samples:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    health: list[tuple[float, int, tuple[str, ...]]] = field(default_factory=list)
    launches: list[tuple[float, bool, str]] = field(default_factory=list)
    # (t, the selector's plain reason (before and after the page was read), what the page showed)
    sync_reasons: list[tuple[float, str, str, str]] = field(default_factory=list)
    # (t, the delivery's last error, whether the learner's row on the dashboard showed it)
    email_reasons: list[tuple[float, str, bool]] = field(default_factory=list)
    email_learners: dict[str, str] = field(default_factory=dict)  # name → the reason once shown
    email_still_shown: list[str] = field(default_factory=list)  # names whose reason stayed at the end

    def add(self, kind: str, t: float, seconds: float, status: int | str) -> None:
        if status == 200:
            self.latencies.setdefault(kind, []).append(seconds)
        else:
            self.errors.setdefault(kind, []).append((t, str(status)))


class Prober:
    def __init__(self, *, base_url: str, started: float, learner_launch: str, teacher_launch: str,
                 tool_urls: tuple[str, ...], course, course_badge_id: int):  # fmt: skip
        self.base_url, self.started = base_url, started
        self.learner_launch, self.teacher_launch, self.tool_urls = learner_launch, teacher_launch, tool_urls
        self.course, self.course_badge_id = course, course_badge_id
        self.samples = Samples()
        self.stop = threading.Event()
        self.learner: tuple[str, requests.Session] | None = None
        self.teacher: tuple[str, requests.Session] | None = None
        self._thread = threading.Thread(target=self._run, name="chaos-prober", daemon=True)

    def now(self) -> float:
        return time.monotonic() - self.started

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        self.stop.set()
        self._thread.join(timeout=120)

    # --- the probes ---

    def _timed_get(self, kind: str, session: requests.Session, url: str) -> requests.Response | None:
        t, started = self.now(), time.perf_counter()
        try:
            response = session.get(url, timeout=TIMEOUT)
        except requests.RequestException as exc:
            self.samples.add(kind, t, time.perf_counter() - started, type(exc).__name__)
            return None
        self.samples.add(kind, t, time.perf_counter() - started, response.status_code)
        return response

    def probe_health(self) -> None:
        t = self.now()
        try:
            response = requests.get(f"{self.base_url}/health/", timeout=TIMEOUT)
            checks = response.json().get("checks", {})
            failing = tuple(sorted(name for name, check in checks.items() if not check.get("ok")))
            self.samples.health.append((t, response.status_code, failing))
        except (requests.RequestException, ValueError) as exc:
            self.samples.health.append((t, 0, (type(exc).__name__,)))

    def probe_launch(self, who: str) -> None:
        ok, url, session, seconds = launch(self.learner_launch if who == "learner" else self.teacher_launch,
                                           self.tool_urls)  # fmt: skip
        self.samples.launches.append((self.now(), ok, "" if ok else url))
        if ok:
            self.samples.latencies.setdefault("launch", []).append(seconds)
            if who == "learner":
                self.learner = (url, session)
            else:
                self.teacher = (url, session)

    def probe_learner_page(self) -> None:
        if self.learner:
            self._timed_get("learner page", self.learner[1], self.learner[0])

    def probe_dashboard(self) -> None:
        """The dashboard's sync notice against the selector behind it, read before and after."""
        if not self.teacher:
            return
        before = self._sync_reason()
        t = self.now()
        response = self._timed_get("dashboard", self.teacher[1], self.teacher[0])
        after = self._sync_reason()
        if response is None or response.status_code != 200 or before is None or after is None:
            return
        found = SYNC_NOTICE.search(response.text)
        shown = html.unescape(re.sub(r"\s+", " ", found.group(1))).strip() if found else ""
        self.samples.sync_reasons.append((t, before, after, shown))

    def probe_email_reason(self) -> None:
        """A learner whose email the mail server refused: the dashboard's row for them says why."""
        if not self.teacher:
            return
        picked = self._email_failure()
        if not picked:
            return
        name, error = picked
        t = self.now()
        url = f"{self.teacher[0]}?badge={self.course_badge_id}&q={requests.utils.quote(name)}"
        response = self._timed_get("dashboard search", self.teacher[1], url)
        if response is not None and response.status_code == 200:
            shown = error in html.unescape(response.text)
            self.samples.email_reasons.append((t, error, shown))
            if shown:
                self.samples.email_learners[name] = error

    def email_reasons_cleared(self) -> None:
        """After recovery: the learners whose refused email the dashboard showed no longer show it."""
        if not self.teacher:
            return
        for name, error in list(self.samples.email_learners.items())[:5]:
            url = f"{self.teacher[0]}?badge={self.course_badge_id}&q={requests.utils.quote(name)}"
            response = self._timed_get("dashboard search", self.teacher[1], url)
            if response is None or response.status_code != 200 or error in html.unescape(response.text):
                self.samples.email_still_shown.append(name)

    def _sync_reason(self) -> str | None:
        from django.db import Error, connection

        from badging.selectors.dashboard.sync_status import sync_status

        try:
            status = sync_status(course=self.course)
            return status.error_plain if status.failed else ""
        except Error:  # the database is down (a fault): no sample
            connection.close()
            return None

    def _email_failure(self) -> tuple[str, str] | None:
        from django.db import Error, connection

        from badging.models import Delivery

        try:
            row = (
                Delivery.objects.filter(kind=Delivery.KIND_EMAIL, award__course_badge_id=self.course_badge_id)
                .exclude(status=Delivery.SENT)
                .exclude(last_error="")
                .values_list("award__learner__name", "last_error")
                .first()
            )
        except Error:
            connection.close()
            return None
        return row

    def _run(self) -> None:
        rounds = 0
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="chaos-probe") as pool:
            while not self.stop.is_set():
                began = time.monotonic()
                jobs = [self.probe_health, self.probe_learner_page, self.probe_dashboard]
                if rounds % 8 == 0 or self.learner is None:
                    jobs.append(lambda: self.probe_launch("learner"))
                if self.teacher is None or rounds % 16 == 8:
                    jobs.append(lambda: self.probe_launch("teacher"))
                if rounds % 3 == 1:
                    jobs.append(self.probe_email_reason)
                for future in [pool.submit(job) for job in jobs]:
                    try:
                        future.result(timeout=TIMEOUT * 4)
                    except Exception as exc:  # a probe's own bug must not stop the others
                        self.samples.errors.setdefault("probe", []).append((self.now(), repr(exc)))
                rounds += 1
                self.stop.wait(max(0.0, 1.0 - (time.monotonic() - began)))


def _pct(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(prober: Prober, windows: dict[str, list[tuple[float, float]]]) -> list[str]:
    """Prints what the probes saw; returns the failures. `windows`: fault kind → (start, end) times."""
    s = prober.samples
    failures: list[str] = []

    def inside(t: float, kinds: tuple[str, ...], slack: float = 3.0) -> bool:
        return any(a - slack <= t <= b + slack for k in kinds for a, b in windows.get(k, []))

    print("while faulting (probes every second from a pool of 4 threads):")
    for kind in ("learner page", "dashboard", "dashboard search", "launch"):
        values = sorted(v * 1000 for v in s.latencies.get(kind, []))
        errors = s.errors.get(kind, [])
        if values:
            print(f"  {kind:<17} {len(values):4d} answered 200: p50 {_pct(values, 50):6.0f} ms, p99 "
                  f"{_pct(values, 99):6.0f} ms, max {values[-1]:6.0f} ms; {len(errors)} not 200"
                  + (f" (at t={', '.join(f'{t:.0f}s {e}' for t, e in errors[:6])})" if errors else ""))  # fmt: skip
        elif kind != "dashboard search":
            failures.append(f"the {kind} never answered 200 while faulting")
    # A launch needs the database and the cache: outside their outages, every launch must work.
    outages = ("postgres restart", "restart redis")
    launches_out = [(t, ok, why) for t, ok, why in s.launches if not inside(t, outages, slack=8.0)]
    bad = [(t, why) for t, ok, why in launches_out if not ok]
    print(f"  launches: {sum(ok for _, ok, _ in s.launches)} of {len(s.launches)} worked; outside the database "
          f"and Redis outages {len(launches_out) - len(bad)} of {len(launches_out)}")  # fmt: skip
    if bad:
        failures.append(f"{len(bad)} launches failed outside the outages, e.g. {bad[:3]}")
    if not s.launches or not s.launches[-1][1]:
        failures.append("the last launch did not work")

    down = [(t, failing) for t, status, failing in s.health if status != 200]
    by_check: dict[str, list[float]] = {}
    for t, failing in down:
        for name in failing or ("?",):
            by_check.setdefault(name, []).append(t)
    print(f"  /health/: {len(s.health) - len(down)} of {len(s.health)} answers 200; 503 naming "
          + (", ".join(f"{name} {len(ts)}× (t={min(ts):.0f}-{max(ts):.0f}s)" for name, ts in by_check.items())
             or "nothing"))  # fmt: skip
    for a, b in windows.get("postgres restart", []):
        during = [(round(t), status) for t, status, _ in s.health if a <= t <= b + 2]
        print(f"  /health/ while PostgreSQL was down (t={a:.0f}-{b:.0f}s): {during}")
        if not any(a <= t <= b + 2 for t in by_check.get("database", [])):
            failures.append(f"/health/ did not report the database while PostgreSQL was down (t={a:.0f}-{b:.0f}s)")
    if not s.health or s.health[-1][1] != 200:
        failures.append("/health/ had not recovered at the end")

    shown_ok = [x for x in s.sync_reasons if x[1] and x[3] == x[1]]
    hidden = [(t, b) for t, b, after, shown in s.sync_reasons if b and b == after and shown != b]
    reasons: dict[str, int] = {}
    for *_, shown in shown_ok:
        reasons[shown[:60]] = reasons.get(shown[:60], 0) + 1
    print(f"  dashboard, failed sync: {len(shown_ok)} samples showed the reason"
          + (": " + "; ".join(f'"{r}…" {n}×' for r, n in reasons.items()) if reasons else "")
          + f"; {len(hidden)} did not")  # fmt: skip
    if hidden:
        failures.append(f"{len(hidden)} dashboard samples hid a failed sync's reason, e.g. {hidden[:2]}")
    if s.sync_reasons and s.sync_reasons[-1][3]:
        failures.append(f"the dashboard still shows a sync failure at the end: {s.sync_reasons[-1][3]!r}")
    email_shown = [e for _, e, ok in s.email_reasons if ok]
    email_hidden = [(t, e) for t, e, ok in s.email_reasons if not ok]
    kinds = sorted({e.split(":")[0] for e in email_shown})
    checked = min(5, len(s.email_learners))
    print(f"  dashboard, email not sent: {len(email_shown)} samples showed the reason ({'; '.join(kinds)}); "
          f"{len(email_hidden)} did not (the email may have been sent between the two reads); at the end "
          f"{len(s.email_still_shown)} of {checked} of those learners still showed it")  # fmt: skip
    if s.email_still_shown:
        failures.append(f"the dashboard still shows an email failure at the end for {s.email_still_shown}")
    return failures
