"""System checks for badging misconfiguration that would only show up as broken badges later."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def public_base_url_check(app_configs, **kwargs):
    """Issued assertions, credentials and emails carry absolute URLs that must stay valid for years:
    in production they cannot be taken from whatever host a request happened to use."""
    url = settings.PUBLIC_BASE_URL
    if not url:
        return [
            Error(
                "PUBLIC_BASE_URL is not set.",
                hint="Set it to the tool's stable public address, e.g. https://badges.example.edu: "
                "every issued badge links to it for ever.",
                id="badging.E001",
            )
        ]
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or parts.path not in ("", "/"):
        return [
            Error(
                f"PUBLIC_BASE_URL must be an https origin without a path, not {url!r}.",
                hint="Badge verifiers and backpacks expect https URLs on the issuer's own origin.",
                id="badging.E002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def live_events_key_set_check(app_configs, **kwargs):
    """Every platform has a Live Events URL that takes Canvas's signed events: without a key set to
    check them against, each delivery is refused, and Canvas deactivates a subscription after
    repeated failures within 24 hours (canvas-lms doc/api/data_services/md/static/data_service_setup.md)."""
    if settings.LIVE_EVENTS_JWKS_URL:
        return []
    return [
        Warning(
            "Live Events are enabled but LIVE_EVENTS_JWKS_URL is empty: signed events cannot be "
            "checked and every signed delivery is refused.",
            hint="Leave LIVE_EVENTS_JWKS_URL unset for hosted Canvas (it defaults to the key set Canvas "
            "documents for Data Services HTTPS subscriptions), or set your own Canvas's key set URL.",
            id="badging.W001",
        )
    ]


# The longest retry countdown of a task (badging.tasks.issuance.RETRY_BACKOFF_MAX).
LONGEST_COUNTDOWN_SECONDS = 600


@register()
def recovery_timing_check(app_configs, **kwargs):
    """The leases that let the reconciler take a dead worker's work over must be longer than the
    time between two renewals, and Redis's visibility timeout longer than a task can wait and run
    (else a task still waiting or running is handed to a second worker: harmless, but wasted)."""
    problems = []
    if settings.BADGING_LEASE_SECONDS < 6:
        problems.append(
            Warning(
                f"BADGING_LEASE_SECONDS is {settings.BADGING_LEASE_SECONDS}: a busy worker may miss a renewal.",
                hint="Keep it at 6 seconds or more (default 30); a dead worker's work is re-queued a lease later.",
                id="badging.W002",
            )
        )
    visibility = (getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}).get("visibility_timeout")
    needed = settings.CELERY_TASK_TIME_LIMIT + LONGEST_COUNTDOWN_SECONDS
    if visibility is not None and visibility < needed:
        problems.append(
            Warning(
                f"CELERY_VISIBILITY_TIMEOUT ({visibility} s) is shorter than the task time limit plus the longest "
                f"retry countdown ({needed} s): Redis would hand a waiting or running task to a second worker.",
                hint="Raise CELERY_VISIBILITY_TIMEOUT (default 1800). Recovery from a dead worker does not wait "
                "for it (see README, Failures).",
                id="badging.W003",
            )
        )
    return problems
