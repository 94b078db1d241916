"""What is awarded, by whom and where: issuers with their signing keys, badge classes, and a badge
class offered in a Canvas course with the rule that earns it (CourseBadge)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from badging.models.ids import new_public_id
from lti.models import Course
from skillsforward.fields import EncryptedTextField


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
    # Indexed by a composite index that starts with it: its own index only slows writes.
    course = models.ForeignKey(
        Course, on_delete=models.CASCADE, related_name="course_badges", verbose_name=_("course"), db_index=False
    )
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
