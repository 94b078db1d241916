"""The Canvas REST client: the only code in the product that calls Canvas's /api/v1.

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
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from canvas.budget import TokenBudget
from canvas.errors import (
    CanvasAuthError,
    CanvasBadRequestError,
    CanvasConfigurationError,
    CanvasError,
    CanvasIncompleteAnswerError,
    CanvasInvalidAssignmentsError,
    CanvasNotFoundError,
    CanvasPermissionError,
    CanvasThrottledError,
    CanvasUnavailableError,
)
from canvas.records import (
    CanvasAssignment,
    CanvasAssignmentGroup,
    CanvasCourse,
    CanvasCourseSettings,
    CanvasEnrollment,
    CanvasSubmission,
    CanvasUser,
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
IDS_PER_REQUEST = 100
COURSE_USER_STATES = ("active", "invited", "completed", "inactive")
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


STUDENT_ENROLLMENT_STATES = ("active", "completed", "inactive", "invited", "deleted", "rejected")


class CanvasClient:
    """Calls Canvas REST as the platform's API user. Its methods may be called from several threads
    at once (`parallel` of them are worth it: the token's in-flight cap); one client per sync."""

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

    # --- Public API: typed records out ----------------------------------------------------------

    def get_self(self) -> CanvasUser:
        """The token's own user (`/users/self/profile`): proves the address and the token work."""
        return CanvasUser.from_api(self._get_json("/users/self/profile"))

    def get_course(self, course_id: str) -> CanvasCourse:
        return CanvasCourse.from_api(self._get_json(f"/courses/{course_id}"))

    def get_course_settings(self, course_id: str) -> CanvasCourseSettings:
        """The course settings the badge rule depends on (`/courses/:id/settings`)."""
        return CanvasCourseSettings.from_api(self._get_json(f"/courses/{course_id}/settings"))

    def list_assignment_groups(self, course_id: str) -> list[CanvasAssignmentGroup]:
        return [CanvasAssignmentGroup.from_api(g) for g in self._paginate(f"/courses/{course_id}/assignment_groups")]

    def list_assignments(self, course_id: str) -> list[CanvasAssignment]:
        """Every assignment of the course with its rubric and its group's name (published or not)."""
        groups = {g.id: g.name for g in self.list_assignment_groups(course_id)}
        return [
            CanvasAssignment.from_api(a, group_names=groups)
            for a in self._paginate(f"/courses/{course_id}/assignments")
        ]

    def list_submissions(
        self,
        course_id: str,
        *,
        assignment_ids: Iterable[str],
        graded_since: datetime | None = None,
        student_ids: Iterable[str] | None = None,
        workflow_state: str | None = None,
    ) -> Iterator[CanvasSubmission]:
        """Submissions (with rubric assessments) of all students, or of `student_ids`, on these assignments.

        Every id must be a published assignment: Canvas refuses the whole request otherwise
        (CanvasInvalidAssignmentsError)."""
        assignment_ids = list(assignment_ids)
        if not assignment_ids:
            return
        params: list[tuple[str, str]] = [("include[]", "rubric_assessment")]
        students = list(student_ids) if student_ids is not None else None
        if students is None:
            params.append(("student_ids[]", "all"))
        else:
            if not students:
                return
            params.extend(("student_ids[]", s) for s in students)
        params.extend(("assignment_ids[]", a) for a in assignment_ids)
        if graded_since is not None:
            params.append(("graded_since", _iso(graded_since)))
        if workflow_state:
            params.append(("workflow_state", workflow_state))
        for item in self._paginate(f"/courses/{course_id}/students/submissions", params):
            yield CanvasSubmission.from_api(item)

    def list_submissions_of_students(
        self, course_id: str, *, assignment_ids: Iterable[str], student_ids: Iterable[str]
    ) -> list[CanvasSubmission]:
        """Every submission of up to 100 students on these assignments, in one request: `grouped`
        answers one entry per student (its page holds 100 students, whatever their submissions).
        Unsubmitted placeholders are left out. Every student must be enrolled (not deleted): Canvas
        refuses the whole request otherwise (a permission error)."""
        students = [str(s) for s in student_ids]
        assignment_ids = list(assignment_ids)
        if len(students) > IDS_PER_REQUEST:
            raise ValueError(f"at most {IDS_PER_REQUEST} students per request (Canvas answers 400 'too many students')")
        if not students or not assignment_ids:
            return []
        params: list[tuple[str, str]] = [("include[]", "rubric_assessment"), ("grouped", "true")]
        params.extend(("student_ids[]", s) for s in students)
        params.extend(("assignment_ids[]", a) for a in assignment_ids)
        out: list[CanvasSubmission] = []
        for group in self._paginate(f"/courses/{course_id}/students/submissions", params):
            for item in group.get("submissions") or []:
                if item.get("workflow_state") != "unsubmitted":
                    out.append(CanvasSubmission.from_api({"user_id": group.get("user_id"), **item}))
        return out

    def list_enrollments(
        self,
        course_id: str,
        *,
        types: Iterable[str] = ("StudentEnrollment",),
        states: Iterable[str] = STUDENT_ENROLLMENT_STATES,
        user_id: str | None = None,
        include_email: bool = True,
    ) -> Iterator[CanvasEnrollment]:
        """Enrollments with grades (as a grader sees them, incl. the final grade override) and the user."""
        params: list[tuple[str, str]] = [("type[]", t) for t in types]
        params.extend(("state[]", s) for s in states)
        if include_email:
            params.append(("include[]", "email"))
        if user_id:
            params.append(("user_id", str(user_id)))
        for item in self._paginate(f"/courses/{course_id}/enrollments", params):
            yield CanvasEnrollment.from_api(item)

    def list_users_with_email(
        self, course_id: str, *, user_ids: Iterable[str] | None = None, states: Iterable[str] = COURSE_USER_STATES
    ) -> Iterator[CanvasUser]:
        """The course's students (or these of them, at most 100: one request) with their primary
        email, whatever their enrollment's state (Canvas hides the Student View user here)."""
        params = [("enrollment_type[]", "student"), ("include[]", "email")]
        params.extend(("enrollment_state[]", s) for s in states)
        if user_ids is not None:
            ids = [str(u) for u in user_ids]
            if len(ids) > IDS_PER_REQUEST:
                raise ValueError(f"at most {IDS_PER_REQUEST} users per request")
            if not ids:
                return
            params.extend(("user_ids[]", u) for u in ids)
        for item in self._paginate(f"/courses/{course_id}/users", params):
            yield CanvasUser.from_api(item)

    def get_user_primary_email(self, user_id: str) -> str:
        """The user's primary email now (profile, else their first *active* email channel); "" if none.

        An unconfirmed channel is never used: nobody proved they own that address."""
        try:
            profile = self._get_json(f"/users/{user_id}/profile")
            email = (profile.get("primary_email") or "").strip()
            if email:
                return email
        except CanvasPermissionError:
            pass  # the channels endpoint may still be readable with :read on the user
        channels = [
            c
            for c in self._paginate(f"/users/{user_id}/communication_channels")
            if c.get("type") == "email" and c.get("workflow_state") == "active"
        ]
        channels.sort(key=lambda c: c.get("position") or 0)
        return (channels[0].get("address") or "").strip() if channels else ""

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
            raise _client_error(response, url)
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


_NOT_AUTHORIZED = " (Canvas: user not authorized to perform that action)"


def _client_error(response: requests.Response, url: str) -> CanvasError:
    status = response.status_code
    path = _path(url)
    detail = _canvas_message(response)
    lowered = response.text[:1000].lower()
    if status == 401:
        # lib/authentication_methods.rb: a request without a usable token gets WWW-Authenticate
        # (and "Invalid access token." for a bad one); a user who may not do this gets
        # {"status": "unauthorized", ...} without it.
        if "insufficient scope" in lowered or "invalid_scope" in lowered:
            # A scoped developer key without this endpoint (AccessTokenScopeError, also a 401).
            return CanvasPermissionError(
                f"the Canvas API token's developer key does not allow {path}{detail}: ask your Canvas admin to "
                "add the GET scopes the README lists to the key, or to use an unscoped token",
                status=status,
                url=path,
            )
        if response.headers.get("WWW-Authenticate") or "invalid access token" in lowered:
            return CanvasAuthError(
                "the Canvas API token was revoked or is invalid: ask your Canvas admin to issue a new token "
                "for the badges tool (it may have expired) and enter it in the platform settings",
                status=status,
                url=path,
            )
        return CanvasPermissionError(
            f"the Canvas API token works, but its user may not read this ({path}){detail or _NOT_AUTHORIZED}: "
            "ask your Canvas admin to use a token of an account that is an admin of the courses' account, or a "
            "teacher in every badged course, with the permissions listed in the README (view all grades, manage "
            "grades, read the course roster, view users' email addresses)",
            status=status,
            url=path,
        )
    if status == 403:
        if "invalid assignment ids requested" in lowered:
            return CanvasInvalidAssignmentsError(
                f"Canvas refused to report grades ({path}) because a requested assignment is unpublished or "
                "deleted in Canvas",
                status=status,
                url=path,
            )
        return CanvasBadRequestError(
            f"Canvas refused the request as it was asked ({status} on {path}){detail}; this is not a missing "
            "permission: please report it to the badges tool's maintainers",
            status=status,
            url=path,
        )
    if status == 404:
        return CanvasNotFoundError(
            f"Canvas says this does not exist ({path}): the course or item may have been deleted{detail}",
            status=status,
            url=path,
        )
    return CanvasError(f"Canvas refused the request ({status} on {path}){detail}", status=status, url=path)


def _canvas_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    messages: list[str] = []
    if isinstance(body, dict):
        if isinstance(body.get("errors"), list):
            messages = [str(e.get("message", "")) for e in body["errors"] if isinstance(e, dict)]
        elif body.get("message"):
            messages = [str(body["message"])]
        elif isinstance(body.get("error"), str):
            messages = [body["error"]]
    text = "; ".join(m for m in messages if m)
    return f" (Canvas: {text[:200]})" if text else ""


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _path(url: str) -> str:
    return urlsplit(url).path


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
