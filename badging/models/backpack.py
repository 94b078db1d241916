"""The learner's own side: collections of their badges, shared by a public link, and the learner's
other email addresses."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from badging.models.awards import Award
from badging.models.ids import new_public_id
from lti.models import Person
from skillsforward.fields import EncryptedTextField


class Collection(models.Model):
    """A named group of one learner's badges; shared, it has a public page and a JSON list."""

    public_id = models.CharField(_("public id"), max_length=64, unique=True, default=new_public_id, editable=False)
    # Indexed by a composite index that starts with it: its own index only slows writes.
    learner = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="badge_collections", verbose_name=_("learner"), db_index=False
    )
    name = models.CharField(_("name"), max_length=200)
    shared = models.BooleanField(_("shared"), default=False, help_text=_("Anyone with the link can see it"))
    shared_at = models.DateTimeField(_("shared at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("collection")
        verbose_name_plural = _("collections")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["learner", "name"], name="badging_collection_name_unique"),
            models.CheckConstraint(condition=~Q(name=""), name="badging_collection_name_not_empty"),
            models.CheckConstraint(
                condition=Q(shared=False) | Q(shared_at__isnull=False), name="badging_collection_shared_has_time"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CollectionItem(models.Model):
    """One award in a collection, at a position the learner chose. The award is always the
    collection learner's own (the services only add those; the public list filters again)."""

    # Indexed by a composite index that starts with it: its own index only slows writes.
    collection = models.ForeignKey(
        Collection, on_delete=models.CASCADE, related_name="items", verbose_name=_("collection"), db_index=False
    )
    award = models.ForeignKey(Award, on_delete=models.CASCADE, related_name="collection_items", verbose_name=_("award"))
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("collection item")
        verbose_name_plural = _("collection items")
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["collection", "award"], name="badging_collectionitem_unique"),
        ]


class LearnerEmail(models.Model):
    """Another email address a learner controls, proven by a code sent to it: their badges can be
    re-issued to it (My badges), without any account merge. The code is stored encrypted (the
    worker that emails it must read it) and is valid for a short time and a few tries."""

    # Indexed by a composite index that starts with it: its own index only slows writes.
    learner = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="extra_emails", verbose_name=_("learner"), db_index=False
    )
    email = models.EmailField(_("email"), max_length=320, help_text=_("Normalised: trimmed, lowercased"))
    code = EncryptedTextField(_("code"), blank=True)
    code_expires_at = models.DateTimeField(_("code expires at"), null=True, blank=True)
    code_sent_at = models.DateTimeField(_("code sent at"), null=True, blank=True)
    failed_attempts = models.PositiveIntegerField(_("failed attempts"), default=0)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("learner email")
        verbose_name_plural = _("learner emails")
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(fields=["learner", "email"], name="badging_learneremail_unique"),
            models.CheckConstraint(condition=~Q(email=""), name="badging_learneremail_not_empty"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def verified(self) -> bool:
        return self.verified_at is not None
