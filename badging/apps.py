from django.apps import AppConfig


class BadgingConfig(AppConfig):
    name = "badging"
    verbose_name = "Badging"
