"""Program badges (pathways): a badge class earned by holding a set of course badges.

An administrator defines the program on one Canvas instance (platform): all of its required badge
classes, or at least N of them, held as live awards from any course or term of that Canvas. The
program's award is an ordinary Award (OB 2.0 + OB 3.0, email) whose `program` is set instead of
its `course_badge`.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from badging.models.badges import BadgeClass
from lti.models import Person, Platform


class Program(models.Model):
    MODE_ALL = "all"
    MODE_N_OF = "n_of"
    MODES = [(MODE_ALL, _("All of the required badges")), (MODE_N_OF, _("At least N of the listed badges"))]

    key = models.SlugField(_("key"), max_length=100, unique=True, help_text=_("Stable key for badging_import/export"))
    platform = models.ForeignKey(
        Platform, on_delete=models.CASCADE, related_name="programs", verbose_name=_("Canvas instance")
    )
    # The program's own badge: one program per badge class, and never a course's badge as well
    # (badging.E001-style checks in the admin form keep them apart).
    badge_class = models.OneToOneField(
        BadgeClass, on_delete=models.PROTECT, related_name="program", verbose_name=_("program badge class")
    )
    mode = models.CharField(_("rule"), max_length=10, choices=MODES, default=MODE_ALL)
    required_count = models.PositiveIntegerField(
        _("required count"), null=True, blank=True, help_text=_("N, for “at least N of the listed badges”")
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("program badge")
        verbose_name_plural = _("program badges")
        ordering = ["badge_class__name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(mode="all") & Q(required_count__isnull=True))
                | (Q(mode="n_of") & Q(required_count__gte=1)),
                name="badging_program_rule_valid",
            ),
        ]

    def __str__(self) -> str:
        return str(self.badge_class)


class ProgramRequirement(models.Model):
    """A course badge (its badge class, from any course or term of the program's Canvas) that counts."""

    # Indexed by a composite index that starts with it: its own index only slows writes.
    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="requirements", verbose_name=_("program"), db_index=False
    )
    badge_class = models.ForeignKey(
        BadgeClass,
        on_delete=models.PROTECT,
        related_name="program_requirements",
        verbose_name=_("required badge class"),
    )
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("required badge")
        verbose_name_plural = _("required badges")
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["program", "badge_class"], name="badging_programrequirement_unique"),
        ]

    def __str__(self) -> str:
        return str(self.badge_class)


class ProgramProgress(models.Model):
    """Where a learner stands on a program, as last evaluated (shown on My badges)."""

    # Indexed by a composite index that starts with it: its own index only slows writes.
    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="progress", verbose_name=_("program"), db_index=False
    )
    learner = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="program_progress", verbose_name=_("learner")
    )
    held_count = models.PositiveIntegerField(_("held count"), default=0)
    required_count = models.PositiveIntegerField(_("required count"), default=0)
    # Public ids of the awards that count, in requirement order.
    held_awards = models.JSONField(_("held awards"), default=list, blank=True)
    evaluated_at = models.DateTimeField(_("evaluated at"), auto_now=True)

    class Meta:
        verbose_name = _("program progress")
        verbose_name_plural = _("program progress")
        constraints = [
            models.UniqueConstraint(fields=["program", "learner"], name="badging_programprogress_unique"),
        ]

    @property
    def complete(self) -> bool:
        return self.required_count > 0 and self.held_count >= self.required_count
