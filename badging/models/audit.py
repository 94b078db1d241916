"""The audit trail: who did what, when (instructor and admin actions)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from badging.models.awards import Award
from lti.models import Course, Person


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
    # Indexed by a composite index that starts with it: its own index only slows writes.
    course = models.ForeignKey(
        Course,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("course"),
        db_index=False,
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
