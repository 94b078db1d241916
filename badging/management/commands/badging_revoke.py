"""badging_revoke AWARD_ID --reason TEXT: revoke an award (hosted 410, status list, pages, Canvas Credentials)."""

import getpass

from django.core.management.base import BaseCommand, CommandError

from badging.models import Award
from badging.services.issuance.review import award_revoke


class Command(BaseCommand):
    help = (
        "Revoke an issued award. AWARD_ID is the award's public id (from its URL) or its database id. "
        "An id that starts with '-' goes last, after '--': badging_revoke --reason TEXT -- -AbC…"
    )

    def add_arguments(self, parser):
        parser.add_argument("award_id")
        parser.add_argument("--reason", required=True, help="Why it is revoked (shown on the public page)")
        parser.add_argument("--actor", default="", help="Who revokes it (default: the command line user)")

    def handle(self, *args, award_id: str, reason: str, actor: str, **options):
        award = Award.objects.filter(public_id=award_id).first()
        if award is None and award_id.isdigit():
            award = Award.objects.filter(pk=int(award_id)).first()
        if award is None:
            raise CommandError(f"No award {award_id!r}")
        if not reason.strip():
            raise CommandError("--reason must not be empty")
        if award.revoked:
            self.stdout.write(f"Award {award.public_id} was already revoked: {award.revocation_reason}")
            return
        award = award_revoke(award_id=award.pk, reason=reason, actor=actor or f"command line ({getpass.getuser()})")
        self.stdout.write(self.style.SUCCESS(f"Revoked award {award.public_id}: {award.revocation_reason}"))
