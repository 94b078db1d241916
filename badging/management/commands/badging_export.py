"""Export issuers, badge classes and course badges as JSON that badging_import accepts."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from badging.services.config import config_export


class Command(BaseCommand):
    help = "Write the configuration as JSON to --out FILE (default: standard output). Images are data: URIs."

    def add_arguments(self, parser):
        parser.add_argument("--out", help="file to write")

    def handle(self, *args, out=None, **options):
        text = json.dumps(config_export(), indent=2, ensure_ascii=False) + "\n"
        if out:
            Path(out).write_text(text, encoding="utf-8")
            self.stderr.write(f"configuration written to {out}")
        else:
            self.stdout.write(text, ending="")
