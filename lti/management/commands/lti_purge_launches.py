from django.core.management.base import BaseCommand

from lti.services.launches import launch_contexts_purge_expired


class Command(BaseCommand):
    help = "Delete launch contexts past their expiry (8 hours after the launch). Safe to run at any time."

    def handle(self, *args, **options):
        deleted = launch_contexts_purge_expired()
        self.stdout.write(self.style.SUCCESS(f"Deleted {deleted} expired launch context(s)"))
