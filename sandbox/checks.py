from django.conf import settings
from django.core.checks import Warning, register


@register()
def sandbox_in_production(app_configs, **kwargs):
    """The sandbox answers LTI launches for anyone and hands out fake grades: never in production."""
    if settings.SANDBOX_ENABLED and not settings.DEBUG:
        return [
            Warning(
                "The Canvas sandbox is enabled while DEBUG is off.",
                hint="Set SANDBOX_ENABLED=false in production; the sandbox is for the demo and the tests only.",
                id="sandbox.W001",
            )
        ]
    return []
