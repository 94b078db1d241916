"""Failed admin sign-ins are throttled: per client address and user name, and per client address.

The admin holds the Canvas API tokens and approves platforms, so guessing its passwords must be slow.
Counts live in the shared cache (Redis in production), so every web process sees them; a
successful sign-in clears that user's count from that address.
"""

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError

from skillsforward.ratelimit import client_address


def _keys(request, username: str) -> tuple[str, str]:
    address = client_address(request) if request is not None else ""
    return f"admin-login:user:{address}:{username.strip().lower()[:150]}", f"admin-login:address:{address}"


def admin_login_locked(*, request, username: str) -> bool:
    user_key, address_key = _keys(request, username)
    return (cache.get(user_key) or 0) >= settings.ADMIN_LOGIN_FAILURES_PER_USER or (
        cache.get(address_key) or 0
    ) >= settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS


def admin_login_failed(*, request, username: str) -> None:
    window = settings.ADMIN_LOGIN_LOCKOUT_MINUTES * 60
    for key in _keys(request, username):
        if not cache.add(key, 1, window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, window)


def admin_login_succeeded(*, request, username: str) -> None:
    cache.delete(_keys(request, username)[0])


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's sign-in form, refusing to even check a password once too many attempts failed."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many failed sign-ins. Try again in %(minutes)d minutes.",
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if admin_login_locked(request=self.request, username=username):
            raise ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"minutes": settings.ADMIN_LOGIN_LOCKOUT_MINUTES},
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            admin_login_failed(request=self.request, username=username)
            raise
        admin_login_succeeded(request=self.request, username=username)
        return cleaned
