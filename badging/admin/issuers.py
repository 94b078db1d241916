"""Admin for issuers: their details and image, their signing keys (read-only) and their Canvas
Credentials connection.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from badging.admin.common import HTTPS_URLS, ImageUploadForm, ReadOnlyInline, _actor, _formfield
from badging.models import BadgeClass, CanvasCredentialsConnection, Issuer, IssuerKey


class IssuerForm(ImageUploadForm):
    class Meta:
        model = Issuer
        formfield_callback = _formfield
        fields = ["name", "key", "url", "email", "description"]


class IssuerKeyInline(ReadOnlyInline):
    model = IssuerKey
    fields = readonly_fields = ("algorithm", "public_id", "created_at", "superseded_at")
    verbose_name = gettext_lazy("signing key")
    verbose_name_plural = gettext_lazy(
        "signing keys (made and rotated by the issuance service; old keys stay published)"
    )

    def has_change_permission(self, request, obj=None):
        return False


class CanvasCredentialsForm(forms.ModelForm):
    # Write-only secrets: never sent back to the browser; empty keeps the stored value.
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("Leave empty to keep the stored password."),
    )
    client_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("Leave empty to keep the stored secret."),
    )

    class Meta:
        model = CanvasCredentialsConnection
        formfield_callback = _formfield
        fields = ["enabled", "api_base_url", "username", "password", "client_id", "client_secret"]
        fields += ["badge_class_entity_ids", "notify_recipients"]
        help_texts = {
            "badge_class_entity_ids": gettext_lazy(
                'JSON: {"<badge class key>": "<Canvas Credentials badge class entityId>"}. One Canvas Credentials '
                "badge class per badge class: it refuses a second live award of a badge class to one email."
            ),
            "api_base_url": "US https://api.badgr.io, EU https://api.eu.badgr.io, AU https://api.au.badgr.io, …",
            "client_id": gettext_lazy(
                "Recommended: an application's client credentials, allowed the rw:issuer scope only. "
                "A username and password get every scope of the account (profile and backpack too)."
            ),
        }

    def clean_password(self):
        return self.cleaned_data.get("password") or (self.instance.password if self.instance.pk else "")

    def clean_client_secret(self):
        return self.cleaned_data.get("client_secret") or (self.instance.client_secret if self.instance.pk else "")

    def clean_badge_class_entity_ids(self):
        from badging.services.canvas_credentials import mapping_conflicts

        value = self.cleaned_data.get("badge_class_entity_ids") or {}
        if not isinstance(value, dict) or not all(isinstance(v, str) and v for v in value.values()):
            raise ValidationError(_('Use {"badge-class-key": "entityId", …}.'))
        value = {k: v.strip() for k, v in value.items()}
        conflicts = mapping_conflicts(value)
        if conflicts:
            raise ValidationError(
                [
                    _(
                        "Canvas Credentials badge class %(entity)s is mapped from %(keys)s: map each badge class "
                        "to its own Canvas Credentials badge class (it keeps one live award per badge class and "
                        "email, so the awards would collapse into one)."
                    )
                    % {"entity": entity, "keys": ", ".join(keys)}
                    for entity, keys in conflicts.items()
                ]
            )
        issuer_id = self.instance.issuer_id
        badge_classes = BadgeClass.objects.filter(issuer_id=issuer_id) if issuer_id else BadgeClass.objects.none()
        unknown = sorted(set(value) - set(badge_classes.values_list("key", flat=True)))
        if unknown:
            raise ValidationError(_("Not a badge class of this issuer: %(keys)s.") % {"keys": ", ".join(unknown)})
        return value


class CanvasCredentialsInline(admin.StackedInline):
    formfield_overrides = HTTPS_URLS
    model = CanvasCredentialsConnection
    form = CanvasCredentialsForm
    extra = 0
    max_num = 1
    readonly_fields = ["login_status", "token_scope_shown", "token_expires_at", "last_result_shown", "last_error"]
    verbose_name = gettext_lazy("Canvas Credentials (Badgr) connection")
    verbose_name_plural = gettext_lazy("Canvas Credentials (Badgr) connection: also issue awards there")

    @admin.display(description=gettext_lazy("Login"))
    def login_status(self, obj: CanvasCredentialsConnection) -> str:
        if not obj.pk:
            return "—"
        if obj.login_refused:
            return _(
                "Needs attention: Canvas Credentials refused this login on %(when)s UTC. "
                "Nothing is sent until the credentials are changed here (failed logins lock the account out "
                "for up to an hour). After saving new ones, resync the issuer to push what was missed."
            ) % {"when": f"{obj.login_refused_at:%Y-%m-%d %H:%M}"}
        if obj.client_id and obj.client_secret:
            return _("Client credentials (recommended).")
        return _("Username and password.")

    @admin.display(description=gettext_lazy("Token scope"))
    def token_scope_shown(self, obj: CanvasCredentialsConnection) -> str:
        granted = set(obj.token_scope.split())
        if granted - {"rw:issuer"} and not (obj.client_id and obj.client_secret):
            return (
                f"{obj.token_scope} — more than this product needs (rw:issuer): use an application's client "
                "credentials allowed rw:issuer only."
            )
        return obj.token_scope or "—"

    @admin.display(description=gettext_lazy("Last push or revocation"))
    def last_result_shown(self, obj: CanvasCredentialsConnection) -> str:
        if not obj.last_result:
            return "—"
        return f"{obj.last_result_at:%Y-%m-%d %H:%M} UTC: {obj.last_result}" if obj.last_result_at else obj.last_result


@admin.register(Issuer)
class IssuerAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    form = IssuerForm
    inlines = [IssuerKeyInline, CanvasCredentialsInline]
    list_display = ["thumbnail", "name", "key", "email", "url", "badge_class_count"]
    actions = ["resync_canvas_credentials"]
    list_display_links = ["name"]  # the thumbnail is decorative (alt=""): a link needs a name
    search_fields = ["name", "key", "email"]
    readonly_fields = ["image_preview", "public_id", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "key", "url", "email", "description"]}),
        (gettext_lazy("Image"), {"fields": ["image_preview", "image_upload"]}),
        (gettext_lazy("Record"), {"fields": ["public_id", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("image").annotate(badge_class_total=Count("badge_classes"))

    def _image_url(self, obj: Issuer) -> str:
        try:
            return reverse("badging:public-issuer-image", kwargs={"public_id": obj.public_id})
        except NoReverseMatch:
            return ""

    @admin.display(description="")
    def thumbnail(self, obj: Issuer):
        url = self._image_url(obj)
        if not obj.image_content_type or not url:
            return ""
        return format_html('<img src="{}" alt="" width="32" height="32">', url)

    @admin.display(description=gettext_lazy("Current image"))
    def image_preview(self, obj: Issuer):
        url = self._image_url(obj) if obj.pk and obj.image_content_type else ""
        if not url:
            return _("No image yet (optional for issuers).")
        return format_html(
            '<img src="{}" alt="{}" width="120" height="120">', url, _("Issuer image of %(name)s") % {"name": obj.name}
        )

    @admin.display(description=gettext_lazy("Badge classes"), ordering="badge_class_total")
    def badge_class_count(self, obj: Issuer) -> int:
        # Annotated by get_queryset: one query for the whole list, not one per issuer.
        return obj.badge_class_total  # type: ignore[attr-defined]

    @admin.action(description=gettext_lazy("Resync with Canvas Credentials (Badgr)"), permissions=["change"])
    def resync_canvas_credentials(self, request, queryset):
        from badging.services.canvas_credentials import (
            CanvasCredentialsError,
            canvas_credentials_resync,
            resync_summary,
        )
        from badging.services.notifications import delivery_links

        connections = CanvasCredentialsConnection.objects.filter(issuer__in=queryset).select_related("issuer")
        if not connections:
            self.message_user(
                request, _("None of the selected issuers has a Canvas Credentials connection."), messages.WARNING
            )
        for connection in connections:
            try:
                report = canvas_credentials_resync(
                    connection_id=connection.pk, links=delivery_links(), actor=_actor(request)
                )
            except CanvasCredentialsError as exc:
                self.message_user(request, f"{connection.issuer}: {exc}", messages.ERROR)
                continue
            failed = any("error" in counts for counts in report.values())
            self.message_user(
                request,
                f"{connection.issuer}: {resync_summary(report)}.",
                messages.WARNING if failed else messages.SUCCESS,
            )
