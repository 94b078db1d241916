"""Our signing keys (the tool's JWKS): the current key, made on demand, and its rotation with a grace
period.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from jwcrypto.jwk import JWK

from lti.models import ToolKey

logger = logging.getLogger(__name__)

TOOL_KEY_BITS = 2048


def _tool_key_create() -> ToolKey:
    jwk = JWK.generate(kty="RSA", size=TOOL_KEY_BITS)
    kid = jwk.thumbprint()  # RFC 7638: the same kid pylti1p3 derives from the PEM for its assertions
    public = jwk.export_public(as_dict=True)
    public.update(kid=kid, alg="RS256", use="sig")
    pem = jwk.export_to_pem(private_key=True, password=None).decode()
    return ToolKey.objects.create(kid=kid, private_key_pem=pem, public_jwk=public)


def tool_key_current() -> ToolKey:
    """The key that signs now (the newest not superseded); the first one is created on demand."""
    key = ToolKey.objects.filter(superseded_at__isnull=True).order_by("-created_at", "-id").first()
    if key is None:
        key = _tool_key_create()
        logger.info("lti tool key %s created (no key existed)", key.kid)
    return key


@dataclass(frozen=True)
class KeyRotation:
    new_key: ToolKey
    superseded: list[str]
    retired: list[str]
    grace_days: int


def tool_key_rotate(*, grace_days: int | None = None) -> KeyRotation:
    """Adds a new signing key; old keys stay published for the grace period, then are deleted.

    Canvas caches our JWKS, so the superseded key must still verify assertions signed just before
    the rotation; `retire_after` bounds that window.
    """
    if grace_days is None:
        grace_days = settings.LTI_KEY_ROTATION_GRACE_DAYS
    grace = timedelta(days=grace_days)
    now = timezone.now()
    with transaction.atomic():
        retired = list(ToolKey.objects.filter(retire_after__lte=now).values_list("kid", flat=True))
        ToolKey.objects.filter(retire_after__lte=now).delete()
        old = list(ToolKey.objects.select_for_update().filter(superseded_at__isnull=True))
        new_key = _tool_key_create()
        ToolKey.objects.filter(pk__in=[k.pk for k in old]).update(superseded_at=now, retire_after=now + grace)
    logger.info("lti tool key rotated: new %s, superseded %s, retired %s", new_key.kid, [k.kid for k in old], retired)
    return KeyRotation(new_key=new_key, superseded=[k.kid for k in old], retired=retired, grace_days=grace_days)
