from django.apps import AppConfig


class SkillsForwardConfig(AppConfig):
    name = "skillsforward"
    verbose_name = "Skills Forward Badges"
