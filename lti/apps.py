from django.apps import AppConfig


class LtiConfig(AppConfig):
    name = "lti"
    verbose_name = "LTI 1.3 (Canvas platforms)"

    def ready(self):
        from lti import checks  # noqa: F401  (registers the system checks)
