"""How the REST client talks HTTP to Canvas: the token's in-flight cap, throttling, retries,
pagination. The typed calls themselves are in client.py (one place for each Canvas call).

Canvas rules it follows (reference lti-canvas.md §B2-B3):
- pages of at most 100, next page from the Link header, its URL used as given (bookmarks are
  opaque and case-sensitive);
- at most CANVAS_MAX_IN_FLIGHT_PER_TOKEN requests in flight per API token across every worker
  (canvas/budget.py); one client may send up to that many at once (independent requests of one sync), but
  a paginated list is walked one page after the other. 403 "Rate Limit Exceeded" pauses every
  request of the client before one retry, and a low X-Rate-Limit-Remaining narrows the client to
  one request in flight and pauses it until the bucket has leaked back (no 403 storm);
- errors by Canvas's own shapes: 401 with WWW-Authenticate is a bad token, 401 "unauthorized" a
  missing permission, any other 403 a request Canvas refuses as asked (errors.py);
- timeouts on every call; 5xx, timeouts and connection failures retried with exponential
  backoff and jitter, a bounded number of times; so is a 2xx answer whose body is not whole JSON
  (cut short by a proxy or a dropped connection, or an HTML error page from a load balancer):
  a page is never half-read.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from canvas.budget import TokenBudget
from canvas.errors import (
    CanvasConfigurationError,
    CanvasError,
    CanvasIncompleteAnswerError,
    CanvasThrottledError,
    CanvasUnavailableError,
    error_for_response,
)
from skillsforward.outbound import OutboundRefused, outbound_session

logger = logging.getLogger(__name__)

PER_PAGE = 100
# Canvas's bucket holds 600-700 units and leaks 10 units/s; below this we pause before the next call.
LOW_RATE_LIMIT_REMAINING = 150.0
LEAK_PER_SECOND = 10.0
MAX_BACKOFF_SECONDS = 30.0
# Throttling is not an outage: a sync waits (longer each time, 2-3 minutes in all, well inside the task
# time limit) before giving up.
MAX_THROTTLE_WAITS = 10
# Pages fetched ahead of the caller: enough to keep fetching through a batch write to the database.
PREFETCH_PAGES = 12
# Canvas reserves this much of the bucket per request while it runs (request_throttle.rb, up-front
# cost): with n requests in flight, n-1 others may each take it before we see the bucket again.
UPFRONT_COST = 50.0
# Ids per request where Canvas takes a list of users (student_ids[], user_ids[]): Api::MAX_PER_PAGE.
# Why an answer could not be used although Canvas answered (CanvasIncompleteAnswerError).
CUT_SHORT = "cut its answer short (the connection closed before the whole page arrived)"
NOT_JSON = "sent an incomplete or malformed answer (not valid JSON)"
INCOMPLETE_PROBLEMS = (CUT_SHORT, NOT_JSON)
_observers: list[Callable[[str, float, float, int], None]] = []


@contextlib.contextmanager
def requests_observed(callback: Callable[[str, float, float, int], None]) -> Iterator[None]:
    """Calls callback(path, started, finished, status) for every HTTP request any client of this
    process sends while the block runs (benchmarks: request counts and the in-flight timeline)."""
    _observers.append(callback)
    try:
        yield
    finally:
        _observers.remove(callback)


def last_place_lease() -> float:
    """The budget lease of a client's last in-flight place: a little longer than one request may
    take (CANVAS_HTTP_TIMEOUT), never longer than the budget's own lease."""
    return min(settings.CANVAS_SLOT_LEASE_SECONDS, settings.CANVAS_HTTP_TIMEOUT + 5.0)


class CanvasTransport:
    """HTTP to Canvas REST as the platform's API user (CanvasClient adds the typed calls). Its
    methods may be called from several threads at once (`parallel` of them are worth it: the
    token's in-flight cap); one client per sync."""

    def __init__(
        self,
        platform: Any,
        *,
        session: requests.Session | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_throttle_waits: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        budget: TokenBudget | None = None,
    ):
        if getattr(platform, "is_trusted", True) is False:
            raise CanvasConfigurationError(
                f"{platform} is not an approved, active platform: an admin must approve it before Canvas is called"
            )
        base = (platform.api_base_url or "").strip().rstrip("/")
        if not base:
            raise CanvasConfigurationError(
                f"no Canvas API address is set for {platform}: an admin must enter the API base URL of this Canvas"
            )
        if not platform.api_token:
            raise CanvasConfigurationError(
                f"no Canvas API token is set for {platform}: ask your Canvas admin for a token "
                "of an admin or service account and enter it in the platform settings"
            )
        self.api_root = base if base.endswith("/api/v1") else base + "/api/v1"
        self._origin = _origin(self.api_root)
        self._token = platform.api_token
        # The API base is typed by an admin or taken from a launch: only the guarded client reaches it.
        self._shared_session = session
        # requests.Session is not documented thread-safe: one per request in flight, kept for the
        # next request (keep-alive connections, no new TLS handshake per page).
        self._idle_sessions: list[requests.Session] = []
        self._timeout = timeout if timeout is not None else settings.CANVAS_HTTP_TIMEOUT
        self._max_retries = max_retries if max_retries is not None else settings.CANVAS_MAX_RETRIES
        # Background syncs pass MAX_THROTTLE_WAITS; interactive callers keep the short retry budget.
        self._max_throttle_waits = max_throttle_waits if max_throttle_waits is not None else self._max_retries
        self._sleep = sleep
        self._budget = budget or TokenBudget(self._token)
        self._verify = getattr(settings, "CANVAS_VERIFY_TLS", True)
        # Every HTTP request sent, retries included (SyncRun.canvas_requests, benchmarks).
        self.request_count = 0
        self.throttle_waits = 0
        self.http_seconds = 0.0  # time spent waiting for Canvas's answers
        # How many requests this client may have in flight: the token's cap, shared through the
        # budget with every other client of the token (another course's sync, an issuance batch),
        # who wait there for a free slot. The last place is taken with a short lease: a worker
        # killed holding every slot leaves the others one within LAST_PLACE_LEASE_SECONDS, not the
        # budget's whole lease (the sync run again after it must not wait minutes). Narrowed to 1
        # while X-Rate-Limit-Remaining runs low, widened again as the bucket leaks back.
        self.parallel = self._budget.cap
        self._allowed = self.parallel
        self._in_flight = 0
        self.peak_in_flight = 0
        self._paused_until = 0.0
        self._gate = threading.Condition()

    # --- HTTP ----------------------------------------------------------------------------------

    def _get_json(self, path: str, params: list[tuple[str, str]] | None = None) -> Any:
        return self._request(self.api_root + path, params)[1]

    def _paginate(self, path: str, params: list[tuple[str, str]] | None = None) -> Iterator[dict]:
        """Every item of a paginated list. Later pages are fetched while the caller works on earlier
        ones (one request in flight at a time, as Canvas asks, but no idle network while we write)."""
        pages: queue.Queue = queue.Queue(maxsize=PREFETCH_PAGES)
        stop = threading.Event()

        def fetch_pages() -> None:
            try:
                for page in self._pages(path, params, stop):
                    pages.put(("page", page))
                pages.put(("done", None))
            except BaseException as exc:  # handed to the consumer, which re-raises it
                pages.put(("error", exc))

        fetcher = threading.Thread(target=fetch_pages, name="canvas-pages", daemon=True)
        fetcher.start()
        try:
            while True:
                kind, value = pages.get()
                if kind == "page":
                    yield from value
                elif kind == "done":
                    return
                else:
                    raise value
        finally:
            stop.set()
            while fetcher.is_alive():  # unblock a fetcher waiting to hand over a page nobody wants
                with contextlib.suppress(queue.Empty):
                    pages.get(timeout=0.05)

    def _pages(self, path: str, params: list[tuple[str, str]] | None, stop: threading.Event) -> Iterator[list]:
        url: str | None = self.api_root + path
        page_params: list[tuple[str, str]] | None = [*(params or []), ("per_page", str(PER_PAGE))]
        while url and not stop.is_set():
            response, body = self._request(url, page_params)
            if isinstance(body, dict):
                # A few Canvas list endpoints wrap the list; none we call today, but do not crash on one.
                body = next((v for v in body.values() if isinstance(v, list)), [])
            yield body
            next_url = response.links.get("next", {}).get("url")
            if next_url and _origin(next_url) != self._origin:
                raise CanvasError(
                    "Canvas sent a next-page link to another server; the sync stopped to keep the API token safe",
                    url=next_url,
                )
            url = next_url
            page_params = None  # the next link already carries every parameter, bookmark included

    def _session_take(self) -> requests.Session:
        if self._shared_session is not None:
            return self._shared_session
        with self._gate:
            if self._idle_sessions:
                return self._idle_sessions.pop()
        return outbound_session(timeout=settings.CANVAS_HTTP_TIMEOUT)

    def _session_give(self, session: requests.Session) -> None:
        if session is not self._shared_session:
            with self._gate:
                self._idle_sessions.append(session)

    @contextlib.contextmanager
    def _in_flight_slot(self) -> Iterator[bool]:
        """One of this client's `_allowed` in-flight places, after any pause the bucket asked for.
        Yields True for the client's last place (parallel > 1)."""
        with self._gate:
            while True:
                until = self._paused_until
                pause = until - time.monotonic()
                if pause > 0:
                    self._gate.release()
                    try:
                        self._sleep(round(pause, 3))
                    finally:
                        self._gate.acquire()
                    if self._paused_until == until:
                        self._paused_until = 0.0  # served (also when a test's sleep does not pass time)
                    continue
                if self._in_flight < self._allowed:
                    break
                self._gate.wait(0.5)
            self._in_flight += 1
            self.request_count += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            last_place = self.parallel > 1 and self._in_flight == self.parallel
        try:
            yield last_place
        finally:
            with self._gate:
                self._in_flight -= 1
                self._gate.notify_all()

    def _pause(self, seconds: float) -> None:
        with self._gate:
            self._allowed = 1
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def _send(self, url: str, params: list[tuple[str, str]] | None, headers: dict) -> requests.Response:
        with (
            self._in_flight_slot() as last_place,
            self._budget.slot(lease_seconds=last_place_lease() if last_place else None),
        ):
            started_wall = time.time()
            session = self._session_take()
            try:
                response = session.get(url, params=params, headers=headers, timeout=self._timeout, verify=self._verify)
            finally:
                self._session_give(session)
        for observer in list(_observers):
            observer(_path(url), started_wall, time.time(), response.status_code)
        return response

    def _request(self, url: str, params: list[tuple[str, str]] | None) -> tuple[requests.Response, Any]:
        """The 2xx answer and its parsed JSON body, after the retries and throttle waits."""
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        last_problem = ""
        attempts = self._max_retries + 1
        attempt = throttled = 0  # failed attempts (outages) and throttled answers: separate budgets
        while attempt < attempts:
            started = time.perf_counter()
            try:
                response = self._send(url, params, headers)
            except OutboundRefused as exc:
                # A redirect or an address an admin did not allow: retrying cannot help.
                raise CanvasConfigurationError(
                    f"the Canvas API address of this platform is refused: {exc}", url=_path(url)
                ) from exc
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as exc:  # fmt: skip
                self.http_seconds += time.perf_counter() - started
                last_problem = (
                    "did not answer in time"
                    if isinstance(exc, requests.Timeout)
                    else "could not be reached"
                    if isinstance(exc, requests.ConnectionError)
                    else CUT_SHORT  # the connection closed before the announced length
                )
                logger.warning("canvas %s %s (attempt %d/%d)", _path(url), last_problem, attempt + 1, attempts)
                self._backoff(attempt, attempts)
                attempt += 1
                continue
            self.http_seconds += time.perf_counter() - started
            self._pace(response)
            status = response.status_code
            if status < 300:
                try:
                    return response, response.json()
                except ValueError:
                    # Not whole JSON: truncated on the way or a proxy's error page. Asking again is
                    # what helps; never act on a partial page (it would read as the list's end).
                    last_problem = NOT_JSON
                    logger.warning("canvas %s: not valid JSON (attempt %d/%d)", _path(url), attempt + 1, attempts)
                    self._backoff(attempt, attempts)
                    attempt += 1
                    continue
            if _is_throttled(response):
                self.throttle_waits += 1
                throttled += 1
                if throttled > self._max_throttle_waits:
                    raise CanvasThrottledError(
                        "Canvas kept refusing requests because of its rate limit; the sync will try again later",
                        status=status,
                        url=_path(url),
                    )
                logger.warning("canvas throttled %s (wait %d/%d)", _path(url), throttled, self._max_throttle_waits)
                # Every request of this client waits, not only this one: no burst of retries into the limit.
                self._pause(_throttle_delay(throttled, _retry_after(response)))
                continue
            if status >= 500:
                last_problem = f"answered with a server error ({status})"
                logger.warning("canvas %s on %s (attempt %d/%d)", status, _path(url), attempt + 1, attempts)
                self._backoff(attempt, attempts, minimum=_retry_after(response) or 0.0)
                attempt += 1
                continue
            raise error_for_response(response, url)
        error = CanvasIncompleteAnswerError if last_problem in INCOMPLETE_PROBLEMS else CanvasUnavailableError
        raise error(f"Canvas {last_problem} after {attempts} attempts; the sync will try again later", url=_path(url))

    def _backoff(self, attempt: int, attempts: int, *, minimum: float = 0.0) -> None:
        if attempt + 1 >= attempts:
            return
        # Exponential backoff with full jitter (AWS architecture blog), never below what Canvas asked for.
        delay = max(minimum, random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.5 * 2**attempt)))
        self._sleep(delay)

    def _pace(self, response: requests.Response) -> None:
        remaining = response.headers.get("X-Rate-Limit-Remaining")
        try:
            left = float(remaining) if remaining is not None else None
        except ValueError:
            left = None
        if left is None:
            return
        # The others in flight may each reserve the up-front cost before we hear from the bucket again.
        low_water = LOW_RATE_LIMIT_REMAINING + (self.parallel - 1) * UPFRONT_COST
        if left < low_water:
            # One request at a time, after the bucket leaked back above the low-water mark: not into 403s.
            self._pause(min(5.0, (low_water - left) / LEAK_PER_SECOND))
        elif self._allowed < self.parallel:
            with self._gate:  # healthy again: widen one place at a time
                self._allowed = min(self.parallel, self._allowed + 1)
                self._gate.notify_all()


def _throttle_delay(waits: int, retry_after: float | None) -> float:
    """Seconds before retrying a throttled request: doubling from 1-2 s up to 15-30 s, with jitter
    so that syncs sharing the token's bucket do not all come back at once; never below Retry-After."""
    delay = random.uniform(0.5, 1.0) * min(MAX_BACKOFF_SECONDS, 2.0**waits)
    return max(delay, retry_after or 0.0)


def _is_throttled(response: requests.Response) -> bool:
    if response.status_code == 429:
        return True
    return response.status_code == 403 and "rate limit exceeded" in response.text[:500].lower()


def _retry_after(response: requests.Response) -> float | None:
    try:
        return min(MAX_BACKOFF_SECONDS, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _path(url: str) -> str:
    return urlsplit(url).path
