"""The LTI side: Canvas platforms we trust, our own signing keys, and who launched from where."""

import secrets

from django.db import models
from django.db.models import Q

from skillsforward.fields import EncryptedTextField

CANVAS_ISSUER = "https://canvas.instructure.com"
CANVAS_AUTH_LOGIN_URL = "https://sso.canvaslms.com/api/lti/authorize_redirect"
CANVAS_KEYSET_URL = "https://sso.canvaslms.com/api/lti/security/jwks"


def new_public_id() -> str:
    return secrets.token_urlsafe(16)


def new_live_events_key() -> str:
    # The secret part of a platform's Live Events URL: 192 bits, URL-safe.
    return secrets.token_urlsafe(24)


class Platform(models.Model):
    """A Canvas instance (an LTI registration: issuer + client_id) and its REST API credential."""

    name = models.CharField(max_length=200)
    issuer = models.URLField(max_length=500)
    client_id = models.CharField(max_length=255)
    auth_login_url = models.URLField(max_length=500, default=CANVAS_AUTH_LOGIN_URL)
    auth_token_url = models.URLField(max_length=500, blank=True, help_text="https://<canvas-host>/login/oauth2/token")
    auth_audience = models.CharField(max_length=500, blank=True)
    keyset_url = models.URLField(max_length=500, default=CANVAS_KEYSET_URL)
    api_base_url = models.URLField(max_length=500, blank=True, help_text="https://<canvas-host>")
    api_token = EncryptedTextField(blank=True, help_text="Canvas REST token of an admin or service account")
    active = models.BooleanField(default=True)
    registered_via = models.CharField(
        max_length=20, choices=[("manual", "Manual"), ("dynamic", "Dynamic registration")], default="manual"
    )
    # Canvas creates deployments after dynamic registration without telling the tool: a signed launch
    # from this registration may then add its deployment. Off for manual registrations.
    accept_new_deployments = models.BooleanField(
        default=False, help_text="Accept launches from deployments not listed below (and record them)"
    )
    # Canvas signs every customer's Live Events with the same Instructure key: the URL they are
    # posted to (…/events/canvas/<key>/) is what says which platform they are from.
    live_events_key = models.CharField(max_length=64, unique=True, default=new_live_events_key, editable=False)
    # The root account's LTI guid (launch claim tool_platform.guid); Live Events carry it as
    # metadata.root_account_lti_guid. Empty until the first launch.
    canvas_guid = models.CharField(max_length=255, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "client_id"], name="lti_platform_issuer_client_unique")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"

    @property
    def needs_api_token(self) -> bool:
        return not self.api_token


class Deployment(models.Model):
    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="deployments")
    deployment_id = models.CharField(max_length=255)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "deployment_id"], name="lti_deployment_unique")]

    def __str__(self) -> str:
        return self.deployment_id


class ToolKey(models.Model):
    """Our RSA key pair that signs LTI service requests; published in the JWKS until retired."""

    kid = models.CharField(max_length=64, unique=True)
    private_key_pem = EncryptedTextField()
    public_jwk = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    # The newest active key signs; a superseded key stays published until retire_after.
    superseded_at = models.DateTimeField(null=True, blank=True)
    retire_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.kid


class Course(models.Model):
    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="courses")
    canvas_course_id = models.CharField(max_length=64)
    lti_context_id = models.CharField(max_length=255, blank=True)
    name = models.CharField(max_length=500, blank=True)
    course_code = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "canvas_course_id"], name="lti_course_unique")]

    def __str__(self) -> str:
        return self.name or f"Course {self.canvas_course_id}"


class Person(models.Model):
    """A Canvas user: a learner, an instructor or an admin. Known from a launch or from a sync."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="people")
    canvas_user_id = models.CharField(max_length=64)
    lti_sub = models.CharField(max_length=255, blank=True)
    name = models.CharField(max_length=500, blank=True)
    sortable_name = models.CharField(max_length=500, blank=True)
    # The primary email as last read from Canvas (launch claim or REST); re-read before issuing.
    email = models.EmailField(max_length=320, blank=True)
    email_read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "canvas_user_id"], name="lti_person_unique"),
        ]
        indexes = [models.Index(fields=["platform", "lti_sub"], name="lti_person_sub_idx")]

    def __str__(self) -> str:
        return self.name or f"User {self.canvas_user_id}"


class LaunchContext(models.Model):
    """Who launched, from which course, with which role: kept server-side, keyed by an opaque id."""

    ROLE_LEARNER = "learner"
    ROLE_INSTRUCTOR = "instructor"
    ROLE_ADMIN = "admin"
    ROLE_CHOICES = [(ROLE_LEARNER, "Learner"), (ROLE_INSTRUCTOR, "Instructor"), (ROLE_ADMIN, "Admin")]

    public_id = models.CharField(max_length=64, unique=True, default=new_public_id)
    platform = models.ForeignKey(Platform, on_delete=models.CASCADE)
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE)
    course = models.ForeignKey(Course, on_delete=models.CASCADE)
    person = models.ForeignKey(Person, on_delete=models.CASCADE)
    role = models.CharField(max_length=20, choices=ROLE_CHOICES)
    is_teaching_assistant = models.BooleanField(default=False)
    is_test_user = models.BooleanField(default=False, help_text="Canvas Student View: never badged")
    roles = models.JSONField(default=list)
    email = models.EmailField(max_length=320, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="lti_launch_expires_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["learner", "instructor", "admin"]), name="lti_launch_role_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.person} as {self.role} in {self.course}"

    @property
    def is_instructor(self) -> bool:
        return self.role in (self.ROLE_INSTRUCTOR, self.ROLE_ADMIN)
