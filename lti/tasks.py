"""Celery tasks of the LTI side (thin: call a service)."""

from celery import shared_task

from lti import services


@shared_task(name="lti.launches_purge", acks_late=True, ignore_result=True)
def launches_purge() -> int:
    """Delete launch contexts past their expiry and dynamic registrations left pending too long;
    idempotent, so a repeat is harmless."""
    services.platforms_pending_purge()
    return services.launch_contexts_purge_expired()
