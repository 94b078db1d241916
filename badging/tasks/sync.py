"""Celery tasks for Canvas sync (see badging.services.sync)."""
