from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class LtiConfig(AppConfig):
    name = "lti"
    verbose_name = gettext_lazy("LTI 1.3 (Canvas platforms)")

    def ready(self):
        from lti import checks  # noqa: F401  (registers the system checks)
