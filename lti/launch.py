"""How views receive the launch context: the opaque id in the URL, checked and not expired."""

from functools import wraps

from django.shortcuts import render
from django.utils import timezone

from lti.models import LaunchContext


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
                return render(
                    request,
                    "lti/error.html",
                    {
                        "title": "This page has expired",
                        "message": "Your Badges session has expired or the link is not valid.",
                        "advice": "Click Badges in your Canvas course menu again.",
                    },
                    status=404,
                )
            if roles is not None and launch.role not in roles:
                return render(
                    request,
                    "lti/error.html",
                    {
                        "title": "Not available to you",
                        "message": "This page is for instructors of this course.",
                        "advice": "Go back to Badges from your Canvas course menu.",
                    },
                    status=403,
                )
            return func(request, *args, launch=launch, **kwargs)

        return wrapper

    return decorator(view) if view is not None else decorator
