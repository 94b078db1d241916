"""Writes of platform registrations: adding or updating a platform (by an admin, a command or dynamic
registration), approving it, registration invites, and deployments.
"""

import hashlib
import logging
import secrets
from collections.abc import Iterable
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lti.errors import Refused
from lti.models import CANVAS_AUTH_LOGIN_URL, CANVAS_KEYSET_URL, Deployment, Platform, RegistrationInvite

logger = logging.getLogger(__name__)


def canvas_token_url(api_base_url: str) -> str:
    """Canvas's OAuth2 token endpoint lives on the institution's own host (the assertion aud)."""
    return f"{api_base_url.rstrip('/')}/login/oauth2/token" if api_base_url else ""


def _check_url(field: str, url: str) -> None:
    # Lenient on purpose: the local Canvas stand-in lives on hosts like http://testserver.
    parts = urlsplit(url)
    if url and (parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url)):
        raise ValueError(f"{field} is not an http(s) URL: {url!r}")


class PlatformConflict(ValueError):
    """A manual registration names a client id that a dynamic registration already holds."""


def _platform_endpoints_check(platform: Platform) -> None:
    for field in ("issuer", "auth_login_url", "auth_token_url", "keyset_url", "api_base_url"):
        _check_url(field, getattr(platform, field))


def _platform_conflict_message(platform: Platform) -> str:
    state = "pending approval" if platform.status == Platform.STATUS_PENDING else "approved"
    origin = f" from {platform.requested_ip}" if platform.requested_ip else ""
    return (
        f"client id {platform.client_id} of {platform.issuer} was registered through dynamic registration "
        f"({state}, {platform.created_at:%Y-%m-%d %H:%M} UTC{origin}), with its own key set {platform.keyset_url} "
        "and login URL: a manual registration never merges into it. Check in Canvas (Admin > Developer Keys) "
        "which key this client id is. If that registration is not yours, delete it in the admin (Platforms) "
        "or run again with --replace-dynamic; if it is yours, add the API token in the admin instead."
    )


def platform_upsert(
    *,
    issuer: str,
    client_id: str,
    deployment_ids: Iterable[str],
    api_base_url: str = "",
    api_token: str = "",
    name: str = "",
    auth_login_url: str | None = None,
    auth_token_url: str | None = None,
    keyset_url: str | None = None,
    replace_dynamic: bool = False,
) -> Platform:
    """Create or update a manual registration (issuer + client_id) and make sure its deployments exist.

    Idempotent. Omitted endpoints get the hosted-Canvas defaults on creation and are left alone on
    update; an empty api_token never erases a stored one. Deployments are only ever added.

    A row made by dynamic registration is never merged into: anyone could have started it, with
    key set and login URLs of their own. Raises PlatformConflict, unless `replace_dynamic`: then a
    registration nobody launched from is deleted and created anew from these values only (one
    that has courses is refused: its data would be mixed with the real Canvas's).
    """
    issuer = issuer.strip().rstrip("/")
    client_id = client_id.strip()
    if not issuer or not client_id:
        raise ValueError("issuer and client_id are required")
    api_base_url = api_base_url.strip().rstrip("/")
    with transaction.atomic():
        existing = Platform.objects.select_for_update().filter(issuer=issuer, client_id=client_id).first()
        if existing is not None and existing.registered_via == "dynamic":
            if not replace_dynamic:
                raise PlatformConflict(_platform_conflict_message(existing))
            if existing.courses.exists():
                raise PlatformConflict(
                    f"client id {client_id} of {issuer} is a dynamic registration that courses were launched "
                    "from: it is not replaced. Edit it in the admin (Platforms) instead."
                )
            logger.warning("lti platform %s: dynamic registration replaced by a manual one", existing)
            existing.delete()
            existing = None
        created = existing is None
        if existing is None:
            platform = Platform(issuer=issuer, client_id=client_id, registered_via="manual")
            platform.auth_login_url = auth_login_url or CANVAS_AUTH_LOGIN_URL
            platform.keyset_url = keyset_url or CANVAS_KEYSET_URL
            platform.auth_token_url = auth_token_url or canvas_token_url(api_base_url)
        else:
            platform = existing
            if auth_login_url:
                platform.auth_login_url = auth_login_url
            if keyset_url:
                platform.keyset_url = keyset_url
            if auth_token_url:
                platform.auth_token_url = auth_token_url
            elif api_base_url and not platform.auth_token_url:
                platform.auth_token_url = canvas_token_url(api_base_url)
        if api_base_url:
            platform.api_base_url = api_base_url
            platform.api_base_url_source = Platform.SOURCE_MANUAL
        if api_token:
            platform.api_token = api_token
        if name:
            platform.name = name
        elif not platform.name:
            platform.name = platform.api_base_url.split("//")[-1] or issuer.split("//")[-1]
        _platform_endpoints_check(platform)
        platform.save()
        for deployment_id in deployment_ids:
            deployment_id = deployment_id.strip()
            if deployment_id:
                Deployment.objects.get_or_create(platform=platform, deployment_id=deployment_id)
        # Pages may be framed by registered platforms only; that list is cached (CSP middleware).
        transaction.on_commit(_frame_ancestors_forget)
    logger.info(
        "lti platform %s: %s client_id=%s", "created" if created else "updated", platform.issuer, platform.client_id
    )
    return platform


def platform_create_registered(
    *,
    issuer: str,
    client_id: str,
    deployment_id: str,
    api_base_url: str,
    name: str,
    auth_login_url: str,
    auth_token_url: str,
    keyset_url: str,
    requested_ip: str | None,
    requested_with: str,
    invite: RegistrationInvite | None = None,
) -> Platform:
    """Records a dynamic registration: pending until an admin approves it, or approved at once when
    it came through an unused, unexpired invite (which is then used up). Never touches an existing
    registration (raises Refused "registration_exists"); bounded by LTI_PENDING_REGISTRATIONS_MAX."""
    issuer = issuer.strip().rstrip("/")
    with transaction.atomic():
        if Platform.objects.filter(issuer=issuer, client_id=client_id).exists():
            raise Refused("registration_exists", f"{issuer} client_id={client_id} is already registered")
        now = timezone.now()
        if invite is not None:
            invite = RegistrationInvite.objects.select_for_update().filter(pk=invite.pk, used_at__isnull=True).first()
            if invite is None or invite.expires_at <= now:
                raise Refused("invite_invalid", "the registration link was used or has expired meanwhile")
        elif platforms_pending_full():
            raise Refused("registrations_full", "too many registrations wait for approval")
        platform = Platform(
            issuer=issuer,
            client_id=client_id,
            api_base_url=api_base_url.rstrip("/"),
            api_base_url_source=Platform.SOURCE_REGISTRATION if api_base_url else Platform.SOURCE_MANUAL,
            name=name[:200],
            auth_login_url=auth_login_url,
            auth_token_url=auth_token_url,
            keyset_url=keyset_url,
            registered_via="dynamic",
            # Canvas creates the deployment after registration without telling the tool.
            accept_new_deployments=not deployment_id,
            status=Platform.STATUS_APPROVED if invite else Platform.STATUS_PENDING,
            requested_ip=requested_ip or None,
            requested_with=requested_with[:200],
            approved_at=now if invite else None,
            approved_by=f"invite: {invite.note} (by {invite.created_by})"[:150] if invite else "",
        )
        _platform_endpoints_check(platform)
        platform.save()
        if deployment_id:
            Deployment.objects.create(platform=platform, deployment_id=deployment_id)
        if invite is not None:
            RegistrationInvite.objects.filter(pk=invite.pk).update(used_at=now, platform=platform)
            transaction.on_commit(_frame_ancestors_forget)
    return platform


def platforms_pending_full() -> bool:
    """Old pending registrations expire (deleted here); the rest are capped, so an anonymous
    caller cannot grow the table or the admin's review queue without bound."""
    platforms_pending_purge()
    return Platform.objects.filter(status=Platform.STATUS_PENDING).count() >= settings.LTI_PENDING_REGISTRATIONS_MAX


def platforms_pending_purge() -> int:
    """Deletes registrations still pending after LTI_PENDING_REGISTRATION_DAYS; returns how many."""
    cutoff = timezone.now() - timedelta(days=settings.LTI_PENDING_REGISTRATION_DAYS)
    deleted, _ = Platform.objects.filter(status=Platform.STATUS_PENDING, created_at__lt=cutoff).delete()
    return deleted


def platform_approve(*, platform: Platform, approved_by: str) -> Platform:
    """An admin approves a pending registration: from now on it is trusted (launches, logins, CSP,
    Live Events). Approving an approved platform changes nothing."""
    with transaction.atomic():
        platform = Platform.objects.select_for_update().get(pk=platform.pk)
        if platform.status == Platform.STATUS_APPROVED:
            return platform
        platform.status = Platform.STATUS_APPROVED
        platform.approved_at = timezone.now()
        platform.approved_by = approved_by[:150]
        platform.save(update_fields=["status", "approved_at", "approved_by", "updated_at"])
        transaction.on_commit(_frame_ancestors_forget)
    logger.info("lti platform %s approved by %s", platform, approved_by)
    return platform


def _invite_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def registration_invite_create(*, note: str, created_by: str, days: int = 7) -> tuple[RegistrationInvite, str]:
    """A one-time registration link's invite and its secret token (shown once, stored hashed)."""
    token = secrets.token_urlsafe(24)
    invite = RegistrationInvite.objects.create(
        token_hash=_invite_hash(token),
        note=note,
        created_by=created_by[:150],
        expires_at=timezone.now() + timedelta(days=days),
    )
    return invite, token


def registration_invite_find(*, token: str) -> RegistrationInvite:
    """The unused, unexpired invite of this token; raises Refused "invite_invalid" otherwise."""
    invite = RegistrationInvite.objects.filter(token_hash=_invite_hash(token), used_at__isnull=True).first()
    if invite is None or invite.expires_at <= timezone.now():
        raise Refused("invite_invalid", "unknown, used or expired registration link")
    return invite


def _frame_ancestors_forget() -> None:
    from django.core.cache import cache

    from skillsforward.middleware import FRAME_ANCESTORS_CACHE_KEY

    cache.delete(FRAME_ANCESTORS_CACHE_KEY)


def deployment_record(*, platform: Platform, deployment_id: str) -> Deployment:
    """The deployment row; created only when the platform accepts new deployments (else DoesNotExist)."""
    deployment = Deployment.objects.filter(platform=platform, deployment_id=deployment_id, active=True).first()
    if deployment is not None:
        return deployment
    if not platform.accept_new_deployments:
        raise Deployment.DoesNotExist(deployment_id)
    deployment, created = Deployment.objects.get_or_create(platform=platform, deployment_id=deployment_id)
    if created:
        logger.info("lti deployment %s recorded for %s at its first launch", deployment_id, platform)
    return deployment
