"""Admin for what was issued, read-only but for its actions: awards (revoke), deliveries (retry),
wallet offers and the audit trail.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from badging.admin.common import ReadOnlyAdmin, ReadOnlyInline, _actor, _shortened
from badging.models import AuditEvent, Award, Delivery, WalletOffer


class RevokeForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text=gettext_lazy(
            "Shown on the public badge page and to the learner, e.g. “Issued in error: grade corrected”."
        ),
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Give the reason for revoking."))
        return reason


class DeliveryInline(ReadOnlyInline):
    model = Delivery
    fields = readonly_fields = ("kind", "status", "attempts", "last_error", "next_attempt_at", "sent_at")


@admin.register(Award)
class AwardAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "badge_class", "learner_name", "recipient_email", "issued_on", "revoked"]
    list_display += ["needs_review"]
    list_filter = ["revoked", "needs_review", "badge_class"]
    list_select_related = ["badge_class", "learner"]
    search_fields = ["=public_id", "recipient_email", "learner__name", "learner__email"]
    date_hierarchy = "issued_on"
    actions = ["revoke_awards", "keep_reviewed_awards"]
    inlines = [DeliveryInline]
    exclude = ["ob3_credential", "ob3_jwt", "salt"]
    readonly_fields = ["public_links"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("ob3_credential", "ob3_jwt", "badge_class__image")

    def has_change_permission(self, request, obj=None):
        # The list's actions need it; a single award is never edited by hand (view-only page).
        return obj is None and request.user.has_perm("badging.change_award")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Award._meta.fields if f.name not in self.exclude] + ["public_links"]

    @admin.display(description=gettext_lazy("Learner"), ordering="learner__name")
    def learner_name(self, obj: Award) -> str:
        return obj.learner.name

    @admin.display(description=gettext_lazy("Public links"))
    def public_links(self, obj: Award):
        from badging.selectors.learner.cards import award_link_list

        links = award_link_list(award=obj)
        return format_html_join(
            "", '<a href="{}" target="_blank" rel="noopener">{}</a><br>', ((x["url"], x["label"]) for x in links)
        )

    @admin.action(
        description=gettext_lazy("Keep the selected awards (reviewed: clear “needs review”)"), permissions=["change"]
    )
    def keep_reviewed_awards(self, request, queryset):
        from badging.services.issuance.review import award_review_keep

        flagged = list(queryset.filter(revoked=False, needs_review=True).values_list("pk", flat=True))
        for award_id in flagged:
            award_review_keep(award_id=award_id, actor=_actor(request))
        self.message_user(
            request,
            ngettext("Kept %(n)s award after review.", "Kept %(n)s awards after review.", len(flagged))
            % {"n": len(flagged)}
            if flagged
            else _("None of the selected awards needed review."),
            messages.SUCCESS if flagged else messages.WARNING,
        )

    @admin.action(description=gettext_lazy("Revoke the selected awards…"), permissions=["change"])
    def revoke_awards(self, request, queryset):
        from badging.services.issuance.review import award_revoke

        live = queryset.filter(revoked=False)
        if "apply" in request.POST:
            form = RevokeForm(request.POST)
            if form.is_valid():
                count = 0
                for award_id in live.values_list("pk", flat=True):
                    award_revoke(award_id=award_id, reason=form.cleaned_data["reason"], actor=_actor(request))
                    count += 1
                self.message_user(
                    request,
                    ngettext("Revoked %(n)s award.", "Revoked %(n)s awards.", count) % {"n": count},
                    messages.SUCCESS,
                )
                return None
        else:
            form = RevokeForm()
        if not live.exists():
            self.message_user(request, _("The selected awards are already revoked."), messages.WARNING)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Revoke awards"),
            "opts": self.model._meta,
            "awards": live.select_related("badge_class", "learner"),
            "already_revoked": queryset.filter(revoked=True).count(),
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        }
        return TemplateResponse(request, "admin/badging/award/revoke.html", context)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "award",
        "kind",
        "status",
        "attempts",
        "unconfirmed_sends",
        "last_error_short",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["kind", "status"]
    list_select_related = ["award__badge_class"]
    search_fields = ["award__public_id", "award__recipient_email", "external_id"]
    actions = ["retry_deliveries"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).defer("award__ob3_credential", "award__ob3_jwt", "award__badge_class__image")
        )

    def has_change_permission(self, request, obj=None):
        return obj is None and request.user.has_perm("badging.change_delivery")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Delivery._meta.fields]

    @admin.display(description=gettext_lazy("Last error"))
    def last_error_short(self, obj: Delivery) -> str:
        return _shortened(obj.last_error, 100)

    @admin.action(description=gettext_lazy("Retry the selected deliveries now"), permissions=["change"])
    def retry_deliveries(self, request, queryset):
        from badging.services.deliveries import deliveries_retry

        count = deliveries_retry(delivery_ids=list(queryset.values_list("pk", flat=True)), actor=_actor(request))
        if count:
            self.message_user(request, f"{count} deliver{'ies' if count != 1 else 'y'} queued for another attempt.")
        else:
            self.message_user(
                request, _("Nothing to retry: those deliveries were sent, or their awards revoked."), messages.WARNING
            )


@admin.register(WalletOffer)
class WalletOfferAdmin(ReadOnlyAdmin):
    """Offers of badges to learners' wallets (OID4VCI): when made, whether claimed, by which DID."""

    list_display = ["award", "created_at", "code_expires_at", "code_used_at", "claimed_at", "holder_id"]
    list_select_related = ["award__badge_class"]
    search_fields = ["award__public_id", "holder_id", "credential_id"]
    exclude = ["code_hash", "token_hash", "nonce_hash"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        deferred = ("award__ob3_credential", "award__ob3_jwt", "award__badge_class__image")
        return super().get_queryset(request).defer(*deferred)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "course", "award"]
    list_filter = ["action"]
    list_select_related = ["course", "award"]
    search_fields = ["actor", "action", "award__public_id", "course__canvas_course_id"]
    date_hierarchy = "at"

    def get_queryset(self, request):
        return super().get_queryset(request).defer("award__ob3_credential", "award__ob3_jwt")
