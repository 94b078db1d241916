"""The LTI side: Canvas platforms we trust, our own signing keys, and who launched from where."""

import secrets

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

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
    """A Canvas instance (an LTI registration: issuer + client_id) and its REST API credential.

    Only an approved, active platform is trusted (lti.selectors.platforms_trusted): a dynamic
    registration anyone can start stays pending, out of launches, logins, CSP and Live Events, until
    an admin approves it.
    """

    STATUS_PENDING = "pending"
    STATUS_APPROVED = "approved"
    STATUS_CHOICES = [(STATUS_PENDING, _("Pending approval")), (STATUS_APPROVED, _("Approved"))]
    SOURCE_MANUAL = "manual"
    SOURCE_REGISTRATION = "registration"
    SOURCE_LAUNCH = "launch"
    SOURCE_CHOICES = [
        (SOURCE_MANUAL, _("Entered by an admin")),
        (SOURCE_REGISTRATION, _("Dynamic registration")),
        (SOURCE_LAUNCH, _("Launch ($Canvas.api.baseUrl)")),
    ]

    name = models.CharField(_("name"), max_length=200)
    issuer = models.URLField(_("issuer"), max_length=500)
    client_id = models.CharField(_("client id"), max_length=255)
    auth_login_url = models.URLField(_("auth login url"), max_length=500, default=CANVAS_AUTH_LOGIN_URL)
    auth_token_url = models.URLField(
        _("auth token url"), max_length=500, blank=True, help_text="https://<canvas-host>/login/oauth2/token"
    )
    auth_audience = models.CharField(_("auth audience"), max_length=500, blank=True)
    keyset_url = models.URLField(_("keyset url"), max_length=500, default=CANVAS_KEYSET_URL)
    api_base_url = models.URLField(_("api base url"), max_length=500, blank=True, help_text="https://<canvas-host>")
    # Hosted Canvas registers from its shared issuer host, so a registration's guess may be wrong;
    # a signed launch's $Canvas.api.baseUrl corrects it. The admin sees which one is stored.
    api_base_url_source = models.CharField(
        _("API base URL from"), max_length=20, choices=SOURCE_CHOICES, default=SOURCE_MANUAL, editable=False
    )
    api_token = EncryptedTextField(
        _("api token"), blank=True, help_text=_("Canvas REST token of an admin or service account")
    )
    active = models.BooleanField(_("active"), default=True)
    registered_via = models.CharField(
        _("registered via"),
        max_length=20,
        choices=[("manual", _("Manual")), ("dynamic", _("Dynamic registration"))],
        default="manual",
    )
    # Canvas creates deployments after dynamic registration without telling the tool: a signed launch
    # from this registration may then add its deployment. Off for manual registrations.
    accept_new_deployments = models.BooleanField(
        _("accept new deployments"),
        default=False,
        help_text=_("Accept launches from deployments not listed below (and record them)"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=STATUS_CHOICES, default=STATUS_APPROVED, editable=False
    )
    # Who asked for a dynamic registration, for the admin who approves it.
    requested_ip = models.GenericIPAddressField(_("requested from"), null=True, blank=True, editable=False)
    requested_with = models.CharField(_("requested with"), max_length=200, blank=True, editable=False)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True, editable=False)
    approved_by = models.CharField(_("approved by"), max_length=150, blank=True, editable=False)
    # Canvas signs every customer's Live Events with the same Instructure key: the URL they are
    # posted to (…/events/canvas/<key>/) is what says which platform they are from.
    live_events_key = models.CharField(
        _("live events key"), max_length=64, unique=True, default=new_live_events_key, editable=False
    )
    # The root account's LTI guid (launch claim tool_platform.guid); Live Events carry it as
    # metadata.root_account_lti_guid. Empty until the first launch.
    canvas_guid = models.CharField(_("canvas guid"), max_length=255, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("platform")
        verbose_name_plural = _("platforms")
        constraints = [
            models.UniqueConstraint(fields=["issuer", "client_id"], name="lti_platform_issuer_client_unique"),
            models.CheckConstraint(condition=Q(status__in=["pending", "approved"]), name="lti_platform_status_valid"),
            models.CheckConstraint(
                condition=Q(api_base_url_source__in=["manual", "registration", "launch"]),
                name="lti_platform_api_base_url_source_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="lti_platform_status_idx")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"

    @property
    def needs_api_token(self) -> bool:
        return not self.api_token

    @property
    def is_trusted(self) -> bool:
        return self.active and self.status == self.STATUS_APPROVED


class Deployment(models.Model):
    # Indexed by a composite index that starts with it: its own index only slows writes.
    platform = models.ForeignKey(
        Platform, on_delete=models.CASCADE, related_name="deployments", verbose_name=_("platform"), db_index=False
    )
    deployment_id = models.CharField(_("deployment id"), max_length=255)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("deployment")
        verbose_name_plural = _("deployments")
        constraints = [models.UniqueConstraint(fields=["platform", "deployment_id"], name="lti_deployment_unique")]

    def __str__(self) -> str:
        return self.deployment_id


class ToolKey(models.Model):
    """Our RSA key pair that signs LTI service requests; published in the JWKS until retired."""

    kid = models.CharField(_("kid"), max_length=64, unique=True)
    private_key_pem = EncryptedTextField(_("private key pem"))
    public_jwk = models.JSONField(_("public jwk"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # The newest active key signs; a superseded key stays published until retire_after.
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)
    retire_after = models.DateTimeField(_("retire after"), null=True, blank=True)

    class Meta:
        verbose_name = _("tool key")
        verbose_name_plural = _("tool keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.kid


class Course(models.Model):
    # Indexed by a composite index that starts with it: its own index only slows writes.
    platform = models.ForeignKey(
        Platform, on_delete=models.CASCADE, related_name="courses", verbose_name=_("platform"), db_index=False
    )
    canvas_course_id = models.CharField(_("canvas course id"), max_length=64)
    lti_context_id = models.CharField(_("lti context id"), max_length=255, blank=True)
    name = models.CharField(_("name"), max_length=500, blank=True)
    course_code = models.CharField(_("course code"), max_length=255, blank=True)
    # The course's own language set in Canvas (REST `locale`), blank when the account's applies.
    locale = models.CharField(_("locale"), max_length=35, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("course")
        verbose_name_plural = _("courses")
        constraints = [
            models.UniqueConstraint(fields=["platform", "canvas_course_id"], name="lti_course_unique"),
            # A signed context (launch claim context.id) is one course: a custom field cannot move it.
            models.UniqueConstraint(
                fields=["platform", "lti_context_id"],
                condition=~Q(lti_context_id=""),
                name="lti_course_context_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"Course {self.canvas_course_id}"


class Person(models.Model):
    """A Canvas user: a learner, an instructor or an admin. Known from a launch or from a sync."""

    # Indexed by the unique (platform, canvas_user_id): its own index only slows the roster's writes.
    platform = models.ForeignKey(
        Platform, on_delete=models.CASCADE, related_name="people", verbose_name=_("platform"), db_index=False
    )
    canvas_user_id = models.CharField(_("canvas user id"), max_length=64)
    lti_sub = models.CharField(_("lti sub"), max_length=255, blank=True)
    name = models.CharField(_("name"), max_length=500, blank=True)
    sortable_name = models.CharField(_("sortable name"), max_length=500, blank=True)
    # The primary email as last read from Canvas (launch claim or REST); re-read before issuing.
    email = models.EmailField(_("email"), max_length=320, blank=True)
    email_read_at = models.DateTimeField(_("email read at"), null=True, blank=True)
    # The Canvas language of the person's latest launch (LTI locale claim): their emails use it.
    locale = models.CharField(_("locale"), max_length=35, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        constraints = [
            models.UniqueConstraint(fields=["platform", "canvas_user_id"], name="lti_person_unique"),
            # A signed subject (launch claim sub) is one person.
            models.UniqueConstraint(
                fields=["platform", "lti_sub"], condition=~Q(lti_sub=""), name="lti_person_sub_unique"
            ),
        ]
        indexes = [models.Index(fields=["platform", "lti_sub"], name="lti_person_sub_idx")]

    def __str__(self) -> str:
        return self.name or f"User {self.canvas_user_id}"


class LaunchContext(models.Model):
    """Who launched, from which course, with which role: kept server-side, keyed by an opaque id."""

    ROLE_LEARNER = "learner"
    ROLE_INSTRUCTOR = "instructor"
    ROLE_ADMIN = "admin"
    ROLE_CHOICES = [
        (ROLE_LEARNER, gettext_lazy("Learner")),
        (ROLE_INSTRUCTOR, gettext_lazy("Instructor")),
        (ROLE_ADMIN, gettext_lazy("Admin")),
    ]

    public_id = models.CharField(_("public id"), max_length=64, unique=True, default=new_public_id)
    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, verbose_name=_("platform"))
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, verbose_name=_("deployment"))
    # Empty for a launch from Canvas's account or user navigation ("My badges"): Canvas sends no
    # course there (doc/api/navigation_tools.md), so such a launch only ever shows the person's own badges.
    course = models.ForeignKey(Course, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("course"))
    person = models.ForeignKey(Person, on_delete=models.CASCADE, verbose_name=_("person"))
    role = models.CharField(_("role"), max_length=20, choices=ROLE_CHOICES)
    is_teaching_assistant = models.BooleanField(_("is teaching assistant"), default=False)
    is_test_user = models.BooleanField(
        _("is test user"), default=False, help_text=_("Canvas Student View: never badged")
    )
    # The person's enrollment in the course has concluded ($Canvas.membership.concludedRoles, no
    # current course role): every page is read-only.
    concluded = models.BooleanField(_("concluded"), default=False, help_text=_("Concluded enrollment: read-only"))
    roles = models.JSONField(_("roles"), default=list)
    email = models.EmailField(_("email"), max_length=320, blank=True)
    # The LTI launch_presentation locale (or the top-level locale claim), e.g. "es", "fr-CA", "ar".
    locale = models.CharField(_("locale"), max_length=35, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # The absolute end (LTI_LAUNCH_MAX_HOURS after the launch); an idle link ends earlier
    # (LTI_LAUNCH_IDLE_MINUTES after last_used_at).
    expires_at = models.DateTimeField(_("expires at"))
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    # The launching browser's cookie (its SHA-256): once it has come back, the link works only with it.
    browser_key_hash = models.CharField(_("browser key hash"), max_length=64, blank=True, editable=False)
    browser_bound = models.BooleanField(_("browser bound"), default=False, editable=False)

    class Meta:
        verbose_name = _("launch context")
        verbose_name_plural = _("launch contexts")
        indexes = [models.Index(fields=["expires_at"], name="lti_launch_expires_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["learner", "instructor", "admin"]), name="lti_launch_role_valid"
            ),
            # Without a course there is no course power: a "My badges" launch is always a learner's.
            models.CheckConstraint(
                condition=Q(course__isnull=False) | Q(role="learner"), name="lti_launch_courseless_is_learner"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} as {self.role} in {self.course or 'My badges'}"

    @property
    def is_instructor(self) -> bool:
        return self.role in (self.ROLE_INSTRUCTOR, self.ROLE_ADMIN)

    @property
    def course_required(self) -> Course:
        """The course, for code only a course launch reaches (launch_context_required refuses the
        others): fails loudly rather than let a "My badges" launch into a course page."""
        if self.course is None:
            raise ValueError(f"launch {self.public_id} has no course")
        return self.course

    @property
    def course_id_required(self) -> int:
        if self.course_id is None:
            raise ValueError(f"launch {self.public_id} has no course")
        return self.course_id

    @property
    def is_backpack(self) -> bool:
        """Launched from the account or user navigation: no course, the person's own badges only."""
        return self.course_id is None


class RegistrationInvite(models.Model):
    """A one-time dynamic registration link an admin issued: a registration made through it is
    approved at once (the admin vouched for it in advance). Only the token's hash is stored."""

    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    note = models.CharField(
        _("note"), max_length=200, help_text=_("Which Canvas this link is for, e.g. “State University”")
    )
    created_by = models.CharField(_("created by"), max_length=150, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), editable=False)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True, editable=False)
    platform = models.ForeignKey(
        Platform, null=True, blank=True, on_delete=models.SET_NULL, editable=False, verbose_name=_("platform")
    )

    class Meta:
        verbose_name = _("registration invite")
        verbose_name_plural = _("registration invites")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.note
