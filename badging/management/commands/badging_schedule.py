"""Write the periodic schedule (django-celery-beat rows) that keeps courses synced and awards reconciled."""

from django.core.management.base import BaseCommand

from badging.services.programs import programs_beat_schedule_write
from badging.services.sync.schedule import beat_schedule_write


class Command(BaseCommand):
    help = (
        "Create or update the periodic tasks badging.sync_all_due, badging.reconcile and "
        "badging.programs_reconcile (idempotent)."
    )

    def handle(self, *args, **options):
        for task, minutes, changed in [*beat_schedule_write(), programs_beat_schedule_write()]:
            self.stdout.write(f"{task}: every {minutes} min ({'written' if changed else 'already up to date'})")
