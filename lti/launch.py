"""How views receive the launch context: the opaque id in the URL, checked and not expired.

The launch link (/l/<id>/…) is a bearer capability, so it is kept short-lived and tied to its
browser where possible:
- it ends after LTI_LAUNCH_IDLE_MINUTES without use (sliding), and at the latest
  LTI_LAUNCH_MAX_HOURS after the launch;
- the launch response gives the browser a cookie of its own for this launch; once that cookie has
  come back, the link works only with it (a copied link is refused in another browser). Inside
  Canvas's iframe a browser that blocks third-party cookies never sends it back: the link then
  works without it (idle and absolute limits still apply).
"""

import hashlib
from datetime import UTC, datetime, timedelta
from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _

from lti.models import LaunchContext
from skillsforward.compiled import ModelRows
from skillsforward.i18n import language_for
from skillsforward.prepared import execute_prepared, numbered

# (title, what went wrong, what to do) on the page that refuses a launch-bound request.
EXPIRED = (
    _("This page has expired"),
    _("Your Badges session has expired or the link is not valid."),
    _("Click Badges in your Canvas course menu again."),
)
NOT_YOURS = (
    _("Not available to you"),
    _("This page is for instructors of this course."),
    _("Go back to Badges from your Canvas course menu."),
)
OTHER_BROWSER = (
    _("This link belongs to another browser"),
    _("Badges pages are opened from Canvas, in the browser that opened them; a copied link does not work elsewhere."),
    _("Click Badges in your Canvas course menu."),
)
COURSE_ONLY = (
    _("This page belongs to a course"),
    _("You opened Badges from your Canvas account menu, which shows your own badges only."),
    _("Open Badges from a course menu to see that course's badges."),
)
# Writing last_used_at on every request is not needed for a timeout counted in minutes.
LAST_USED_WRITE_INTERVAL = timedelta(seconds=60)


def launch_cookie_name(public_id: str) -> str:
    """The cookie of one launch (several launches, e.g. two courses, may share a browser)."""
    return "sfb-launch-" + hashlib.sha256(public_id.encode()).hexdigest()[:16]


def launch_cookie_set(response, *, launch: LaunchContext, browser_key: str, secure: bool) -> None:
    response.set_cookie(
        launch_cookie_name(launch.public_id),
        browser_key,
        max_age=settings.LTI_LAUNCH_MAX_HOURS * 3600,
        path="/l/",
        secure=secure,
        httponly=True,
        # Inside Canvas's iframe the tool is a third party: only SameSite=None (and Secure) comes back.
        samesite="None" if secure else "Lax",
    )


def _refused(request, status: int, title, message, advice):
    context = {"title": title, "message": message, "advice": advice}
    return render(request, "lti/error.html", context, status=status)


def launch_usable(request, launch: LaunchContext) -> tuple[bool, str]:
    """(usable, why not) for this request: idle timeout, then the browser binding. Records the use
    (and binds the launch to its browser the first time its cookie comes back)."""
    now = timezone.now()
    last_used = launch.last_used_at or launch.created_at
    if now - last_used > timedelta(minutes=settings.LTI_LAUNCH_IDLE_MINUTES):
        return False, "idle"
    updates: dict = {}
    cookie = request.COOKIES.get(launch_cookie_name(launch.public_id))
    if launch.browser_key_hash and (launch.browser_bound or cookie is not None):
        presented = hashlib.sha256((cookie or "").encode()).hexdigest()
        if not constant_time_compare(presented, launch.browser_key_hash):
            return False, "other_browser"
        if not launch.browser_bound:
            updates["browser_bound"] = launch.browser_bound = True
    if now - last_used >= LAST_USED_WRITE_INTERVAL:
        updates["last_used_at"] = launch.last_used_at = now
    if updates:
        LaunchContext.objects.filter(pk=launch.pk).update(**updates)
    return True, ""


def _live_launches(public_id: str, now: datetime):
    return LaunchContext.objects.select_related("platform", "course", "person", "deployment").filter(
        public_id=public_id, expires_at__gt=now
    )[:1]


class _CompiledLaunchLookup:
    """_live_launches() compiled to SQL once per process (PostgreSQL). Every launch-bound request reads its launch
    with its platform, course, person and deployment; Django building that four-join SQL again
    each time cost more CPU than PostgreSQL answering it (and PostgreSQL planning it again, more
    than running it: see skillsforward.prepared). The rows become objects exactly as the ORM makes
    them (its converters and select_related populators)."""

    _ID = "\x00launch-id"
    _NOW = datetime(2000, 1, 1, tzinfo=UTC)

    def __init__(self) -> None:
        queryset = _live_launches(self._ID, self._NOW)
        self.db = queryset.db
        self.compiler = queryset.query.get_compiler(using=self.db)
        self.sql, params = self.compiler.as_sql()
        # Where the two values go: the SQL is reused with only those two replaced.
        self.slots = [{self._ID: "id", self._NOW: "now"}[p] for p in params]
        # The rows become objects as the ORM makes them, its 66 columns' converters worked out once.
        self.rows = ModelRows[LaunchContext](self.compiler, self.db)

    def get(self, public_id: str, now: datetime) -> LaunchContext | None:
        values: dict[str, str | datetime] = {"id": public_id, "now": now}
        params = [values[slot] for slot in self.slots]
        with connection.cursor() as cursor:
            types = [{"id": "text", "now": "timestamptz"}[slot] for slot in self.slots]
            execute_prepared(cursor, name="launch_live", sql=numbered(self.sql), types=types, params=params)
            rows = cursor.fetchall()
        launches = self.rows.objects(rows)
        return launches[0] if launches else None


_LOOKUP: list[_CompiledLaunchLookup] = []


def launch_live(*, public_id: str) -> LaunchContext | None:
    """The launch of this id, with its platform, course, person and deployment, if not expired."""
    if connection.vendor != "postgresql":
        # The compiled lookup reuses PostgreSQL's parameters; other backends adapt them to text
        # first (SQLite, the demo's database), so they take the ORM's own query.
        return next(iter(_live_launches(public_id, timezone.now())), None)
    if not _LOOKUP:
        _LOOKUP.append(_CompiledLaunchLookup())
    return _LOOKUP[0].get(public_id, timezone.now())


def launch_context_required(view=None, *, roles: tuple[str, ...] | None = None, without_course: bool = False):
    """Decorator: resolves `launch_id` from the URL into `launch` (a LaunchContext) or refuses (403/404).

    `roles` limits the view to those roles (e.g. ("instructor", "admin")). A launch without a course
    (account or user navigation) reaches only views that say `without_course=True`.
    """

    def decorator(func):
        @wraps(func)
        def wrapper(request, launch_id: str, *args, **kwargs):
            launch = launch_live(public_id=launch_id)
            if launch is None:
                return _refused(request, 404, *EXPIRED)
            # An unusable link may be in someone else's browser: its refusal speaks the browser's
            # language, as for a link that does not exist.
            usable, why = launch_usable(request, launch)
            if not usable:
                response = _refused(
                    request,
                    403 if why == "other_browser" else 404,
                    *(OTHER_BROWSER if why == "other_browser" else EXPIRED),
                )
                add_never_cache_headers(response)
                return response
            # The user's Canvas language wins over the browser's (LocaleMiddleware chose that one).
            language = language_for(launch.locale)
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
            if launch.course_id is None and not without_course:
                return _refused(request, 403, *COURSE_ONLY)
            if roles is not None and launch.role not in roles:
                return _refused(request, 403, *NOT_YOURS)
            response = func(request, *args, launch=launch, **kwargs)
            # Personal data behind a bearer URL: no shared or back-button cache keeps a copy.
            add_never_cache_headers(response)
            return response

        return wrapper

    return decorator(view) if view is not None else decorator


def request_from_this_site(request) -> bool:
    """Whether a form post on a launch page came from one of our own pages.

    The launch-bound form tokens replace Django's cookie CSRF check (Canvas iframes may drop our
    cookies); this is the second half: the Origin header, or the Referer when a browser sends no
    Origin, must be this site. A post that carries neither (old browsers, privacy tools) is left
    to the token; an opaque "null" origin is refused.
    """
    own = f"{request.scheme}://{request.get_host()}"
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("Referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" == own
    return True
