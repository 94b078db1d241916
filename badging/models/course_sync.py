"""A Canvas course as the last sync read it (assignments with their rubrics, student enrollments
with grades, submissions, teachers and TAs) and the sync's own bookkeeping (CourseSync, SyncRun)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from lti.models import Course, Person


class CourseSync(models.Model):
    """Per-course sync bookkeeping: one row per course, also the lock holder's record."""

    course = models.OneToOneField(Course, on_delete=models.CASCADE, related_name="sync_state", verbose_name=_("course"))
    last_full_sync_at = models.DateTimeField(_("last full sync at"), null=True, blank=True)
    last_synced_at = models.DateTimeField(_("last synced at"), null=True, blank=True)
    # graded_since watermark for incremental submission syncs (Canvas time of the last full/incremental pass).
    submissions_graded_since = models.DateTimeField(_("submissions graded since"), null=True, blank=True)
    # Canvas's course setting "Allow final grade override" as last read (None: not read yet). Off,
    # Canvas reports no override at all, so a rule on the Final Grade Override cannot be met.
    allow_final_grade_override = models.BooleanField(_("allow final grade override"), null=True, blank=True)
    last_status = models.CharField(_("last status"), max_length=20, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    requested_at = models.DateTimeField(_("requested at"), null=True, blank=True)
    # When the roster pass last read the course's teachers and TAs (CourseStaff).
    staff_synced_at = models.DateTimeField(_("staff synced at"), null=True, blank=True)
    # When the last successful roster pass began: the next one is due BADGING_ROSTER_INTERVAL_MINUTES later.
    roster_read_at = models.DateTimeField(_("roster read at"), null=True, blank=True)
    # The credentialing assessments whose submissions the last successful sync read: one added since
    # has its whole history read once, the others only their new grades (graded_since).
    synced_assignment_ids = models.JSONField(_("synced assignment ids"), default=list, db_default=[], blank=True)
    # Learners Live Events named since the last sync: the next one re-reads their enrollments
    # (learners_marked) or their graded-but-unposted results (postings_marked), then clears the list.
    learners_marked = models.JSONField(_("learners marked"), default=list, db_default=[], blank=True)
    postings_marked = models.JSONField(_("postings marked"), default=list, db_default=[], blank=True)
    # A sync that failed because Canvas was down or throttling is asked again at this time, by the
    # reconciler (kept here, not as a delayed task, so a broker that loses its queue loses no retry).
    retry_at = models.DateTimeField(_("retry at"), null=True, blank=True)

    class Meta:
        verbose_name = _("course sync")
        verbose_name_plural = _("course syncs")

    def __str__(self) -> str:
        return f"sync of {self.course}"


class CourseStaff(models.Model):
    """A teacher or TA enrollment as the last roster sync read it: before every instructor action
    the launching instructor must still be listed here (when the roster is newer than the launch)."""

    # Indexed by a composite index that starts with it: its own index only slows writes.
    course = models.ForeignKey(
        Course, on_delete=models.CASCADE, related_name="staff", verbose_name=_("course"), db_index=False
    )
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="staff_enrollments", verbose_name=_("person")
    )
    canvas_enrollment_id = models.CharField(_("canvas enrollment id"), max_length=64)
    enrollment_type = models.CharField(_("enrollment type"), max_length=40)
    state = models.CharField(_("state"), max_length=20)
    synced_at = models.DateTimeField(_("synced at"), auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "canvas_enrollment_id"], name="badging_coursestaff_unique")
        ]
        indexes = [models.Index(fields=["course", "person"], name="badging_coursestaff_person_idx")]
        verbose_name = _("course staff")
        verbose_name_plural = _("course staff")

    def __str__(self) -> str:
        return f"{self.person} ({self.enrollment_type}, {self.state}) in {self.course}"


class SyncRun(models.Model):
    STATUS_RUNNING = "running"
    STATUS_OK = "ok"
    STATUS_FAILED = "failed"

    # Indexed by a composite index that starts with it: its own index only slows writes.
    course = models.ForeignKey(
        Course, on_delete=models.CASCADE, related_name="sync_runs", verbose_name=_("course"), db_index=False
    )
    kind = models.CharField(_("kind"), max_length=20, choices=[("full", _("Full")), ("incremental", _("Incremental"))])
    trigger = models.CharField(_("trigger"), max_length=30, blank=True)
    status = models.CharField(_("status"), max_length=20, default=STATUS_RUNNING)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    canvas_requests = models.PositiveIntegerField(_("canvas requests"), default=0)
    error = models.TextField(_("error"), blank=True)
    stats = models.JSONField(_("stats"), default=dict, blank=True)

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["course", "-started_at"], name="badging_syncrun_course_idx")]


class Assignment(models.Model):
    """A Canvas assignment as last synced, with its rubric snapshot."""

    # Indexed by a composite index that starts with it: its own index only slows writes.
    course = models.ForeignKey(
        Course, on_delete=models.CASCADE, related_name="assignments", verbose_name=_("course"), db_index=False
    )
    canvas_assignment_id = models.CharField(_("canvas assignment id"), max_length=64)
    name = models.CharField(_("name"), max_length=500)
    assignment_group_id = models.CharField(_("assignment group id"), max_length=64, blank=True)
    assignment_group_name = models.CharField(_("assignment group name"), max_length=500, blank=True)
    points_possible = models.DecimalField(_("points possible"), max_digits=10, decimal_places=2, null=True, blank=True)
    grading_type = models.CharField(_("grading type"), max_length=30, blank=True)
    published = models.BooleanField(_("published"), default=True)
    position = models.IntegerField(_("position"), default=0)
    html_url = models.URLField(_("html url"), max_length=1000, blank=True)
    # Canvas "rubric": [{"id","description","long_description","points","ratings":[{"id","description","points"}]}]
    rubric = models.JSONField(_("rubric"), default=list, blank=True)
    rubric_title = models.CharField(_("rubric title"), max_length=500, blank=True)
    deleted_in_canvas = models.BooleanField(_("deleted in canvas"), default=False)
    synced_at = models.DateTimeField(_("synced at"), auto_now=True)

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        constraints = [
            models.UniqueConstraint(fields=["course", "canvas_assignment_id"], name="badging_assignment_unique")
        ]
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Enrollment(models.Model):
    """A learner's student enrollment in a course (one row per Canvas enrollment, i.e. per section)."""

    # Indexed by (course, canvas_enrollment_id) and (course, learner): its own index only slows writes.
    course = models.ForeignKey(
        Course, on_delete=models.CASCADE, related_name="enrollments", verbose_name=_("course"), db_index=False
    )
    learner = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="enrollments", verbose_name=_("learner"))
    canvas_enrollment_id = models.CharField(_("canvas enrollment id"), max_length=64)
    section_id = models.CharField(_("section id"), max_length=64, blank=True)
    enrollment_type = models.CharField(_("enrollment type"), max_length=40, default="StudentEnrollment")
    state = models.CharField(
        _("state"), max_length=20, help_text=_("active, completed, inactive, deleted, rejected, invited")
    )
    is_test_user = models.BooleanField(_("is test user"), default=False)
    current_score = models.DecimalField(_("current score"), max_digits=8, decimal_places=2, null=True, blank=True)
    final_score = models.DecimalField(_("final score"), max_digits=8, decimal_places=2, null=True, blank=True)
    override_score = models.DecimalField(_("override score"), max_digits=8, decimal_places=2, null=True, blank=True)
    override_grade = models.CharField(_("override grade"), max_length=40, blank=True)
    synced_at = models.DateTimeField(_("synced at"), auto_now=True)

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            models.UniqueConstraint(fields=["course", "canvas_enrollment_id"], name="badging_enrollment_unique")
        ]
        indexes = [models.Index(fields=["course", "learner"], name="badging_enrollment_learner_idx")]


class AssessmentResult(models.Model):
    """A learner's submission on an assignment as Canvas has it (only posted grades count)."""

    # Both indexed by the composite indexes that start with them, (course, learner) and
    # (assignment, learner): their own indexes only slowed the sync's writes.
    course = models.ForeignKey(
        Course, on_delete=models.CASCADE, related_name="assessment_results", verbose_name=_("course"), db_index=False
    )
    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, related_name="results", verbose_name=_("assignment"), db_index=False
    )
    learner = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="assessment_results", verbose_name=_("learner")
    )
    canvas_submission_id = models.CharField(_("canvas submission id"), max_length=64, blank=True)
    workflow_state = models.CharField(
        _("workflow state"), max_length=30, blank=True, help_text=_("unsubmitted, submitted, pending_review, graded")
    )
    # Canvas's score: after the late/missing policy's deductions.
    score = models.DecimalField(_("score"), max_digits=10, decimal_places=2, null=True, blank=True)
    # What the grader entered, before deductions (Canvas's entered_score), and the deduction.
    entered_score = models.DecimalField(_("entered score"), max_digits=10, decimal_places=2, null=True, blank=True)
    points_deducted = models.DecimalField(_("points deducted"), max_digits=10, decimal_places=2, null=True, blank=True)
    grade = models.CharField(_("grade"), max_length=40, blank=True)
    excused = models.BooleanField(_("excused"), default=False)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    graded_at = models.DateTimeField(_("graded at"), null=True, blank=True)
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)
    # Canvas rubric_assessment: {"<criterion id>": {"points", "rating_id", "comments"}}
    rubric_assessment = models.JSONField(_("rubric assessment"), default=dict, blank=True)
    synced_at = models.DateTimeField(_("synced at"), auto_now=True)

    class Meta:
        verbose_name = _("assessment result")
        verbose_name_plural = _("assessment results")
        constraints = [models.UniqueConstraint(fields=["assignment", "learner"], name="badging_result_unique")]
        indexes = [models.Index(fields=["course", "learner"], name="badging_result_learner_idx")]

    @property
    def is_posted(self) -> bool:
        return self.posted_at is not None
