"""Issued badges: the award (OB 2.0 assertion and OB 3.0 credential), its baked images, and its
deliveries (the notification email and the Canvas Credentials push)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from badging.models.badges import BadgeClass, CourseBadge
from badging.models.ids import new_public_id, new_salt
from lti.models import Course, Person


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
    # Indexed by a composite index that starts with it: its own index only slows writes.
    course_badge = models.ForeignKey(
        CourseBadge,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="awards",
        verbose_name=_("course badge"),
        db_index=False,
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

    # Indexed by the unique (award, content_type): its own index only slows writes.
    award = models.ForeignKey(
        Award, on_delete=models.CASCADE, related_name="images", verbose_name=_("award"), db_index=False
    )
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

    # Indexed by the unique (award, kind): its own index only slows writes.
    award = models.ForeignKey(
        Award, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("award"), db_index=False
    )
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
