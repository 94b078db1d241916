"""Deployment checks of the project itself (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Warning, register


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
