from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


def local_folders() -> list[Path]:
    """The folders the one-machine set-up writes to whose libraries do not create them: kombu's
    filesystem broker (it fails on a missing folder) and the SQLite file's folder. Django's file
    cache and media storage make their own."""
    folders = []
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            folders.append(Path(options[key]))
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and str(database["NAME"]) not in ("", ":memory:"):
        folders.append(Path(database["NAME"]).parent)
    return folders


class SkillsForwardConfig(AppConfig):
    name = "skillsforward"
    verbose_name = "Skills Forward Badges"

    def ready(self):
        from django.contrib import admin

        # At start-up of every process (web, worker, beat, manage.py), not when settings are read.
        for folder in local_folders():
            folder.mkdir(parents=True, exist_ok=True)

        from skillsforward import checks  # noqa: F401  (registers the deployment checks)
        from skillsforward.admin_login import ThrottledAdminAuthenticationForm

        admin.site.login_form = ThrottledAdminAuthenticationForm
