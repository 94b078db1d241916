"""System checks for LTI misconfiguration that would otherwise surface as random launch failures."""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured


@register()
def lti_configuration(app_configs=None, **kwargs):
    messages: list[CheckMessage] = []
    try:
        from skillsforward.fields import fernet

        fernet()
    except ImproperlyConfigured as exc:
        messages.append(
            Error(
                f"FIELD_ENCRYPTION_KEY is invalid: {exc}",
                hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="lti.E001",
            )
        )
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend.endswith("DummyCache"):
        messages.append(
            Error(
                "The default cache is DummyCache: LTI state and nonces cannot be stored, so launches fail "
                "and replays cannot be detected.",
                hint="Set REDIS_URL.",
                id="lti.E002",
            )
        )
    elif backend.endswith("LocMemCache") and not settings.DEBUG:
        messages.append(
            Warning(
                "The default cache is per-process (LocMemCache): with more than one web process an LTI login "
                "and its launch may land in different processes and fail, and nonce replay protection is "
                "per process.",
                hint="Set REDIS_URL so that every web process shares one cache.",
                id="lti.W001",
            )
        )
    return messages


@register(deploy=True)
def lti_shared_cache(app_configs=None, **kwargs):
    """In production the LTI state and nonces must live in a cache every web process shares."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if not backend.endswith("FileBasedCache"):
        return []
    return [
        Warning(
            "The default cache is a file cache on this machine: web processes on other machines or in other "
            "containers do not see its LTI state and nonces, so launches fail at random and a replayed launch "
            "may be accepted there.",
            hint="Set REDIS_URL to the Redis that every web process shares.",
            id="lti.W002",
        )
    ]
