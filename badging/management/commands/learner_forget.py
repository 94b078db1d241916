"""learner_forget: remove a learner's personal data on request; their badges stay verifiable."""

import getpass

from django.core.management.base import BaseCommand, CommandError

from badging.services import privacy


class Command(BaseCommand):
    help = (
        "Remove a learner's personal data (name, email, grades, results, progress, launches, and their name and "
        "email in audit text) while every badge issued to them stays verifiable. Give --platform and "
        "--canvas-user-id, or --email. A later sync reads a learner Canvas still lists again: remove them in "
        "Canvas too."
    )

    def add_arguments(self, parser):
        parser.add_argument("--platform", default="", help="the platform's database id, LTI client id or name")
        parser.add_argument("--canvas-user-id", default="", help="the learner's Canvas user id on that platform")
        parser.add_argument("--email", default="", help="the learner's email (every learner stored with it)")
        parser.add_argument("--dry-run", action="store_true", help="report what would be removed, change nothing")
        parser.add_argument("--actor", default="", help="who asks for it (default: the command line user)")

    def handle(self, *args, platform: str, canvas_user_id: str, email: str, dry_run: bool, actor: str, **options):
        if bool(canvas_user_id) == bool(email):
            raise CommandError("give --platform with --canvas-user-id, or --email (not both)")
        try:
            found = privacy.platform_find(reference=platform) if platform else None
            report = privacy.learner_forget(
                actor=actor or f"command line ({getpass.getuser()})",
                platform=found,
                canvas_user_id=canvas_user_id,
                email=email,
                dry_run=dry_run,
            )
        except privacy.LearnerForgetError as exc:
            raise CommandError(str(exc)) from exc
        if not report.learners:
            self.stdout.write("No stored learner matches: nothing to remove.")
            return
        verb = "Would remove" if dry_run else "Removed"
        self.stdout.write(f"{verb}, for {report.learners} learner record(s):")
        for kind, label in privacy.KINDS.items():
            self.stdout.write(f"  {report.removed.get(kind, 0):6d}  {label}")
        if not report.anything_removed:
            self.stdout.write("Nothing to remove: this learner's personal data was already removed.")
        elif dry_run:
            self.stdout.write("Dry run: nothing was changed.")
        else:
            self.stdout.write(self.style.SUCCESS("Done. Their badges stay verifiable; public pages show no name."))
