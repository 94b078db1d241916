from django.apps import AppConfig


class SkillsForwardConfig(AppConfig):
    name = "skillsforward"
    verbose_name = "Skills Forward Badges"

    def ready(self):
        from skillsforward import checks  # noqa: F401  (registers the deployment checks)
