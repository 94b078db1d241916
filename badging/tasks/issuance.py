"""Celery tasks for issuance, delivery and the reconciler (see badging.services.issuance)."""
