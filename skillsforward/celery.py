import logging.config
import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skillsforward.settings")

app = Celery("skillsforward")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def logging_from_settings(**kwargs) -> None:
    """The worker and beat log exactly as the web does (settings.LOGGING: LOG_LEVEL, and
    LOG_FORMAT=json for one JSON object per line on stdout). With a receiver connected, Celery
    installs no handlers or format of its own (and its --loglevel gives way to LOG_LEVEL)."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
