"""badging_rotate_issuer_keys ISSUER_KEY [...]: new signing keys; credentials signed before still verify."""

import getpass

from django.core.management.base import BaseCommand, CommandError

from badging.models import Issuer
from badging.services.issuance.issuer_keys import issuer_key_rotate


class Command(BaseCommand):
    help = "Give issuers new Ed25519 and RSA signing keys. Old keys stay published for credentials already issued."

    def add_arguments(self, parser):
        parser.add_argument("issuer_keys", nargs="*", metavar="ISSUER_KEY", help="Issuer keys (see badging_export)")
        parser.add_argument("--all", action="store_true", help="Rotate the keys of every issuer")

    def handle(self, *args, issuer_keys: list[str], all: bool, **options):
        if bool(issuer_keys) == all:
            raise CommandError("Name issuer keys or pass --all (not both)")
        issuers = list(Issuer.objects.all() if all else Issuer.objects.filter(key__in=issuer_keys))
        missing = sorted(set(issuer_keys) - {i.key for i in issuers})
        if missing:
            raise CommandError(f"No issuer with key {', '.join(missing)}")
        actor = f"command line ({getpass.getuser()})"
        for issuer in issuers:
            keys = issuer_key_rotate(issuer_id=issuer.pk, actor=actor)
            self.stdout.write(
                self.style.SUCCESS(
                    f"{issuer.key}: new keys {keys.ed25519.public_id} (Ed25519), {keys.rsa.public_id} (RS256)"
                )
            )
