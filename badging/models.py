"""The badging domain, in the users' words.

Issuer → BadgeClass → CourseBadge (a badge class offered in a Canvas course, with its rule).
Synced from Canvas per course: Assignment (with its rubric), Enrollment (with grades),
AssessmentResult (a learner's submission on an assignment). Derived: LearnerProgress.
Issued: Award (one live award per badge class and learner, enforced by the database),
Delivery (each notification email and external push), with SyncRun and AuditEvent for the record.
"""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from badging.states import IssueStatus, LearnerState, display_state, issue_failed
from lti.models import Course, Person
from skillsforward.fields import EncryptedTextField


def new_public_id() -> str:
    """Opaque, URL-safe id for public URLs: never a database key. Never starts with "-", which
    command lines (badging_revoke AWARD_ID) would take for an option."""
    while (value := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return value


def new_salt() -> str:
    return secrets.token_hex(16)


class Issuer(models.Model):
    """An Open Badges issuer profile (the organisation that vouches for the badges)."""

    public_id = models.CharField(_("public id"), max_length=64, unique=True, default=new_public_id, editable=False)
    key = models.SlugField(_("key"), max_length=100, unique=True, help_text=_("Stable key for badging_import/export"))
    name = models.CharField(_("name"), max_length=200)
    url = models.URLField(_("url"), max_length=500)
    email = models.EmailField(_("email"), max_length=320)
    description = models.TextField(_("description"), blank=True)
    image = models.BinaryField(_("image"), blank=True, null=True, editable=True)
    image_content_type = models.CharField(_("image content type"), max_length=50, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("issuer")
        verbose_name_plural = _("issuers")

    def __str__(self) -> str:
        return self.name


class IssuerKey(models.Model):
    """An issuer's signing key (Ed25519 for Data Integrity, RSA for VC-JWT); old keys stay published."""

    ALGORITHMS = [("Ed25519", "Ed25519"), ("RS256", "RSA (RS256)")]

    issuer = models.ForeignKey(Issuer, on_delete=models.CASCADE, related_name="keys", verbose_name=_("issuer"))
    public_id = models.CharField(_("public id"), max_length=64, unique=True, default=new_public_id, editable=False)
    algorithm = models.CharField(_("algorithm"), max_length=10, choices=ALGORITHMS)
    private_key_pem = EncryptedTextField(_("private key pem"))
    public_jwk = models.JSONField(_("public jwk"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("issuer key")
        verbose_name_plural = _("issuer keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.issuer} {self.algorithm} {self.public_id}"


class BadgeClass(models.Model):
    """The achievement a badge certifies (OB 2.0 BadgeClass / OB 3.0 Achievement)."""

    public_id = models.CharField(_("public id"), max_length=64, unique=True, default=new_public_id, editable=False)
    key = models.SlugField(_("key"), max_length=100, unique=True)
    issuer = models.ForeignKey(Issuer, on_delete=models.PROTECT, related_name="badge_classes", verbose_name=_("issuer"))
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"))
    image = models.BinaryField(_("image"), editable=True)
    image_content_type = models.CharField(
        _("image content type"), max_length=50, help_text=_("image/png or image/svg+xml")
    )
    criteria_narrative = models.TextField(
        _("criteria narrative"), help_text=_("Markdown: what a learner must do to earn it")
    )
    criteria_url = models.URLField(_("criteria url"), max_length=500, blank=True)
    # [{"targetName", "targetUrl", "targetDescription"?, "targetFramework"?, "targetCode"?}]
    alignments = models.JSONField(_("alignments"), default=list, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    valid_for_days = models.PositiveIntegerField(
        _("valid for days"), null=True, blank=True, help_text=_("Empty: never expires")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("badge class")
        verbose_name_plural = _("badge classes")

    def __str__(self) -> str:
        return self.name


class CourseBadge(models.Model):
    """A badge class offered in a Canvas course, with the rule that earns it."""

    MASTERY_PERCENT = "percent"
    MASTERY_POINTS = "points"
    SCORE_ENTERED = "entered"
    SCORE_AFTER_PENALTIES = "after_penalties"
    FINAL_GRADE_OVERRIDE = "override"
    FINAL_GRADE_ASSIGNMENT = "assignment"

    key = models.SlugField(_("key"), max_length=100, unique=True)
    badge_class = models.ForeignKey(
        BadgeClass, on_delete=models.PROTECT, related_name="course_badges", verbose_name=_("badge class")
    )
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="course_badges", verbose_name=_("course"))
    # Which assignments are the credentialing assessments: explicit ids win over the group name.
    assessment_group_name = models.CharField(
        _("assessment group name"), max_length=255, default="Credentialing Assessments"
    )
    assessment_ids = models.JSONField(
        _("assessment ids"), default=list, blank=True, help_text=_("Canvas assignment ids")
    )
    mastery_mode = models.CharField(
        _("mastery mode"),
        max_length=10,
        choices=[(MASTERY_PERCENT, _("% of points")), (MASTERY_POINTS, _("points"))],
        default=MASTERY_PERCENT,
    )
    mastery_min_percent = models.DecimalField(_("mastery min percent"), max_digits=5, decimal_places=2, default=80)
    mastery_min_points = models.DecimalField(
        _("mastery min points"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    # {"<canvas assignment id>": {"min_percent": N} | {"min_points": N}}
    mastery_overrides = models.JSONField(_("mastery overrides"), default=dict, blank=True)
    # Which Canvas score mastery is judged on: the grader's entered score (before late/missing
    # penalties: a badge certifies the skill, not punctuality) or Canvas's score after them.
    mastery_score = models.CharField(
        _("mastery score"),
        max_length=20,
        choices=[
            (SCORE_ENTERED, _("The score the grader entered (before late penalties)")),
            (SCORE_AFTER_PENALTIES, _("Canvas's score after late/missing penalties")),
        ],
        default=SCORE_ENTERED,
    )
    # Optional minimum rubric rating per criterion, as a share of the criterion's points (0-100).
    min_rubric_criterion_percent = models.DecimalField(
        _("min rubric criterion percent"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    final_grade_source = models.CharField(
        _("final grade source"),
        max_length=12,
        choices=[
            (FINAL_GRADE_OVERRIDE, _("Canvas Final Grade Override")),
            (FINAL_GRADE_ASSIGNMENT, _("A final-grade assignment")),
        ],
        default=FINAL_GRADE_OVERRIDE,
    )
    final_grade_assignment_id = models.CharField(_("final grade assignment id"), max_length=64, blank=True)
    final_grade_assignment_name = models.CharField(_("final grade assignment name"), max_length=255, blank=True)
    active = models.BooleanField(_("active"), default=True)
    # Teaching assistants see the dashboard read-only unless this is on; instructors always act.
    teaching_assistants_may_act = models.BooleanField(
        _("teaching assistants may act"),
        default=False,
        help_text=_("Let teaching assistants act on this badge (sync, retry, revoke, resend, keep)"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("course badge")
        verbose_name_plural = _("course badges")
        constraints = [
            models.UniqueConstraint(fields=["course", "badge_class"], name="badging_coursebadge_unique"),
            models.CheckConstraint(
                condition=Q(mastery_min_percent__gte=0) & Q(mastery_min_percent__lte=100),
                name="badging_coursebadge_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.badge_class} in {self.course}"


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

    class Meta:
        verbose_name = _("course sync")
        verbose_name_plural = _("course syncs")

    def __str__(self) -> str:
        return f"sync of {self.course}"


class CourseStaff(models.Model):
    """A teacher or TA enrollment as the last roster sync read it: before every instructor action
    the launching instructor must still be listed here (when the roster is newer than the launch)."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="staff", verbose_name=_("course"))
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

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="sync_runs", verbose_name=_("course"))
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

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="assignments", verbose_name=_("course"))
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

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments", verbose_name=_("course"))
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

    course = models.ForeignKey(
        Course, on_delete=models.CASCADE, related_name="assessment_results", verbose_name=_("course")
    )
    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, related_name="results", verbose_name=_("assignment")
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


class LearnerProgress(models.Model):
    """A learner's standing on one course badge: the evaluation's output, plus issuance bookkeeping."""

    # The states and issue statuses are defined once, in badging.states; these names are kept
    # because every module says LearnerProgress.ISSUED.
    NOT_STARTED = LearnerState.NOT_STARTED
    IN_PROGRESS = LearnerState.IN_PROGRESS
    AWAITING_FINAL_GRADE = LearnerState.AWAITING_FINAL_GRADE
    ELIGIBLE = LearnerState.ELIGIBLE
    ISSUED = LearnerState.ISSUED
    NOT_EARNED = LearnerState.NOT_EARNED
    REVOKED = LearnerState.REVOKED
    INELIGIBLE = LearnerState.INELIGIBLE
    HELD_ELSEWHERE = LearnerState.HELD_ELSEWHERE

    ISSUE_NONE = IssueStatus.NONE
    ISSUE_QUEUED = IssueStatus.QUEUED
    ISSUE_ISSUING = IssueStatus.ISSUING
    ISSUE_FAILED = IssueStatus.FAILED

    course_badge = models.ForeignKey(
        CourseBadge, on_delete=models.CASCADE, related_name="progress", verbose_name=_("course badge")
    )
    learner = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="badge_progress", verbose_name=_("learner")
    )
    state = models.CharField(_("state"), max_length=30, choices=LearnerState.choices, default=NOT_STARTED)
    mastered_count = models.PositiveIntegerField(_("mastered count"), default=0)
    assessment_count = models.PositiveIntegerField(_("assessment count"), default=0)
    final_grade_entered = models.BooleanField(_("final grade entered"), default=False)
    # Evaluation detail: per assessment and for the final grade, in plain words (the "why not issued?").
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    evaluated_at = models.DateTimeField(_("evaluated at"), null=True, blank=True)
    issue_status = models.CharField(
        _("issue status"), max_length=10, choices=IssueStatus.choices, default=ISSUE_NONE, blank=True
    )
    issue_attempts = models.PositiveIntegerField(_("issue attempts"), default=0)
    issue_error = models.TextField(_("issue error"), blank=True)
    # Queued: when to queue again if no worker took it; being issued: when the worker's lease runs
    # out (it renews it while working); failed: when to retry. The reconciler takes every row past it.
    issue_next_attempt_at = models.DateTimeField(_("issue next attempt at"), null=True, blank=True)
    # The lease of the worker issuing this learner now (a token per batch run), and since when.
    # db_default: the previous release's workers insert rows without this column (README, online migrations).
    issue_claim = models.CharField(_("issue claim"), max_length=32, blank=True, default="", db_default="")
    issue_claimed_at = models.DateTimeField(_("issue claimed at"), null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["course_badge", "learner"], name="badging_progress_unique")]
        indexes = [
            models.Index(fields=["course_badge", "state"], name="badging_progress_state_idx"),
        ]
        verbose_name = _("learner progress")
        verbose_name_plural = _("learner progress")

    @property
    def issue_failed(self) -> bool:
        return issue_failed(state=self.state, issue_status=self.issue_status)

    @property
    def display_state(self) -> str:
        return display_state(state=self.state, issue_status=self.issue_status)


class Award(models.Model):
    """An issued badge: the Open Badges assertion and its OB 3.0 credential.

    At most one live (unrevoked) award per badge class and learner: the database enforces it,
    so racing workers, retried tasks and duplicate events cannot issue twice.
    """

    public_id = models.CharField(_("public id"), max_length=64, unique=True, default=new_public_id, editable=False)
    badge_class = models.ForeignKey(
        BadgeClass, on_delete=models.PROTECT, related_name="awards", verbose_name=_("badge class")
    )
    # A course's badge, or (course_badge empty) a program badge earned by holding course badges.
    course_badge = models.ForeignKey(
        CourseBadge,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="awards",
        verbose_name=_("course badge"),
    )
    program = models.ForeignKey(
        "badging.Program",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="awards",
        verbose_name=_("program badge"),
    )
    learner = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="awards", verbose_name=_("learner"))
    # Set on a copy the learner had issued to another email address of theirs (My badges).
    reissued_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reissues",
        verbose_name=_("re-issued from"),
    )
    # Empty once the learner's personal data was removed (learner_forget): recipient_identity then
    # keeps the salted hash that the assertion and the credential publish, so the badge still verifies.
    recipient_email = models.EmailField(
        _("recipient email"), max_length=320, blank=True, help_text=_("Normalised: trimmed, lowercased")
    )
    recipient_identity = models.CharField(
        _("recipient identity"),
        max_length=80,
        blank=True,
        help_text=_("sha256$… of the email and salt, kept when the email is removed"),
    )
    salt = models.CharField(_("salt"), max_length=64, default=new_salt)
    issued_on = models.DateTimeField(_("issued on"))
    expires = models.DateTimeField(_("expires"), null=True, blank=True)
    evidence_narrative = models.TextField(_("evidence narrative"), blank=True)
    learner_name_public = models.BooleanField(
        _("learner name public"), default=False, help_text=_("The learner opted in to show their name")
    )
    revoked = models.BooleanField(_("revoked"), default=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revocation_reason = models.TextField(_("revocation reason"), blank=True)
    revoked_by = models.CharField(_("revoked by"), max_length=300, blank=True)
    needs_review = models.BooleanField(_("needs review"), default=False, help_text=_("A grade changed after issue"))
    review_reason = models.TextField(_("review reason"), blank=True)
    status_list_index = models.PositiveIntegerField(_("status list index"), unique=True, null=True, blank=True)
    ob3_credential = models.JSONField(_("ob3 credential"), null=True, blank=True)
    ob3_jwt = models.TextField(_("ob3 jwt"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("award")
        verbose_name_plural = _("awards")
        constraints = [
            # A learner's own re-issue to another of their addresses (reissued_from set) is the one
            # exception: at most one live copy of an award per address.
            models.UniqueConstraint(
                fields=["badge_class", "learner"],
                condition=Q(revoked=False) & Q(reissued_from__isnull=True),
                name="badging_award_one_live",
            ),
            models.UniqueConstraint(
                fields=["reissued_from", "recipient_email"],
                condition=Q(revoked=False) & Q(reissued_from__isnull=False),
                name="badging_award_one_live_reissue",
            ),
            models.CheckConstraint(
                condition=Q(revoked=False) | ~Q(revocation_reason=""), name="badging_award_revocation_has_reason"
            ),
            models.CheckConstraint(
                condition=(Q(course_badge__isnull=False) & Q(program__isnull=True))
                | (Q(course_badge__isnull=True) & Q(program__isnull=False)),
                name="badging_award_course_or_program",
            ),
            # An award always names its recipient, in clear or (after learner_forget) as the hash.
            models.CheckConstraint(
                condition=~Q(recipient_email="") | ~Q(recipient_identity=""), name="badging_award_has_recipient"
            ),
        ]
        indexes = [models.Index(fields=["course_badge", "-issued_on"], name="badging_award_course_idx")]

    def __str__(self) -> str:
        return f"{self.badge_class} → {self.recipient_email or 'recipient removed'}"

    @property
    def course(self) -> Course | None:
        """The course the badge was earned in; None for a program badge (earned across courses)."""
        return self.course_badge.course if self.course_badge is not None else None

    @property
    def course_pk(self) -> int | None:
        return self.course_badge.course_id if self.course_badge is not None else None


class AwardImage(models.Model):
    """Baked images, kept apart from Award so that listing awards never loads image bytes."""

    award = models.ForeignKey(Award, on_delete=models.CASCADE, related_name="images", verbose_name=_("award"))
    content_type = models.CharField(_("content type"), max_length=50)
    data = models.BinaryField(_("data"))

    class Meta:
        verbose_name = _("award image")
        verbose_name_plural = _("award images")
        constraints = [models.UniqueConstraint(fields=["award", "content_type"], name="badging_awardimage_unique")]


class Delivery(models.Model):
    """One notification email or external push for an award, with its attempts."""

    KIND_EMAIL = "email"
    KIND_CANVAS_CREDENTIALS = "canvas_credentials"
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"

    award = models.ForeignKey(Award, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("award"))
    kind = models.CharField(
        _("kind"),
        max_length=30,
        choices=[(KIND_EMAIL, gettext_lazy("Email")), (KIND_CANVAS_CREDENTIALS, gettext_lazy("Canvas Credentials"))],
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=[
            (PENDING, gettext_lazy("Pending")),
            (SENDING, gettext_lazy("Sending")),
            (SENT, gettext_lazy("Sent")),
            (FAILED, gettext_lazy("Failed")),
        ],
        default=PENDING,
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # Written and committed before each email goes to the mail server (status "sending", with a
    # lease in next_attempt_at): a worker that died after the server took the email but before
    # "sent" was committed leaves it behind, and the next attempt counts a possible extra email here.
    send_started_at = models.DateTimeField(_("send started at"), null=True, blank=True)
    unconfirmed_sends = models.PositiveIntegerField(
        _("unconfirmed sends"),
        default=0,
        db_default=0,  # the previous release's workers insert rows without it (README, online migrations)
        help_text=_(
            "Sends whose outcome is unknown (the worker died or the connection dropped): "
            "the learner may have received this many extra emails"
        ),
    )
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    external_id = models.CharField(_("external id"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["award", "kind"], name="badging_delivery_unique")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="badging_delivery_due_idx")]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")


class CanvasCredentialsConnection(models.Model):
    """Canvas Credentials (Badgr) API v2 for an issuer: awards are also issued there when enabled."""

    issuer = models.OneToOneField(
        Issuer, on_delete=models.CASCADE, related_name="canvas_credentials", verbose_name=_("issuer")
    )
    enabled = models.BooleanField(_("enabled"), default=False)
    api_base_url = models.URLField(_("api base url"), max_length=300, default="https://api.badgr.io")
    username = models.CharField(_("username"), max_length=300, blank=True)
    password = EncryptedTextField(_("password"), blank=True)
    client_id = models.CharField(_("client id"), max_length=300, blank=True)
    client_secret = EncryptedTextField(_("client secret"), blank=True)
    access_token = EncryptedTextField(_("access token"), blank=True)
    refresh_token = EncryptedTextField(_("refresh token"), blank=True)
    token_expires_at = models.DateTimeField(_("token expires at"), null=True, blank=True)
    # {"<badge class key>": "<Badgr badge class entityId>"}
    badge_class_entity_ids = models.JSONField(_("badge class entity ids"), default=dict, blank=True)
    # Learners already get our email; a second one from Canvas Credentials is opt-in.
    notify_recipients = models.BooleanField(
        _("notify recipients"),
        default=False,
        help_text=_("Also let Canvas Credentials email the learner about the award"),
    )
    last_error = models.TextField(_("last error"), blank=True)
    # The last push or revocation as Canvas Credentials answered it (its own words), for the admin.
    last_result = models.TextField(_("last result"), blank=True)
    last_result_at = models.DateTimeField(_("last result at"), null=True, blank=True)
    # What the last token was granted: password logins get every scope of the account.
    token_scope = models.CharField(_("token scope"), max_length=300, blank=True)
    # A refused login is not retried (Badgr locks the account out for up to an hour after failed
    # logins) until the credentials differ from the ones refused: the fingerprint tells.
    login_refused_at = models.DateTimeField(_("login refused at"), null=True, blank=True)
    login_refused_fingerprint = models.CharField(_("login refused fingerprint"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("canvas credentials connection")
        verbose_name_plural = _("canvas credentials connections")

    def __str__(self) -> str:
        return f"Canvas Credentials for {self.issuer}"

    def credentials_fingerprint(self) -> str:
        """A keyed digest of the login settings (never the secrets themselves)."""
        material = "\x1f".join([self.api_base_url, self.username, self.password, self.client_id, self.client_secret])
        return hmac.new(settings.SECRET_KEY.encode(), material.encode(), hashlib.sha256).hexdigest()

    @property
    def login_refused(self) -> bool:
        """Canvas Credentials refused these very credentials: an admin has to change them."""
        return bool(self.login_refused_at) and self.login_refused_fingerprint == self.credentials_fingerprint()


class AuditEvent(models.Model):
    """Who did what, when: instructor and admin actions."""

    at = models.DateTimeField(_("at"), auto_now_add=True)
    actor = models.CharField(
        _("actor"), max_length=300, help_text=_("e.g. 'Ada Teacher (Canvas user 12)' or 'admin:alice'")
    )
    actor_person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("actor person")
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor user"),
    )
    action = models.CharField(_("action"), max_length=60)
    course = models.ForeignKey(
        Course, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("course")
    )
    award = models.ForeignKey(
        Award, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("award")
    )
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at"]
        indexes = [models.Index(fields=["course", "-at"], name="badging_audit_course_idx")]


class WalletOffer(models.Model):
    """An OpenID for Verifiable Credential Issuance offer (pre-authorised code flow) of one award to
    the learner's wallet. Codes, tokens and nonces are stored as SHA-256 hashes only: a database
    reader cannot claim a badge. Each step works once and within its time: the code is exchanged
    for one access token, which fetches one credential."""

    award = models.ForeignKey(Award, on_delete=models.CASCADE, related_name="wallet_offers", verbose_name=_("award"))
    code_hash = models.CharField(_("code hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    code_expires_at = models.DateTimeField(_("code expires at"))
    code_used_at = models.DateTimeField(_("code used at"), null=True, blank=True)
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, null=True, blank=True)
    token_expires_at = models.DateTimeField(_("token expires at"), null=True, blank=True)
    nonce_hash = models.CharField(_("nonce hash"), max_length=64, blank=True)
    nonce_expires_at = models.DateTimeField(_("nonce expires at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    holder_id = models.CharField(
        _("holder id"), max_length=2000, blank=True, help_text=_("The wallet's DID the credential was bound to")
    )
    credential_id = models.CharField(_("credential id"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("wallet offer")
        verbose_name_plural = _("wallet offers")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Wallet offer of {self.award_id} at {self.created_at:%Y-%m-%d %H:%M}"


# The learner's backpack (collections) lives in its own module; importing it here registers its models.
from badging.models_backpack import Collection, CollectionItem, LearnerEmail  # noqa: E402, F401
from badging.models_programs import Program, ProgramProgress, ProgramRequirement  # noqa: E402, F401
