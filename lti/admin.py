"""Operators' configuration UI for Canvas platforms; keys and launches are read-only records."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from canvas.connection import platform_connection_test
from lti.models import Deployment, LaunchContext, Platform, RegistrationInvite, ToolKey
from lti.selectors import platform_frame_origins, platform_live_events_url, platform_origins
from lti.services.platforms import platform_approve, registration_invite_create


def _https_url_fields(db_field, **kwargs):
    # Canvas endpoints are https; an address typed without a scheme means https.
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class PlatformForm(forms.ModelForm):
    # Write-only: the stored token is never sent back to the browser.
    api_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy(
            "Canvas REST token of an admin or service account. Leave empty to keep the current one."
        ),
    )
    clear_api_token = forms.BooleanField(required=False, label=gettext_lazy("Remove the stored API token"))
    # Shown, never saved (not a model field): readonly, so it can still be selected and copied.
    live_events_url = forms.CharField(
        required=False,
        label=gettext_lazy("Live Events URL"),
        widget=forms.TextInput(attrs={"readonly": True, "size": 80}),
        help_text=gettext_lazy(
            "In Canvas: Admin › Data Services › Add, HTTPS with Sign Payload, to this URL. Keep it private."
        ),
    )
    # The tool's origin for that URL; PlatformAdmin.get_form sets it per request.
    live_events_base_url = ""

    class Meta:
        model = Platform
        # Used when the class is built; the admin builds its form with its own callback, hence
        # PlatformAdmin.formfield_overrides says the same.
        formfield_callback = _https_url_fields
        fields = [
            "name",
            "issuer",
            "client_id",
            "auth_login_url",
            "auth_token_url",
            "auth_audience",
            "keyset_url",
            "api_base_url",
            "api_token",
            "clear_api_token",
            "active",
            "accept_new_deployments",
            "live_events_url",
        ]
        # The admin shows help texts as HTML: the models' "https://<canvas-host>" lost its host.
        help_texts = {
            "auth_token_url": gettext_lazy(
                "Canvas's OAuth2 token endpoint, e.g. https://canvas.uni.example.edu/login/oauth2/token"
            ),
            "api_base_url": gettext_lazy(
                "The Canvas address learners and instructors use, e.g. https://canvas.uni.example.edu"
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stored_api_token = self.instance.api_token if self.instance.pk else ""
        if self.stored_api_token:
            self.fields["api_token"].help_text = _("A token is stored. %(help)s") % {
                "help": self.fields["api_token"].help_text
            }
        if "live_events_url" in self.fields:
            url_field = self.fields["live_events_url"]
            if self.instance.pk:
                url_field.initial = platform_live_events_url(platform=self.instance, base_url=self.live_events_base_url)
            else:
                url_field.widget.attrs["placeholder"] = "shown once the platform is saved"

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        token = (cleaned.get("api_token") or "").strip()
        if cleaned.get("clear_api_token"):
            cleaned["api_token"] = ""
        elif not token:
            cleaned["api_token"] = self.stored_api_token
        else:
            cleaned["api_token"] = token
        if "api_base_url" in self.changed_data:
            # An admin's value: a launch's $Canvas.api.baseUrl never changes it.
            self.instance.api_base_url_source = Platform.SOURCE_MANUAL
        return cleaned


class NamedInputsFormSet(BaseInlineFormSet):
    """A tabular inline names its columns only with table headers, so screen readers announce its
    inputs without a name (axe: label, WCAG 4.1.2): each input gets its column's label."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        row = "new row" if index is None else f"row {index + 1}"
        for name, field in form.fields.items():
            if not field.widget.is_hidden:
                field.widget.attrs.setdefault("aria-label", f"{field.label or name} ({row})")


class DeploymentInline(admin.TabularInline):
    formset = NamedInputsFormSet
    model = Deployment
    extra = 1
    fields = ["deployment_id", "active", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    form = PlatformForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [DeploymentInline]
    list_display = [
        "name",
        "issuer",
        "client_id",
        "api_base_url",
        "api_base_url_source",
        "registered_via",
        "status",
        "active",
        "api_token_status",
    ]
    list_filter = ["status", "active", "registered_via"]
    search_fields = ["name", "issuer", "client_id", "api_base_url"]
    readonly_fields = [
        "status",
        "registered_via",
        "api_base_url_source",
        "requested_ip",
        "requested_with",
        "approved_at",
        "approved_by",
        "created_at",
        "updated_at",
    ]
    actions = ["approve_registrations", "test_connection"]

    # Only admins who may change platforms approve them (a view-only staff user sees the list).
    @admin.action(
        description=gettext_lazy("Approve selected registrations (shows what you approve first)"),
        permissions=["change"],
    )
    def approve_registrations(self, request, queryset):
        pending = [p for p in queryset if p.status == Platform.STATUS_PENDING]
        if request.POST.get("confirm"):
            who = f"{request.user.get_username()} (admin)"
            for platform in pending:
                platform_approve(platform=platform, approved_by=who)
            self.message_user(
                request,
                ngettext("Approved %(n)s registration.", "Approved %(n)s registrations.", len(pending))
                % {"n": len(pending)},
                messages.SUCCESS,
            )
            return None
        if not pending:
            self.message_user(request, _("None of the selected platforms waits for approval."), messages.WARNING)
            return None
        known = platform_origins()
        items = [
            {
                "platform": p,
                "deployments": list(p.deployments.values_list("deployment_id", flat=True)),
                "new_origins": sorted(platform_frame_origins(p) - known),
                "known_origins": sorted(platform_frame_origins(p) & known),
            }
            for p in pending
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Approve registrations"),
            "items": items,
            "skipped": len(queryset) - len(pending),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/lti/platform/approve.html", context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        # get_form builds a new class per request, so this does not leak between requests.
        form.live_events_base_url = settings.PUBLIC_BASE_URL or request.build_absolute_uri("/")  # type: ignore[attr-defined]
        return form

    @admin.action(description=gettext_lazy("Test the Canvas API connection"))
    def test_connection(self, request, queryset):
        for platform in queryset:
            report = platform_connection_test(platform=platform)
            self.message_user(request, report.message, messages.SUCCESS if report.ok else messages.ERROR)

    @admin.display(description=gettext_lazy("API token"))
    def api_token_status(self, obj: Platform) -> str:
        return "needs API token" if obj.needs_api_token else "set"


class RegistrationInviteForm(forms.ModelForm):
    days = forms.IntegerField(
        min_value=1, max_value=30, initial=7, help_text=gettext_lazy("The link works once, for this many days.")
    )

    class Meta:
        model = RegistrationInvite
        fields = ["note"]


@admin.register(RegistrationInvite)
class RegistrationInviteAdmin(admin.ModelAdmin):
    """One-time dynamic registration links: a registration made through one is approved at once."""

    list_display = ["note", "created_by", "created_at", "expires_at", "used_at", "platform"]
    readonly_fields = ["created_by", "created_at", "expires_at", "used_at", "platform"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = RegistrationInviteForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["note", "days"] if obj is None else ["note", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        invite, token = registration_invite_create(
            note=form.cleaned_data["note"], created_by=request.user.get_username(), days=form.cleaned_data["days"]
        )
        obj.pk = invite.pk
        base = settings.PUBLIC_BASE_URL or request.build_absolute_uri("/").rstrip("/")
        url = base + reverse("lti:register_invited", args=[token])
        # Shown once: only the token's hash is stored.
        self.message_user(
            request,
            _(
                "Registration link (works once, copy it now, it is not shown again): %(url)s — in Canvas: "
                "Admin › Developer Keys › + Developer Key › + LTI Registration, paste this link."
            )
            % {"url": url},
            messages.WARNING,
        )

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ToolKey)
class ToolKeyAdmin(admin.ModelAdmin):
    list_display = ["kid", "created_at", "superseded_at", "retire_after"]
    fields = ("kid", "public_jwk", "created_at", "superseded_at", "retire_after")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # keys are made by `manage.py lti_rotate_keys`

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LaunchContext)
class LaunchContextAdmin(admin.ModelAdmin):
    list_display = [
        "person",
        "role",
        "is_teaching_assistant",
        "is_test_user",
        "concluded",
        "course",
        "created_at",
        "last_used_at",
        "expires_at",
    ]
    list_filter = ["role", "is_test_user", "concluded", "platform"]
    search_fields = ["person__name", "person__canvas_user_id", "course__name", "course__canvas_course_id"]
    list_select_related = ["person", "course"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
