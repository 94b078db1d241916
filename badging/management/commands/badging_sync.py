"""Sync courses from Canvas now, in this process (operators, debugging, cron without Celery)."""

from django.core.management.base import BaseCommand, CommandError

from badging.models import CourseBadge
from badging.services.sync.coordination import course_sync


class Command(BaseCommand):
    help = "Sync the course of one course badge (--course-badge KEY) or of every active course badge (--all)."

    def add_arguments(self, parser):
        parser.add_argument("--course-badge", dest="key", help="key of the course badge whose course to sync")
        parser.add_argument("--all", action="store_true", help="every course with an active course badge")
        parser.add_argument("--full", action="store_true", help="re-read every submission, not only new grades")
        parser.add_argument(
            "--roster", action="store_true", help="re-read the roster now, not only when its interval is due"
        )

    def handle(self, *args, key=None, all=False, full=False, roster=False, **options):
        if bool(key) == bool(all):
            raise CommandError("give either --course-badge KEY or --all")
        badges = CourseBadge.objects.filter(active=True) if all else CourseBadge.objects.filter(key=key)
        course_ids = sorted(set(badges.values_list("course_id", flat=True)))
        if not course_ids:
            raise CommandError(f"no course badge with key {key!r}" if key else "no active course badge")
        failed = 0
        for course_id in course_ids:
            run = course_sync(course_id=course_id, trigger="command", full=full, roster=roster or None)
            if run is None:
                self.stdout.write(f"course {course_id}: a sync is already running; it will pick this request up")
                continue
            line = f"course {course_id}: {run.status}, {run.canvas_requests} Canvas requests"
            if run.error:
                failed += 1
                line += f": {run.error}"
            else:
                line += f", {run.stats.get('progress', {})}"
            self.stdout.write(line)
        if failed:
            raise CommandError(f"{failed} course sync(s) failed")
