from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from skillsforward.fields import encrypted_values_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (Canvas API tokens, private keys, ...) with the first key of "
        "FIELD_ENCRYPTION_KEY. Rotate: put the new key first (new,old), run this, then remove the old key."
    )

    def handle(self, *args, **options):
        try:
            counts = encrypted_values_rotate()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        for label, count in sorted(counts.items()):
            self.stdout.write(f"{label}: {count} re-encrypted")
        self.stdout.write(self.style.SUCCESS("Every stored secret is encrypted with the first FIELD_ENCRYPTION_KEY."))
