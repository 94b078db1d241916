"""Celery tasks of the LTI side (thin: call a service)."""

from celery import shared_task

from lti.services.launches import launch_contexts_purge_expired
from lti.services.platforms import platforms_pending_purge


@shared_task(name="lti.launches_purge", acks_late=True, ignore_result=True)
def launches_purge() -> int:
    """Delete launch contexts past their expiry and dynamic registrations left pending too long;
    idempotent, so a repeat is harmless."""
    platforms_pending_purge()
    return launch_contexts_purge_expired()
