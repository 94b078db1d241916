"""How views receive the launch context: the opaque id in the URL, checked and not expired."""

from functools import wraps
from urllib.parse import urlsplit

from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _

from lti.models import LaunchContext
from skillsforward.i18n import language_for

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


def _refused(request, status: int, title, message, advice):
    context = {"title": title, "message": message, "advice": advice}
    return render(request, "lti/error.html", context, status=status)


def launch_context_required(view=None, *, roles: tuple[str, ...] | None = None):
    """Decorator: resolves `launch_id` from the URL into `launch` (a LaunchContext) or refuses (403/404).

    `roles` limits the view to those roles (e.g. ("instructor", "admin")).
    """

    def decorator(func):
        @wraps(func)
        def wrapper(request, launch_id: str, *args, **kwargs):
            launch = (
                LaunchContext.objects.select_related("platform", "course", "person", "deployment")
                .filter(public_id=launch_id, expires_at__gt=timezone.now())
                .first()
            )
            if launch is None:
                return _refused(request, 404, *EXPIRED)
            # The user's Canvas language wins over the browser's (LocaleMiddleware chose that one).
            language = language_for(launch.locale)
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
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
