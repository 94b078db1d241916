"""Celery tasks (thin: load ids, call a service). Submodules are imported here for autodiscovery."""

from badging.tasks import backpack, issuance, programs, sync  # noqa: F401
