"""The periodic tasks of syncing, reconciling and purging, written as django-celery-beat rows.

Changes when a periodic task or its interval changes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction


def beat_schedule_write() -> list[tuple[str, int, bool]]:
    """Create or update the django-celery-beat rows: periodic sync, the reconciler, the launch purge.
    Idempotent: rows are keyed by task name. Returns (task, minutes, changed) per row."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    wanted = [
        ("badging.sync_all_due", settings.BADGING_SYNC_INTERVAL_MINUTES, "Sync courses from Canvas"),
        ("badging.reconcile", settings.BADGING_RECONCILE_INTERVAL_MINUTES, "Reconcile awards and deliveries"),
        ("lti.launches_purge", 60, "Purge expired LTI launches"),
    ]
    # The sync interval is when a course is due; checking more often spreads the courses out.
    out = []
    with transaction.atomic():
        for task, minutes, label in wanted:
            every = max(1, minutes if task != "badging.sync_all_due" else min(minutes, 5))
            interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=IntervalSchedule.MINUTES)
            row = PeriodicTask.objects.filter(name=label).first()
            changed = row is None or row.task != task or row.interval_id != interval.pk or not row.enabled
            if changed:
                PeriodicTask.objects.update_or_create(
                    name=label,
                    defaults={"task": task, "interval": interval, "enabled": True, "crontab": None, "kwargs": "{}"},
                )
            out.append((task, every, changed))
    return out
