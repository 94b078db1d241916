"""Admin for program badges (defined by operators) and learners' collections (read-only)."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy

from badging.admin.common import ReadOnlyAdmin
from badging.models import (
    Collection,
    CollectionItem,
    CourseBadge,
    LearnerEmail,
    Program,
    ProgramProgress,
    ProgramRequirement,
)
from badging.services.programs import program_evaluate_all_later


class RequirementFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        program = self.instance
        kept = [
            f.cleaned_data["badge_class"]
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("badge_class")
        ]
        if not kept:
            raise forms.ValidationError(gettext_lazy("List at least one required course badge."))
        if program.badge_class_id and any(b.pk == program.badge_class_id for b in kept):
            raise forms.ValidationError(gettext_lazy("A program cannot require its own badge."))
        if program.mode == Program.MODE_N_OF and (program.required_count or 0) > len(kept):
            raise forms.ValidationError(
                gettext_lazy("“At least N” asks for more badges than the program lists (%(n)d).") % {"n": len(kept)}
            )


class RequirementInline(admin.TabularInline):
    model = ProgramRequirement
    formset = RequirementFormSet
    extra = 2
    fields = ["badge_class", "position"]


class ProgramForm(forms.ModelForm):
    class Meta:
        model = Program
        fields = ["key", "platform", "badge_class", "mode", "required_count", "active"]

    def clean(self):
        data = super().clean() or {}
        badge_class, mode, count = data.get("badge_class"), data.get("mode"), data.get("required_count")
        if badge_class is not None and CourseBadge.objects.filter(badge_class=badge_class).exists():
            self.add_error(
                "badge_class", gettext_lazy("This badge class is a course's badge: give the program its own.")
            )
        if mode == Program.MODE_N_OF and not count:
            self.add_error("required_count", gettext_lazy("Say how many of the listed badges are needed."))
        if mode == Program.MODE_ALL:
            data["required_count"] = None
        return data


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    form = ProgramForm
    inlines = [RequirementInline]
    list_display = ["badge_class", "platform", "rule", "active"]
    list_filter = ["active", "platform"]
    list_select_related = ["badge_class", "platform"]
    search_fields = ["key", "badge_class__name"]

    @admin.display(description=gettext_lazy("Rule"))
    def rule(self, obj: Program) -> str:
        count = obj.requirements.count()
        if obj.mode == Program.MODE_N_OF:
            return gettext_lazy("%(n)d of %(total)d listed badges") % {"n": obj.required_count or 0, "total": count}
        return gettext_lazy("All %(total)d listed badges") % {"total": count}

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Learners who already hold the required badges are evaluated now, not at their next award.
        program_evaluate_all_later(program_id=form.instance.pk)


@admin.register(ProgramProgress)
class ProgramProgressAdmin(ReadOnlyAdmin):
    list_display = ["program", "learner", "held_count", "required_count", "evaluated_at"]
    list_filter = ["program"]
    list_select_related = ["program__badge_class", "learner"]
    search_fields = ["learner__name", "learner__email"]


class CollectionItemInline(admin.TabularInline):
    model = CollectionItem
    fields = ["award", "position"]
    readonly_fields = ["award", "position"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Collection)
class CollectionAdmin(ReadOnlyAdmin):
    """Learners own their collections: operators may look (e.g. to answer a question), not edit."""

    list_display = ["name", "learner", "shared", "shared_at", "updated_at"]
    list_filter = ["shared"]
    list_select_related = ["learner"]
    search_fields = ["=public_id", "name", "learner__name"]
    inlines = [CollectionItemInline]


@admin.register(LearnerEmail)
class LearnerEmailAdmin(ReadOnlyAdmin):
    """Addresses learners added and proved themselves (My badges); codes are never shown."""

    list_display = ["email", "learner", "verified_at", "created_at"]
    list_select_related = ["learner"]
    search_fields = ["email", "learner__name"]
    exclude = ["code"]
