from django.apps import AppConfig


class SkillsForwardConfig(AppConfig):
    name = "skillsforward"
    verbose_name = "Skills Forward Badges"

    def ready(self):
        from django.contrib import admin

        from skillsforward import checks  # noqa: F401  (registers the deployment checks)
        from skillsforward.admin_login import ThrottledAdminAuthenticationForm

        admin.site.login_form = ThrottledAdminAuthenticationForm
