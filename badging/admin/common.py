"""What the badging admin pages share: https URL fields, the acting operator, validated badge image
uploads, and the read-only admin and inline for rows that only services write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# URLs typed without a scheme are https (Django 6's default; silences the 5.x transition warning).
HTTPS_URLS: Mapping[type[models.Field], Mapping[str, Any]] = {models.URLField: {"assume_scheme": "https"}}


def _formfield(db_field, **kwargs):
    # HTTPS_URLS covers the forms the admin builds; this covers the ModelForms below, whose fields
    # are made when the class is defined (else Django warns about the URL scheme at import).
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


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


class ReadOnlyInline(admin.TabularInline):
    """Child rows written by services, shown beside their parent: never added, edited or deleted here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


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
