from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class BadgingConfig(AppConfig):
    name = "badging"
    verbose_name = gettext_lazy("Badging")

    def ready(self) -> None:
        from badging import checks  # noqa: F401  (registers the system checks)
