"""The operators' configuration home: issuers, badge classes, course badges and the records behind them.

Configuration (issuers, badge classes, course badges) is editable; what Canvas says (assignments,
enrollments, results) and what happened (progress, awards, deliveries, syncs, audit) is read-only,
changed only through the services: revoking an award and retrying a delivery are admin actions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from badging.models import (
    AssessmentResult,
    Assignment,
    AuditEvent,
    Award,
    BadgeClass,
    CanvasCredentialsConnection,
    CourseBadge,
    CourseSync,
    Delivery,
    Enrollment,
    Issuer,
    IssuerKey,
    LearnerProgress,
    SyncRun,
    WalletOffer,
)
from badging.selectors.learner import badge_image_url

# URLs typed without a scheme are https (Django 6's default; silences the 5.x transition warning).
HTTPS_URLS: Mapping[type[models.Field], Mapping[str, Any]] = {models.URLField: {"assume_scheme": "https"}}


def _formfield(db_field, **kwargs):
    # HTTPS_URLS covers the forms the admin builds; this covers the ModelForms below, whose fields
    # are made when the class is defined (else Django warns about the URL scheme at import).
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


admin.site.site_header = gettext_lazy("Skills Forward Badges administration")
admin.site.site_title = "Skills Forward Badges"
admin.site.index_title = gettext_lazy("Configuration and records")


def _actor(request) -> str:
    user = request.user
    return f"admin:{user.get_username()}"


def image_validate(upload) -> tuple[bytes, str]:
    """(bytes, content type) of an uploaded badge image checked by badging.images, or ValidationError."""
    from badging.images import MAX_BYTES, badge_image_validate

    data = upload.read(MAX_BYTES + 1)  # never read more than the limit into memory
    try:
        return badge_image_validate(data, upload.name or "")
    except ValidationError as exc:
        raise ValidationError([_sentence(m) for m in exc.messages])


def _shortened(text: str, limit: int) -> str:
    """A long error cut for a list column; its page shows it whole."""
    return text[:limit] + "…" if len(text) > limit else text


def _sentence(message: str) -> str:
    message = message.strip()
    return (message[:1].upper() + message[1:]).rstrip(".") + "."


class ImageUploadForm(forms.ModelForm):
    """A ModelForm whose image is replaced by a validated upload (the model stores bytes)."""

    image_upload = forms.FileField(
        required=False,
        label=gettext_lazy("Image"),
        help_text=(
            "PNG or SVG, at most 256 KB, about square, 90 to 2048 pixels a side. "
            "SVGs with scripts, event handlers or links to other servers are refused."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/svg+xml"}),
    )
    image_required = False

    def clean_image_upload(self):
        upload = self.cleaned_data.get("image_upload")
        if not upload:
            if self.image_required and not (self.instance.pk and self.instance.image):
                raise ValidationError(_("Upload the badge image (PNG or SVG)."))
            return None
        self._image = image_validate(upload)
        return upload

    def save(self, commit=True):
        image = getattr(self, "_image", None)
        if image is not None:
            self.instance.image, self.instance.image_content_type = image
        return super().save(commit=commit)


# --- Issuers ------------------------------------------------------------------------------------


class IssuerForm(ImageUploadForm):
    class Meta:
        model = Issuer
        formfield_callback = _formfield
        fields = ["name", "key", "url", "email", "description"]


class ReadOnlyInline(admin.TabularInline):
    """Child rows written by services, shown beside their parent: never added, edited or deleted here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


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


# --- Badge classes --------------------------------------------------------------------------------


class BadgeClassForm(ImageUploadForm):
    image_required = True

    class Meta:
        model = BadgeClass
        formfield_callback = _formfield
        fields = [
            "issuer",
            "name",
            "key",
            "description",
            "criteria_narrative",
            "criteria_url",
            "alignments",
            "tags",
            "valid_for_days",
        ]
        help_texts = {
            "alignments": gettext_lazy(
                "Skills this badge certifies (Open Badges alignments), as JSON: "
                '[{"targetName": "Data analysis", "targetUrl": "https://…", "targetDescription": "…", '
                '"targetFramework": "…", "targetCode": "…"}]. targetName and targetUrl are required.'
            ),
            "tags": gettext_lazy('Keywords, as JSON: ["data", "analysis"].'),
            "criteria_narrative": gettext_lazy("What a learner must do to earn it, in plain words (Markdown)."),
            "key": gettext_lazy("Stable key used by badging_import/export and Canvas Credentials mapping."),
        }
        widgets = {
            "alignments": forms.Textarea(attrs={"rows": 6, "class": "vLargeTextField"}),
            "tags": forms.Textarea(attrs={"rows": 2}),
        }

    def clean_alignments(self):
        value = self.cleaned_data.get("alignments") or []
        if not isinstance(value, list):
            raise ValidationError(_("Alignments must be a JSON list of objects."))
        for i, item in enumerate(value, start=1):
            if not isinstance(item, dict) or not item.get("targetName") or not item.get("targetUrl"):
                raise ValidationError(_("Alignment %(n)s needs a targetName and a targetUrl.") % {"n": i})
            url = str(item["targetUrl"])
            if not url.startswith(("https://", "http://")):
                raise ValidationError(_("Alignment %(n)s: targetUrl must be an http(s) URL.") % {"n": i})
        return value

    def clean_tags(self):
        value = self.cleaned_data.get("tags") or []
        if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
            raise ValidationError('Tags must be a JSON list of words, e.g. ["data", "analysis"].')
        return [t.strip() for t in value]


@admin.register(BadgeClass)
class BadgeClassAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    form = BadgeClassForm
    list_display = ["thumbnail", "name", "issuer", "key", "skills", "valid_for_days"]
    list_display_links = ["name"]  # the thumbnail is decorative (alt=""): a link needs a name
    list_filter = ["issuer"]
    list_select_related = ["issuer"]
    search_fields = ["name", "key", "description"]
    readonly_fields = ["image_preview", "public_id", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["issuer", "name", "key", "description"]}),
        (gettext_lazy("Image"), {"fields": ["image_preview", "image_upload"]}),
        (gettext_lazy("Criteria and skills"), {"fields": ["criteria_narrative", "criteria_url", "alignments", "tags"]}),
        (gettext_lazy("Validity"), {"fields": ["valid_for_days"]}),
        (gettext_lazy("Record"), {"fields": ["public_id", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("image")

    @admin.display(description="")
    def thumbnail(self, obj: BadgeClass):
        return format_html('<img src="{}" alt="" width="32" height="32">', badge_image_url(badge_class=obj))

    @admin.display(description=gettext_lazy("Current image"))
    def image_preview(self, obj: BadgeClass):
        if not obj.pk:
            return _("Upload an image below.")
        return format_html(
            '<img src="{}" alt="Badge image of {}" width="160" height="160"><br>{}',
            badge_image_url(badge_class=obj),
            obj.name,
            obj.image_content_type,
        )

    @admin.display(description=gettext_lazy("Skills"))
    def skills(self, obj: BadgeClass) -> str:
        return ", ".join(a.get("targetName", "") for a in obj.alignments or [] if isinstance(a, dict))


# --- Course badges --------------------------------------------------------------------------------


class CourseBadgeForm(forms.ModelForm):
    class Meta:
        model = CourseBadge
        formfield_callback = _formfield
        fields = [
            "key",
            "badge_class",
            "course",
            "active",
            "teaching_assistants_may_act",
            "assessment_group_name",
            "assessment_ids",
            "mastery_mode",
            "mastery_min_percent",
            "mastery_min_points",
            "mastery_overrides",
            "mastery_score",
            "min_rubric_criterion_percent",
            "final_grade_source",
            "final_grade_assignment_id",
            "final_grade_assignment_name",
        ]
        help_texts = {
            "course": gettext_lazy(
                "The course's id in this tool (shown by the Badges set-up page when an admin launches it)."
            ),
            "assessment_group_name": gettext_lazy("Canvas assignment group holding the credentialing assessments."),
            "assessment_ids": gettext_lazy(
                "Optional JSON list of Canvas assignment ids; when set it wins over the group name."
            ),
            "mastery_overrides": gettext_lazy(
                # No angle brackets: the admin shows help texts as HTML ("<canvas …>" became an element).
                "Optional JSON keyed by Canvas assignment id, for assessments with their own threshold, "
                'e.g. {"501": {"min_percent": 90}, "502": {"min_points": 10}}.'
            ),
            "min_rubric_criterion_percent": gettext_lazy(
                "Optional: every rubric criterion must also reach this share of its points (0–100)."
            ),
            "mastery_score": gettext_lazy(
                "Which Canvas score mastery is judged on: the score the grader entered (late penalties do not "
                "count), or Canvas's score after late or missing penalties."
            ),
            "teaching_assistants_may_act": gettext_lazy(
                "Let teaching assistants act on this badge (sync, retry, revoke, resend, keep). Off: they see "
                "the dashboard read-only."
            ),
        }

    def clean_assessment_ids(self):
        value = self.cleaned_data.get("assessment_ids") or []
        if not isinstance(value, list) or not all(str(v).strip().isdigit() for v in value):
            raise ValidationError(_("Use a JSON list of Canvas assignment ids, e.g. [501, 502]."))
        return [str(v).strip() for v in value]

    def clean_mastery_overrides(self):
        value = self.cleaned_data.get("mastery_overrides") or {}
        if not isinstance(value, dict):
            raise ValidationError('Use {"<canvas assignment id>": {"min_percent": 90}}.')
        for key, rule in value.items():
            if not isinstance(rule, dict) or len(rule) != 1 or next(iter(rule)) not in ("min_percent", "min_points"):
                raise ValidationError(f'Assessment {key}: use {{"min_percent": N}} or {{"min_points": N}}.')
            number = next(iter(rule.values()))
            if not isinstance(number, int | float) or number < 0 or ("min_percent" in rule and number > 100):
                raise ValidationError(
                    _("Assessment %(id)s: the minimum must be a number (a percent is 0–100).") % {"id": key}
                )
        return value

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("mastery_mode") == CourseBadge.MASTERY_POINTS and cleaned.get("mastery_min_points") is None:
            self.add_error("mastery_min_points", _("Mastery by points needs the minimum points."))
        if cleaned.get("final_grade_source") == CourseBadge.FINAL_GRADE_ASSIGNMENT and not (
            cleaned.get("final_grade_assignment_id") or cleaned.get("final_grade_assignment_name")
        ):
            self.add_error("final_grade_assignment_id", _("Name the final-grade assignment (its Canvas id or name)."))
        return cleaned


def course_badge_rule_text(obj: CourseBadge) -> str:
    """The rule in one readable sentence for operators, in the admin's language."""
    if obj.assessment_ids:
        which = _("assignments %(ids)s") % {"ids": ", ".join(str(i) for i in obj.assessment_ids)}
    else:
        which = _("the assignment group “%(name)s”") % {"name": obj.assessment_group_name}
    if obj.mastery_mode == CourseBadge.MASTERY_POINTS and obj.mastery_min_points is not None:
        mastery = _("at least %(points)s points") % {"points": f"{obj.mastery_min_points.normalize():f}"}
    else:
        mastery = _("at least %(percent)s%% of points") % {"percent": f"{obj.mastery_min_percent.normalize():f}"}
    if obj.mastery_overrides:
        mastery += " " + _("(%(n)s assessment-specific)") % {"n": len(obj.mastery_overrides)}
    if obj.min_rubric_criterion_percent is not None:
        mastery += _(", every rubric criterion ≥ %(percent)s%%") % {
            "percent": f"{obj.min_rubric_criterion_percent.normalize():f}"
        }
    if obj.final_grade_source == CourseBadge.FINAL_GRADE_ASSIGNMENT:
        name = obj.final_grade_assignment_name or _("assignment %(id)s") % {"id": obj.final_grade_assignment_id}
        final = _("“%(name)s” is graded and posted") % {"name": name}
    else:
        final = _("the instructor has entered the final grade (Canvas Final Grade Override)")
    return _("Master %(which)s (%(mastery)s); issued once %(final)s.") % {
        "which": which,
        "mastery": mastery,
        "final": final,
    }


@admin.register(CourseBadge)
class CourseBadgeAdmin(admin.ModelAdmin):
    form = CourseBadgeForm
    list_display = ["badge_class", "course_name", "rule", "active"]
    list_filter = ["active", "mastery_mode", "final_grade_source", "badge_class"]
    list_select_related = ["badge_class", "course"]
    search_fields = ["key", "badge_class__name", "course__name", "course__canvas_course_id", "course__course_code"]
    raw_id_fields = ["course"]
    readonly_fields = ["rule", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["key", "badge_class", "course", "active", "teaching_assistants_may_act"]}),
        (gettext_lazy("Credentialing assessments"), {"fields": ["assessment_group_name", "assessment_ids"]}),
        (
            gettext_lazy("Mastery"),
            {
                "fields": [
                    "mastery_mode",
                    "mastery_min_percent",
                    "mastery_min_points",
                    "mastery_overrides",
                    "mastery_score",
                ]
            },
        ),
        (gettext_lazy("Rubric"), {"fields": ["min_rubric_criterion_percent"]}),
        (
            gettext_lazy("Final grade"),
            {"fields": ["final_grade_source", "final_grade_assignment_id", "final_grade_assignment_name"]},
        ),
        (gettext_lazy("The rule, as saved"), {"fields": ["rule", "created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("badge_class__image")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Stored learner states (and so issuance) follow the rule as saved, not the old one.
        from badging.services.sync import course_evaluate_request

        course_evaluate_request(course_id=obj.course_id)
        if change and "course" in form.changed_data and form.initial.get("course"):
            course_evaluate_request(course_id=form.initial["course"])

    @admin.display(description=gettext_lazy("Course"), ordering="course__name")
    def course_name(self, obj: CourseBadge) -> str:
        return f"{obj.course} (Canvas {obj.course.canvas_course_id})"

    @admin.display(description=gettext_lazy("Rule"))
    def rule(self, obj: CourseBadge) -> str:
        return course_badge_rule_text(obj) if obj.pk else _("Shown after saving.")


# --- What Canvas says: read-only --------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows owned by the sync or by services: viewable, never edited by hand."""

    show_full_result_count = False  # no COUNT(*) over very large tables
    formfield_overrides = HTTPS_URLS

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["name", "course", "assignment_group_name", "points_possible", "published", "rubric_size"]
    list_filter = ["published", "deleted_in_canvas"]
    list_select_related = ["course"]
    search_fields = ["name", "canvas_assignment_id", "course__name", "course__canvas_course_id"]
    readonly_fields = ["rubric_table"]
    exclude = ["rubric"]

    @admin.display(description=gettext_lazy("Rubric criteria"))
    def rubric_size(self, obj: Assignment) -> int:
        return len(obj.rubric or [])

    @admin.display(description=gettext_lazy("Rubric"))
    def rubric_table(self, obj: Assignment):
        rows = [
            (
                c.get("description", ""),
                c.get("points", ""),
                "; ".join(f"{r.get('description', '')} ({r.get('points', '')})" for r in c.get("ratings") or []),
            )
            for c in obj.rubric or []
            if isinstance(c, dict)
        ]
        if not rows:
            return _("No rubric.")
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html("<table><tr><th>Criterion</th><th>Points</th><th>Ratings</th></tr>{}</table>", body)


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdmin):
    list_display = ["learner", "course", "state", "section_id", "is_test_user", "override_score", "override_grade"]
    list_filter = ["state", "is_test_user", "enrollment_type"]
    list_select_related = ["learner", "course"]
    search_fields = ["learner__name", "learner__email", "learner__canvas_user_id", "course__canvas_course_id"]


@admin.register(AssessmentResult)
class AssessmentResultAdmin(ReadOnlyAdmin):
    list_display = ["learner", "assignment", "workflow_state", "score", "excused", "posted", "graded_at"]
    list_filter = ["workflow_state", "excused"]
    list_select_related = ["learner", "assignment"]
    search_fields = ["learner__name", "learner__email", "assignment__name", "course__canvas_course_id"]

    @admin.display(boolean=True, description=gettext_lazy("Posted"))
    def posted(self, obj: AssessmentResult) -> bool:
        return obj.is_posted


@admin.register(LearnerProgress)
class LearnerProgressAdmin(ReadOnlyAdmin):
    list_display = [
        "learner",
        "course_badge",
        "state",
        "mastered",
        "final_grade_entered",
        "issue_status",
        "issue_failure",
        "evaluated_at",
    ]
    list_filter = ["state", "issue_status", "final_grade_entered"]
    list_select_related = ["learner", "course_badge__badge_class", "course_badge__course"]
    search_fields = ["learner__name", "learner__email", "learner__canvas_user_id"]
    readonly_fields = ["detail_pretty"]
    exclude = ["detail"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("course_badge__badge_class__image")

    @admin.display(description=gettext_lazy("Mastered"))
    def mastered(self, obj: LearnerProgress) -> str:
        return f"{obj.mastered_count} of {obj.assessment_count}"

    @admin.display(description=gettext_lazy("Issuing failed"))
    def issue_failure(self, obj: LearnerProgress) -> str:
        if not obj.issue_failed:
            return ""
        retry = (
            f" Next try {timezone.localtime(obj.issue_next_attempt_at):%Y-%m-%d %H:%M}."
            if obj.issue_next_attempt_at
            else ""
        )
        error = _shortened(obj.issue_error, 160)
        return f"{error} (attempt {obj.issue_attempts}).{retry}"

    @admin.display(description=gettext_lazy("Evaluation detail"))
    def detail_pretty(self, obj: LearnerProgress):
        return format_html("<pre>{}</pre>", json.dumps(obj.detail, indent=2, ensure_ascii=False))


@admin.register(CourseSync)
class CourseSyncAdmin(ReadOnlyAdmin):
    list_display = ["course", "last_synced_at", "last_full_sync_at", "last_status", "requested_at"]
    list_filter = ["last_status"]
    list_select_related = ["course"]
    search_fields = ["course__name", "course__canvas_course_id"]


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ["course", "kind", "trigger", "status", "started_at", "finished_at", "canvas_requests"]
    list_display += ["error_short"]
    list_filter = ["status", "kind", "trigger"]
    list_select_related = ["course"]
    search_fields = ["course__name", "course__canvas_course_id", "error"]
    readonly_fields = ["stats_pretty"]
    exclude = ["stats"]

    @admin.display(description=gettext_lazy("Error"))
    def error_short(self, obj: SyncRun) -> str:
        return _shortened(obj.error, 120)

    @admin.display(description=gettext_lazy("Results"))
    def stats_pretty(self, obj: SyncRun):
        return format_html("<pre>{}</pre>", json.dumps(obj.stats, indent=2, ensure_ascii=False))


# --- Awards -----------------------------------------------------------------------------------------


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
        from badging.selectors.learner import award_link_list

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


# Program badges and learners' collections: their own module (registered on import).
from badging import admin_programs  # noqa: E402, F401
