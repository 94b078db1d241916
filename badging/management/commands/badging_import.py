"""Import issuers, badge classes and course badges from a JSON file (see the README)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from badging.services.config import ConfigImportError, config_import


class Command(BaseCommand):
    help = "Create or update the configuration in FILE.json (idempotent by key; image paths relative to the file)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the configuration JSON file")

    def handle(self, *args, file, **options):
        path = Path(file)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CommandError(f"file not found: {file}")
        except json.JSONDecodeError as exc:
            raise CommandError(f"{file} is not valid JSON: {exc}")
        try:
            report = config_import(data=data, base_dir=path.resolve().parent)
        except ConfigImportError as exc:
            raise CommandError("the configuration was not imported:\n  " + "\n  ".join(exc.errors))
        for line in report.lines():
            self.stdout.write(line)
