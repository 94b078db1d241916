from django.apps import AppConfig


class BadgingConfig(AppConfig):
    name = "badging"
    verbose_name = "Badging"

    def ready(self) -> None:
        from badging import checks  # noqa: F401  (registers the system checks)
