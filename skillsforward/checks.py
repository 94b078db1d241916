"""Deployment checks of the project itself (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register(deploy=True)
def celery_broker(app_configs=None, **kwargs):
    if not settings.CELERY_BROKER_URL.startswith("filesystem:"):
        return []
    return [
        Warning(
            "The Celery broker is the demo's filesystem transport: workers on other machines or in other "
            "containers never receive the tasks, so syncs, awards and emails stall.",
            hint="Set REDIS_URL (or CELERY_BROKER_URL) to the broker every web process and worker shares.",
            id="skillsforward.W001",
        )
    ]


# The settings' default, so that a fresh checkout runs; it is public, in this repository.
DEMO_SECRET_KEY_PREFIX = "insecure-demo-key-change-me-"


@register(deploy=True)
def secret_key_set(app_configs=None, **kwargs):
    # Django's own security.W009 does not catch this key (long, varied, no "django-insecure-").
    if not settings.SECRET_KEY.startswith(DEMO_SECRET_KEY_PREFIX):
        return []
    return [
        Error(
            "DJANGO_SECRET_KEY is not set: the demo's public key signs the form tokens and, without "
            "FIELD_ENCRYPTION_KEY, encrypts the Canvas API tokens and private keys stored in the database.",
            hint="Set DJANGO_SECRET_KEY (and FIELD_ENCRYPTION_KEY) to long random values kept secret.",
            id="skillsforward.E001",
        )
    ]
