"""Secrets at rest: a text field encrypted with Fernet (AES-128-CBC + HMAC).

FIELD_ENCRYPTION_KEY may hold several comma-separated keys: the first encrypts, all decrypt, so keys
are rotated by putting a new key first and running `manage.py rotate_field_encryption`, which
re-encrypts every stored secret with it; the old key can then be removed.

Without FIELD_ENCRYPTION_KEY (the demo) a key derived from SECRET_KEY encrypts; `check --deploy`
refuses that in production (skillsforward.E003). Once FIELD_ENCRYPTION_KEY is set, that derived key
still decrypts (never encrypts), so secrets stored before can be read and rotated to the new key.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"


@lru_cache(maxsize=4)
def _fernet(key_setting: str, secret_key: str) -> MultiFernet:
    derived = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest()).decode()
    keys = [k.strip() for k in key_setting.split(",") if k.strip()]
    keys.append(derived)  # decrypts what was stored before FIELD_ENCRYPTION_KEY was set
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be urlsafe-base64 32-byte Fernet keys") from exc


def fernet() -> MultiFernet:
    return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt_text(value: str) -> str:
    return PREFIX + fernet().encrypt(value.encode()).decode()


def decrypt_text(value: str) -> str:
    if not value.startswith(PREFIX):
        return value
    return _decrypted(value, settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)


@lru_cache(maxsize=256)
def _decrypted(value: str, key_setting: str, secret_key: str) -> str:
    # Kept per process: every launch-bound request reads its platform's API token with the launch,
    # and decrypting it again each time was a measurable part of a learner page view.
    try:
        return _fernet(key_setting, secret_key).decrypt(value[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured("a stored secret cannot be decrypted: FIELD_ENCRYPTION_KEY changed?") from exc


class EncryptedTextField(models.TextField):
    """Stores `fernet:<token>`; Python code only ever sees the plaintext."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt_text(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_text(value)


def encrypted_values_rotate() -> dict[str, int]:
    """Re-encrypts every stored secret (every EncryptedTextField of every model) with the first
    FIELD_ENCRYPTION_KEY; returns how many values per "app.Model.field". Idempotent. Raises
    ImproperlyConfigured, having changed nothing of that row, when a value no key decrypts."""
    from django.apps import apps
    from django.db import transaction

    counts: dict[str, int] = {}
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        for field in fields:
            label = f"{model._meta.label}.{field.name}"
            counts[label] = 0
            rows = model._default_manager.exclude(**{field.name: ""}).exclude(**{f"{field.name}__isnull": True})
            for pk in rows.values_list("pk", flat=True).iterator():
                with transaction.atomic():
                    # Reading decrypts with whichever key fits; writing encrypts with the first one.
                    value = model._default_manager.select_for_update().values_list(field.name, flat=True).get(pk=pk)
                    model._default_manager.filter(pk=pk).update(**{field.name: value})
                counts[label] += 1
    return counts
