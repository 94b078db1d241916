"""An issuer's signing keys (Ed25519 for Data Integrity proofs, RSA for VC-JWT): created on first
use, exactly once, and rotated on request (old keys stay published so that earlier credentials
still verify)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from badging.models import (
    AuditEvent,
    Issuer,
    IssuerKey,
)
from badging.openbadges import keys


@dataclass(frozen=True)
class SigningKeys:
    ed25519: IssuerKey
    rsa: IssuerKey


def issuer_keys_current(*, issuer: Issuer) -> SigningKeys:
    """The issuer's current Ed25519 and RSA keys, created on first use (under the issuer's row lock
    so that two workers never create two)."""
    current = {k.algorithm: k for k in IssuerKey.objects.filter(issuer=issuer, superseded_at__isnull=True)}
    if keys.ED25519 not in current or keys.RS256 not in current:
        with transaction.atomic():
            Issuer.objects.select_for_update().filter(pk=issuer.pk).first()
            current = {k.algorithm: k for k in IssuerKey.objects.filter(issuer=issuer, superseded_at__isnull=True)}
            for algorithm in (keys.ED25519, keys.RS256):
                if algorithm not in current:
                    pem, jwk = keys.key_generate(algorithm)
                    current[algorithm] = IssuerKey.objects.create(
                        issuer=issuer, algorithm=algorithm, private_key_pem=pem, public_jwk=jwk
                    )
    return SigningKeys(ed25519=current[keys.ED25519], rsa=current[keys.RS256])


def issuer_key_rotate(*, issuer_id: int, actor: str = "system") -> SigningKeys:
    """New signing keys for the issuer. Old keys stay published (credentials signed with them
    still verify); only new credentials use the new keys."""
    with transaction.atomic():
        issuer = Issuer.objects.select_for_update().get(pk=issuer_id)
        IssuerKey.objects.filter(issuer=issuer, superseded_at__isnull=True).update(superseded_at=timezone.now())
        AuditEvent.objects.create(actor=actor, action="issuer_keys_rotated", detail={"issuer": issuer.key})
    return issuer_keys_current(issuer=issuer)
