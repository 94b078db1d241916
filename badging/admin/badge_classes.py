"""Admin for badge classes and course badges (which badge class a course awards, and by which rule)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from badging.admin.common import HTTPS_URLS, ImageUploadForm, _formfield
from badging.models import BadgeClass, CourseBadge
from badging.selectors.learner.cards import badge_image_url


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
        from badging.services.sync.coordination import course_evaluate_request

        course_evaluate_request(course_id=obj.course_id)
        if change and "course" in form.changed_data and form.initial.get("course"):
            course_evaluate_request(course_id=form.initial["course"])

    @admin.display(description=gettext_lazy("Course"), ordering="course__name")
    def course_name(self, obj: CourseBadge) -> str:
        return f"{obj.course} (Canvas {obj.course.canvas_course_id})"

    @admin.display(description=gettext_lazy("Rule"))
    def rule(self, obj: CourseBadge) -> str:
        return course_badge_rule_text(obj) if obj.pk else _("Shown after saving.")
