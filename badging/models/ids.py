"""Opaque ids for public URLs and the salts that hash recipients: the defaults of the models' fields
(the migrations name them as badging.models.new_public_id and badging.models.new_salt)."""

import secrets


def new_public_id() -> str:
    """Opaque, URL-safe id for public URLs: never a database key. Never starts with "-", which
    command lines (badging_revoke AWARD_ID) would take for an option."""
    while (value := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return value


def new_salt() -> str:
    return secrets.token_hex(16)
