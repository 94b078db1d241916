"""Deployment checks of the project itself (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


@register(deploy=True)
def celery_broker(app_configs=None, **kwargs):
    if not settings.CELERY_BROKER_URL.startswith("filesystem:"):
        return []
    return [
        Warning(
            "The Celery broker is the demo's filesystem transport: workers on other machines or in other "
            "containers never receive the tasks, so syncs, awards and emails stall.",
            hint="Set REDIS_URL (or CELERY_BROKER_URL) to the broker every web process and worker shares.",
            id="skillsforward.W001",
        )
    ]


# The settings' default, so that a fresh checkout runs; it is public, in this repository.
DEMO_SECRET_KEY_PREFIX = "insecure-demo-key-change-me-"


@register(deploy=True)
def secret_key_set(app_configs=None, **kwargs):
    # Django's own security.W009 does not catch this key (long, varied, no "django-insecure-").
    if not settings.SECRET_KEY.startswith(DEMO_SECRET_KEY_PREFIX):
        return []
    return [
        Error(
            "DJANGO_SECRET_KEY is not set: the demo's public key signs the form tokens and, without "
            "FIELD_ENCRYPTION_KEY, encrypts the Canvas API tokens and private keys stored in the database.",
            hint="Set DJANGO_SECRET_KEY (and FIELD_ENCRYPTION_KEY) to long random values kept secret.",
            id="skillsforward.E001",
        )
    ]


@register(deploy=True)
def field_encryption_key_set(app_configs=None, **kwargs):
    """Secrets at rest must not hang on SECRET_KEY (rotated for other reasons, or leaked with it)."""
    if settings.DEBUG or settings.FIELD_ENCRYPTION_KEY.strip():
        return []
    return [
        Error(
            "FIELD_ENCRYPTION_KEY is not set: the Canvas API tokens and private keys stored in the database "
            "are encrypted with a key derived from DJANGO_SECRET_KEY.",
            hint="Set FIELD_ENCRYPTION_KEY (python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'), then run `manage.py rotate_field_encryption`.",
            id="skillsforward.E003",
        )
    ]


@register(deploy=True)
def proxy_headers_trusted(app_configs=None, **kwargs):
    """X-Forwarded-Proto is believed only from proxies the operator said are there."""
    if not getattr(settings, "SECURE_PROXY_SSL_HEADER", None) or settings.TRUSTED_PROXY_COUNT > 0:
        return []
    return [
        Error(
            "DJANGO_SECURE_PROXY_SSL_HEADER is on but TRUSTED_PROXY_COUNT is 0: any client can claim https "
            "with an X-Forwarded-Proto header.",
            hint="Set TRUSTED_PROXY_COUNT to the number of proxies in front of gunicorn (usually 1).",
            id="skillsforward.E002",
        )
    ]


@register(deploy=True)
def admin_cookies_lax(app_configs=None, **kwargs):
    """The admin's session must not ride along with requests other sites make (CSRF, framing)."""
    unsafe = [
        name
        for name in ("SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SAMESITE")
        if str(getattr(settings, name, "")).lower() not in ("lax", "strict")
    ]
    if not unsafe:
        return []
    return [
        Error(
            f"{', '.join(unsafe)} must be Lax or Strict: these cookies serve the admin only.",
            id="skillsforward.E004",
        )
    ]


@register(deploy=True)
def admin_login_throttled(app_configs=None, **kwargs):
    from django.contrib import admin

    from skillsforward.admin_login import ThrottledAdminAuthenticationForm

    limits_off = settings.ADMIN_LOGIN_FAILURES_PER_USER < 1 or settings.ADMIN_LOGIN_FAILURES_PER_ADDRESS < 1
    if admin.site.login_form is ThrottledAdminAuthenticationForm and not limits_off:
        return []
    return [
        Error(
            "Failed admin sign-ins are not throttled.",
            hint="Keep ADMIN_LOGIN_FAILURES_PER_USER and ADMIN_LOGIN_FAILURES_PER_ADDRESS at 1 or more.",
            id="skillsforward.E005",
        )
    ]


@register(deploy=True)
def outbound_allow_list(app_configs=None, **kwargs):
    """OUTBOUND_ALLOWED_HOSTS lifts the guard against internal addresses for the hosts it names."""
    from skillsforward.outbound import allowed_host_risks

    link_local, loopback = allowed_host_risks()
    messages: list[CheckMessage] = []
    if link_local:
        messages.append(
            Error(
                f"OUTBOUND_ALLOWED_HOSTS allows link-local addresses ({', '.join(link_local)}): the cloud "
                "metadata service lives there, with this server's credentials.",
                hint="Remove them; allow only the campus hosts the tool must reach (e.g. a self-hosted Canvas).",
                id="skillsforward.E006",
            )
        )
    if loopback:
        messages.append(
            Warning(
                f"OUTBOUND_ALLOWED_HOSTS allows this machine itself ({', '.join(loopback)}): a platform's "
                "URLs may then reach services that listen on localhost only.",
                hint="That is for the local sandbox and the demo; remove it in production.",
                id="skillsforward.W002",
            )
        )
    return messages


@register(Tags.database)
def stored_secrets_readable(app_configs=None, databases=None, **kwargs):
    """Every secret stored in the database opens with this FIELD_ENCRYPTION_KEY (a restored backup
    needs the key it was taken with; a rotation stopped half-way needs the old key kept). Runs where
    Django runs database checks: `migrate` (so a release on the wrong key stops before any web process
    or worker starts) and `check --database default`. A few hundred rows: each one is decrypted."""
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError, connections, transaction

    from skillsforward.fields import EncryptedTextField, decrypt_text

    unreadable: list[str] = []
    for alias in databases or []:
        connection = connections[alias]
        quote = connection.ops.quote_name
        for model in apps.get_models():
            for field in model._meta.concrete_fields:
                if not isinstance(field, EncryptedTextField):
                    continue
                column, table = quote(str(field.column)), quote(model._meta.db_table)
                try:
                    with transaction.atomic(using=alias), connection.cursor() as cursor:
                        # a failed query must not spoil a caller's transaction: hence the savepoint
                        cursor.execute(f"SELECT {column} FROM {table} WHERE {column} <> ''")  # noqa: S608
                        stored = [row[0] for row in cursor.fetchall()]
                except DatabaseError:
                    return []  # not migrated yet: nothing is stored
                failed = 0
                for value in stored:
                    try:
                        decrypt_text(value)
                    except ImproperlyConfigured:
                        failed += 1
                if failed:
                    unreadable.append(f"{model._meta.label}.{field.name}: {failed} of {len(stored)}")
    if not unreadable:
        return []
    why = (
        "FIELD_ENCRYPTION_KEY is not set, so only the key derived from DJANGO_SECRET_KEY is tried"
        if not settings.FIELD_ENCRYPTION_KEY.strip()
        else "none of the keys in FIELD_ENCRYPTION_KEY (nor the one derived from DJANGO_SECRET_KEY) opens them"
    )
    return [
        Error(
            f"The secrets stored in the database cannot be decrypted ({'; '.join(unreadable)}): {why}. "
            "This database was written with another key: Canvas API tokens and issuer signing keys are "
            "unusable, so syncs, Canvas calls and new awards would fail.",
            hint="Set FIELD_ENCRYPTION_KEY to the key the database was written with (for a restored backup: "
            "the key kept with that backup). During a rotation give both keys, new first, comma-separated, "
            "until `manage.py rotate_field_encryption` has finished.",
            id="skillsforward.E007",
        )
    ]
