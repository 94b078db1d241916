"""The sandbox Canvas's credentials: its LTI signing keys, its Live Events signing keys (rotated
monthly, as Canvas does) and the REST API tokens it issues."""

import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import IntegrityError, transaction
from django.utils import timezone
from jwcrypto import jwk

from sandbox.models import ApiToken, LiveEventsKey, PlatformKey, SandboxInstance, SandboxUser, token_digest


def platform_key_rotate(*, instance: SandboxInstance) -> PlatformKey:
    """Make a new signing key current; the old current key stays published as previous.

    Tools that cache the JWKS must therefore accept tokens signed by either during a rotation.
    """
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    kid = f"{timezone.now():%Y-%m-%dT%H:%M:%SZ}_{secrets.token_hex(4)}"
    public = jwk.JWK.from_pem(pem.encode()).export_public(as_dict=True)
    public.update(kid=kid, alg="RS256", use="sig")
    with transaction.atomic():
        PlatformKey.objects.filter(instance=instance, status=PlatformKey.PREVIOUS).update(status=PlatformKey.RETIRED)
        PlatformKey.objects.filter(instance=instance, status=PlatformKey.CURRENT).update(status=PlatformKey.PREVIOUS)
        return PlatformKey.objects.create(instance=instance, kid=kid, private_key_pem=pem, public_jwk=public)


def platform_key_current(*, instance: SandboxInstance) -> PlatformKey:
    """The key the instance signs with now; the first one is made on demand."""
    key = PlatformKey.objects.filter(instance=instance, status=PlatformKey.CURRENT).first()
    return key or platform_key_rotate(instance=instance)


def _rsa_jwk_pair(kid: str) -> tuple[str, dict]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = jwk.JWK.from_pem(pem.encode()).export_public(as_dict=True)
    public.update(kid=kid, alg="RS256", use="sig")
    return pem, public


def _live_events_key_new(status: str) -> LiveEventsKey:
    kid = f"live-events-{timezone.now():%Y-%m}-{secrets.token_hex(4)}"
    pem, public = _rsa_jwk_pair(kid)
    return LiveEventsKey.objects.create(kid=kid, private_key_pem=pem, public_jwk=public, status=status)


def live_events_key_rotate() -> LiveEventsKey:
    """Canvas's monthly rotation: the next key becomes current, the current one previous (still
    published), a new next key is published ahead of use. Returns the new current key."""
    with transaction.atomic():
        list(LiveEventsKey.objects.select_for_update().exclude(status=LiveEventsKey.RETIRED))
        LiveEventsKey.objects.filter(status=LiveEventsKey.PREVIOUS).update(status=LiveEventsKey.RETIRED)
        LiveEventsKey.objects.filter(status=LiveEventsKey.CURRENT).update(status=LiveEventsKey.PREVIOUS)
        promoted = LiveEventsKey.objects.filter(status=LiveEventsKey.NEXT).update(status=LiveEventsKey.CURRENT)
        if not promoted:
            _live_events_key_new(LiveEventsKey.CURRENT)
        _live_events_key_new(LiveEventsKey.NEXT)
        return LiveEventsKey.objects.get(status=LiveEventsKey.CURRENT)


def live_events_key_current() -> LiveEventsKey:
    """The key Live Events are signed with now (the set is made on first use)."""
    key = LiveEventsKey.objects.filter(status=LiveEventsKey.CURRENT).first()
    if key is not None:
        return key
    try:
        return live_events_key_rotate()
    except IntegrityError:  # another process made the first set at the same time
        return LiveEventsKey.objects.get(status=LiveEventsKey.CURRENT)


def live_events_keys_published() -> list[dict]:
    """The public key set: previous, current and next, as Canvas publishes it."""
    live_events_key_current()
    keys = LiveEventsKey.objects.exclude(status=LiveEventsKey.RETIRED)
    return [k.public_jwk for k in keys]


def api_token_create(*, user: SandboxUser, purpose: str = "", token: str | None = None) -> str:
    """Issues a REST token for the user; returns the plaintext (only its hash is stored)."""
    token = token or f"{user.instance_id}~{secrets.token_urlsafe(32)}"
    ApiToken.objects.get_or_create(token_hash=token_digest(token), defaults={"user": user, "purpose": purpose})
    return token
