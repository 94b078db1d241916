"""A fake Canvas: just enough of its data model to answer the REST and LTI calls the tool makes.

Primary keys double as Canvas ids (integers, as in the REST API). One SandboxInstance is one
Canvas (its own issuer, keys, developer key for the tool, REST throttle and injected faults).

Over 400 lines on purpose: it is one schema (every table hangs off SandboxInstance through
courses and users), it changes only when the sandbox imitates more of Canvas's data model, and
migration 0001 refers to `sandbox.models.new_lti_sub` and `new_context_id` by this path.
"""

import hashlib
import secrets
import uuid

from django.db import models
from django.db.models import Q


def new_lti_sub() -> str:
    return str(uuid.uuid4())


def new_context_id() -> str:
    return secrets.token_hex(20)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


DEFAULT_CUSTOM_FIELDS = {
    "canvas_user_id": "$Canvas.user.id",
    "canvas_course_id": "$Canvas.course.id",
    "canvas_api_base_url": "$Canvas.api.baseUrl",
    "email": "$Person.email.primary",
    "concluded_roles": "$Canvas.membership.concludedRoles",
}


class SandboxInstance(models.Model):
    """One fake Canvas with the tool's developer key installed in it."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    base_url = models.URLField(
        max_length=300, help_text="Origin the sandbox is served from, e.g. http://localhost:8001"
    )
    # Hosted Canvas has one LTI issuer for every customer (https://canvas.instructure.com), on
    # another host than the institution's: set this to another origin of the same sandbox server
    # (e.g. http://127.0.0.1:8001 next to http://localhost:8001) to behave that way. Empty: base_url.
    issuer_base_url = models.URLField(max_length=300, blank=True)
    # The tool's LTI 1.3 developer key and its deployment in this instance.
    tool_name = models.CharField(max_length=100, default="Badges")
    client_id = models.CharField(max_length=64)
    deployment_id = models.CharField(max_length=255)
    tool_login_url = models.URLField(max_length=500)
    tool_launch_url = models.URLField(max_length=500)
    tool_jwks_url = models.URLField(max_length=500)
    tool_custom_fields = models.JSONField(default=dict, blank=True)
    # Signed Live Events are POSTed here when set (the tool's /events/canvas/<platform key>/).
    live_events_url = models.URLField(max_length=500, blank=True)
    # REST throttle (Canvas: leaky bucket per token, 700 units, leaks 10/s, 50 reserved up front).
    throttle_bucket_size = models.FloatField(default=700.0)
    throttle_leak_per_second = models.FloatField(default=10.0)
    throttle_upfront_cost = models.FloatField(default=50.0)
    # Fixed cost per request for throttle tests; null: the measured seconds, as Canvas counts them.
    request_cost = models.FloatField(null=True, blank=True)
    # Injected faults for benchmarks and fault tests.
    latency_ms = models.PositiveIntegerField(default=0)
    error_rate = models.FloatField(default=0.0, help_text="Share of REST requests answered 503 (0-1)")
    malformed_rate = models.FloatField(
        default=0.0, help_text="Share of successful REST answers sent as a 200 whose body is not JSON (0-1)"
    )
    truncated_rate = models.FloatField(
        default=0.0, help_text="Share of successful REST answers whose JSON body is cut in half (0-1)"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(error_rate__gte=0) & Q(error_rate__lte=1), name="sandbox_error_rate_0_1"
            ),
            models.CheckConstraint(condition=Q(throttle_bucket_size__gt=0), name="sandbox_bucket_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def root_url(self) -> str:
        """What Canvas calls the API domain: REST lives under <root_url>/api/v1."""
        return f"{self.base_url.rstrip('/')}/sandbox/{self.slug}"

    @property
    def issuer(self) -> str:
        if self.issuer_base_url:
            return f"{self.issuer_base_url.rstrip('/')}/sandbox/{self.slug}"
        return self.root_url

    @property
    def openid_configuration_url(self) -> str:
        """Served on the issuer's host, as Canvas does (dynamic_registration_controller.rb
        `oidc_configuration_url`), not on the institution's."""
        return f"{self.issuer}/api/lti/security/openid-configuration"

    @property
    def registration_endpoint(self) -> str:
        return f"{self.issuer}/api/lti/registrations"

    @property
    def lti_guid(self) -> str:
        """The root account's lti_guid: a launch's tool_platform.guid and a Live Event's
        root_account_lti_guid, which the tool compares."""
        return f"sandbox-{self.slug}"

    def nrps_url(self, course_id: int) -> str:
        """The course's Names and Role Provisioning Services membership URL."""
        return f"{self.root_url}/api/lti/courses/{course_id}/names_and_roles"

    @property
    def auth_login_url(self) -> str:
        return f"{self.root_url}/api/lti/authorize_redirect"

    @property
    def auth_token_url(self) -> str:
        return f"{self.root_url}/login/oauth2/token"

    @property
    def keyset_url(self) -> str:
        return f"{self.root_url}/api/lti/security/jwks"


class PlatformKey(models.Model):
    """The instance's RSA key that signs id_tokens. Canvas publishes previous, current and next keys."""

    CURRENT = "current"
    PREVIOUS = "previous"
    RETIRED = "retired"

    instance = models.ForeignKey(SandboxInstance, on_delete=models.CASCADE, related_name="keys")
    kid = models.CharField(max_length=64, unique=True)
    private_key_pem = models.TextField()
    public_jwk = models.JSONField()
    status = models.CharField(max_length=10, default=CURRENT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance"], condition=Q(status="current"), name="sandbox_one_current_key_per_instance"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.status})"


class LiveEventsKey(models.Model):
    """A key that signs Live Events ("Sign Payload"). Hosted Canvas signs every customer's events
    with Instructure's keys, not a platform's LTI key, so these are shared by every sandbox instance
    and published apart from the LTI keys; the set lists the previous, current and next key
    (canvas-lms doc/api/data_services/md/static/data_service_setup.md)."""

    PREVIOUS = "previous"
    CURRENT = "current"
    NEXT = "next"
    RETIRED = "retired"

    kid = models.CharField(max_length=64, unique=True)
    private_key_pem = models.TextField()
    public_jwk = models.JSONField()
    status = models.CharField(max_length=10)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="current"), name="sandbox_one_current_le_key"
            ),
            models.UniqueConstraint(fields=["status"], condition=Q(status="next"), name="sandbox_one_next_le_key"),
            models.CheckConstraint(
                condition=Q(status__in=["previous", "current", "next", "retired"]), name="sandbox_le_key_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.status})"


class SandboxUser(models.Model):
    instance = models.ForeignKey(SandboxInstance, on_delete=models.CASCADE, related_name="users")
    name = models.CharField(max_length=255)
    sortable_name = models.CharField(max_length=255)
    short_name = models.CharField(max_length=255)
    login_id = models.CharField(max_length=255)
    sis_user_id = models.CharField(max_length=255, blank=True)
    lti_sub = models.CharField(max_length=64, unique=True, default=new_lti_sub)
    is_account_admin = models.BooleanField(default=False)
    # Canvas creates one "Test Student" per course for Student View.
    is_test_user = models.BooleanField(default=False)
    # The user's language setting in Canvas (Account > Settings > Language); blank: the default, English.
    locale = models.CharField(max_length=35, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sortable_name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def primary_email(self) -> str:
        """Canvas's User#email: the first unretired email channel by position."""
        channels = getattr(self, "email_channels", None)
        if channels is None:
            channels = [c for c in self.channels.all() if c.channel_type == "email" and c.workflow_state != "retired"]
            channels.sort(key=lambda c: (c.position, c.id))
        return channels[0].address if channels else ""


class CommunicationChannel(models.Model):
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="channels")
    address = models.CharField(max_length=320)
    channel_type = models.CharField(max_length=20, default="email")
    position = models.PositiveIntegerField(default=1)
    workflow_state = models.CharField(max_length=20, default="active")  # active, unconfirmed, retired

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["user", "position"], name="sandbox_channel_user_pos")]

    def __str__(self) -> str:
        return f"{self.address} (#{self.position})"


class SandboxCourse(models.Model):
    instance = models.ForeignKey(SandboxInstance, on_delete=models.CASCADE, related_name="courses")
    name = models.CharField(max_length=255)
    course_code = models.CharField(max_length=255)
    sis_course_id = models.CharField(max_length=255, blank=True)
    lti_context_id = models.CharField(max_length=64, unique=True, default=new_context_id)
    workflow_state = models.CharField(max_length=20, default="available")  # available, completed
    allow_final_grade_override = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class CourseSection(models.Model):
    course = models.ForeignKey(SandboxCourse, on_delete=models.CASCADE, related_name="sections")
    name = models.CharField(max_length=255)

    def __str__(self) -> str:
        return self.name


ROLE_LABELS = {
    "StudentEnrollment": "Student",
    "TeacherEnrollment": "Teacher",
    "TaEnrollment": "TA",
    "DesignerEnrollment": "Designer",
    "StudentViewEnrollment": "Test Student",
}
# Who grades and who is graded (the Student View user is graded like any student).
GRADER_TYPES = ("TeacherEnrollment", "TaEnrollment")
STUDENT_TYPES = ("StudentEnrollment", "StudentViewEnrollment")


class SandboxEnrollment(models.Model):
    TYPES = ["StudentEnrollment", "TeacherEnrollment", "TaEnrollment", "DesignerEnrollment", "StudentViewEnrollment"]
    STATES = ["active", "invited", "completed", "inactive", "deleted"]

    course = models.ForeignKey(SandboxCourse, on_delete=models.CASCADE, related_name="enrollments")
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="enrollments")
    section = models.ForeignKey(CourseSection, on_delete=models.CASCADE, related_name="enrollments")
    type = models.CharField(max_length=30, default="StudentEnrollment")
    workflow_state = models.CharField(max_length=20, default="active")
    # Computed from submissions (see services.enrollment_grades_recompute); *_unposted count hidden grades too.
    current_score = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    final_score = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    unposted_current_score = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    unposted_final_score = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    # The instructor's Final Grade Override.
    override_score = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["course", "user", "section", "type"], name="sandbox_enrollment_unique"),
            models.CheckConstraint(
                condition=Q(
                    type__in=[
                        "StudentEnrollment",
                        "TeacherEnrollment",
                        "TaEnrollment",
                        "DesignerEnrollment",
                        "StudentViewEnrollment",
                    ]
                ),
                name="sandbox_enrollment_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(workflow_state__in=["active", "invited", "completed", "inactive", "deleted"]),
                name="sandbox_enrollment_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.type} ({self.workflow_state})"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.type, self.type)


class AssignmentGroup(models.Model):
    course = models.ForeignKey(SandboxCourse, on_delete=models.CASCADE, related_name="assignment_groups")
    name = models.CharField(max_length=255)
    position = models.PositiveIntegerField(default=1)
    group_weight = models.FloatField(default=0.0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Rubric(models.Model):
    """Criteria as Canvas stores them: [{id, description, long_description, points, ratings: [...]}]."""

    course = models.ForeignKey(SandboxCourse, on_delete=models.CASCADE, related_name="rubrics")
    title = models.CharField(max_length=255)
    data = models.JSONField(default=list)
    free_form_criterion_comments = models.BooleanField(default=False)
    hide_score_total = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.title

    @property
    def points_possible(self) -> float:
        # Criteria marked ignore_for_scoring are rated but not counted (app/models/rubric.rb).
        return float(sum(c["points"] for c in self.data if not c.get("ignore_for_scoring")))


class SandboxAssignment(models.Model):
    course = models.ForeignKey(SandboxCourse, on_delete=models.CASCADE, related_name="assignments")
    group = models.ForeignKey(AssignmentGroup, on_delete=models.CASCADE, related_name="assignments")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    points_possible = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    grading_type = models.CharField(max_length=20, default="points")
    published = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=1)
    due_at = models.DateTimeField(null=True, blank=True)
    rubric = models.ForeignKey(Rubric, on_delete=models.SET_NULL, null=True, blank=True, related_name="assignments")
    use_rubric_for_grading = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Submission(models.Model):
    """One learner's submission; rubric_assessment is {criterion_id: {points, rating_id, comments}}."""

    assignment = models.ForeignKey(SandboxAssignment, on_delete=models.CASCADE, related_name="submissions")
    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="submissions")
    workflow_state = models.CharField(max_length=20, default="unsubmitted")  # unsubmitted, submitted, graded
    # What the grader entered; Canvas's `score` is this less the late/missing policy's points_deducted.
    score = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    points_deducted = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    grade = models.CharField(max_length=40, blank=True)
    rubric_assessment = models.JSONField(default=dict, blank=True)
    rubric_assessment_id = models.PositiveIntegerField(null=True, blank=True)
    grader = models.ForeignKey(SandboxUser, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    attempt = models.PositiveIntegerField(null=True, blank=True)
    excused = models.BooleanField(default=False)
    submitted_at = models.DateTimeField(null=True, blank=True)
    graded_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["assignment", "user"], name="sandbox_submission_unique")]
        indexes = [models.Index(fields=["assignment", "graded_at"], name="sandbox_sub_graded_idx")]

    def __str__(self) -> str:
        return f"{self.user} on {self.assignment}: {self.workflow_state}"


class ApiToken(models.Model):
    """A REST access token (stored hashed) with its leaky-bucket throttle state."""

    user = models.ForeignKey(SandboxUser, on_delete=models.CASCADE, related_name="api_tokens")
    purpose = models.CharField(max_length=255, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    bucket_level = models.FloatField(default=0.0)
    bucket_updated_at = models.FloatField(default=0.0, help_text="time.time() of the last leak")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"token of {self.user} ({self.purpose})"
