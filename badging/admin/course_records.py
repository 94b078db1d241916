"""Admin for what Canvas says and what the sync made of it, read-only: assignments, enrollments,
assessment results, learners' progress, course syncs and sync runs.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from badging.admin.common import ReadOnlyAdmin, _shortened
from badging.models import AssessmentResult, Assignment, CourseSync, Enrollment, LearnerProgress, SyncRun


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["name", "course", "assignment_group_name", "points_possible", "published", "rubric_size"]
    list_filter = ["published", "deleted_in_canvas"]
    list_select_related = ["course"]
    search_fields = ["name", "canvas_assignment_id", "course__name", "course__canvas_course_id"]
    readonly_fields = ["rubric_table"]
    exclude = ["rubric"]

    @admin.display(description=gettext_lazy("Rubric criteria"))
    def rubric_size(self, obj: Assignment) -> int:
        return len(obj.rubric or [])

    @admin.display(description=gettext_lazy("Rubric"))
    def rubric_table(self, obj: Assignment):
        rows = [
            (
                c.get("description", ""),
                c.get("points", ""),
                "; ".join(f"{r.get('description', '')} ({r.get('points', '')})" for r in c.get("ratings") or []),
            )
            for c in obj.rubric or []
            if isinstance(c, dict)
        ]
        if not rows:
            return _("No rubric.")
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html("<table><tr><th>Criterion</th><th>Points</th><th>Ratings</th></tr>{}</table>", body)


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdmin):
    list_display = ["learner", "course", "state", "section_id", "is_test_user", "override_score", "override_grade"]
    list_filter = ["state", "is_test_user", "enrollment_type"]
    list_select_related = ["learner", "course"]
    search_fields = ["learner__name", "learner__email", "learner__canvas_user_id", "course__canvas_course_id"]


@admin.register(AssessmentResult)
class AssessmentResultAdmin(ReadOnlyAdmin):
    list_display = ["learner", "assignment", "workflow_state", "score", "excused", "posted", "graded_at"]
    list_filter = ["workflow_state", "excused"]
    list_select_related = ["learner", "assignment"]
    search_fields = ["learner__name", "learner__email", "assignment__name", "course__canvas_course_id"]

    @admin.display(boolean=True, description=gettext_lazy("Posted"))
    def posted(self, obj: AssessmentResult) -> bool:
        return obj.is_posted


@admin.register(LearnerProgress)
class LearnerProgressAdmin(ReadOnlyAdmin):
    list_display = [
        "learner",
        "course_badge",
        "state",
        "mastered",
        "final_grade_entered",
        "issue_status",
        "issue_failure",
        "evaluated_at",
    ]
    list_filter = ["state", "issue_status", "final_grade_entered"]
    list_select_related = ["learner", "course_badge__badge_class", "course_badge__course"]
    search_fields = ["learner__name", "learner__email", "learner__canvas_user_id"]
    readonly_fields = ["detail_pretty"]
    exclude = ["detail"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("course_badge__badge_class__image")

    @admin.display(description=gettext_lazy("Mastered"))
    def mastered(self, obj: LearnerProgress) -> str:
        return f"{obj.mastered_count} of {obj.assessment_count}"

    @admin.display(description=gettext_lazy("Issuing failed"))
    def issue_failure(self, obj: LearnerProgress) -> str:
        if not obj.issue_failed:
            return ""
        retry = (
            f" Next try {timezone.localtime(obj.issue_next_attempt_at):%Y-%m-%d %H:%M}."
            if obj.issue_next_attempt_at
            else ""
        )
        error = _shortened(obj.issue_error, 160)
        return f"{error} (attempt {obj.issue_attempts}).{retry}"

    @admin.display(description=gettext_lazy("Evaluation detail"))
    def detail_pretty(self, obj: LearnerProgress):
        return format_html("<pre>{}</pre>", json.dumps(obj.detail, indent=2, ensure_ascii=False))


@admin.register(CourseSync)
class CourseSyncAdmin(ReadOnlyAdmin):
    list_display = ["course", "last_synced_at", "last_full_sync_at", "last_status", "requested_at"]
    list_filter = ["last_status"]
    list_select_related = ["course"]
    search_fields = ["course__name", "course__canvas_course_id"]


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ["course", "kind", "trigger", "status", "started_at", "finished_at", "canvas_requests"]
    list_display += ["error_short"]
    list_filter = ["status", "kind", "trigger"]
    list_select_related = ["course"]
    search_fields = ["course__name", "course__canvas_course_id", "error"]
    readonly_fields = ["stats_pretty"]
    exclude = ["stats"]

    @admin.display(description=gettext_lazy("Error"))
    def error_short(self, obj: SyncRun) -> str:
        return _shortened(obj.error, 120)

    @admin.display(description=gettext_lazy("Results"))
    def stats_pretty(self, obj: SyncRun):
        return format_html("<pre>{}</pre>", json.dumps(obj.stats, indent=2, ensure_ascii=False))
