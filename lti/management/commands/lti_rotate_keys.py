from django.core.management.base import BaseCommand

from lti.services.tool_keys import tool_key_rotate


class Command(BaseCommand):
    help = (
        "Add a new LTI signing key. The previous key stays in the JWKS for LTI_KEY_ROTATION_GRACE_DAYS, "
        "then is removed (keys past their grace period are deleted by this command)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--grace-days", type=int, default=None)

    def handle(self, *args, **options):
        rotation = tool_key_rotate(grace_days=options["grace_days"])
        self.stdout.write(self.style.SUCCESS(f"New signing key {rotation.new_key.kid}"))
        for kid in rotation.superseded:
            self.stdout.write(f"Superseded {kid}: published for {rotation.grace_days} more days")
        for kid in rotation.retired:
            self.stdout.write(f"Removed {kid}: past its grace period")
