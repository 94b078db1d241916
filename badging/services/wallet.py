"""Putting a badge into the learner's wallet: OpenID for Verifiable Credential Issuance 1.0 (OID4VCI),
pre-authorised code flow.

1. The learner, from their own launch, asks for an offer (wallet_offer_create): a single-use
   pre-authorised code, valid OFFER_TTL, in an openid-credential-offer:// URI shown as a QR code.
2. The wallet exchanges the code at the token endpoint (wallet_token_exchange, §6) for an access
   token and a c_nonce; the code cannot be used again.
3. The wallet proves possession of its key over the c_nonce and fetches the credential
   (wallet_credential_issue, §8): credentialSubject.id becomes the wallet's DID, the token and the
   nonce cannot be used again, and the claim is audited.
Codes, tokens and nonces are stored as SHA-256 hashes; every failure answers an OID4VCI/OAuth error.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from urllib.parse import quote

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from badging.models import AuditEvent, Award, WalletOffer
from badging.openbadges import holder, ob3
from badging.openbadges.links import PublicLinks
from badging.services.issuance import documents
from badging.services.sharing import AwardNotYours

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
CONFIGURATION_ID = "OpenBadgeCredential"
OFFER_TTL = timedelta(minutes=10)
TOKEN_TTL = timedelta(minutes=5)
NONCE_TTL = timedelta(minutes=5)


class WalletError(Exception):
    """An OAuth 2.0 / OID4VCI error response: error code, description, HTTP status."""

    def __init__(self, error: str, description: str, *, status: int = 400, c_nonce: str | None = None):
        super().__init__(description)
        self.error, self.description, self.status, self.c_nonce = error, description, status, c_nonce

    def body(self) -> dict:
        body: dict[str, str | int] = {"error": self.error, "error_description": self.description}
        if self.c_nonce:
            body |= {"c_nonce": self.c_nonce, "c_nonce_expires_in": int(NONCE_TTL.total_seconds())}
        return body


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issuer_metadata(*, links: PublicLinks) -> dict:
    """Credential Issuer Metadata (OID4VCI §11.2): one configuration, an OB 3.0 credential in Data
    Integrity form (ldp_vc), bound to a did:key or did:jwk proven with a proof JWT."""
    return {
        "credential_issuer": links.base,
        "credential_endpoint": f"{links.base}/oid4vci/credential",
        "nonce_endpoint": f"{links.base}/oid4vci/nonce",
        # Drafts before 1.0 read the token endpoint here; 1.0 reads the authorization server metadata.
        "token_endpoint": f"{links.base}/oid4vci/token",
        "display": [{"name": "Skills Forward Badges", "locale": "en"}],
        "credential_configurations_supported": {
            CONFIGURATION_ID: {
                "format": "ldp_vc",
                "scope": CONFIGURATION_ID,
                "cryptographic_binding_methods_supported": ["did:key", "did:jwk"],
                "credential_signing_alg_values_supported": ["eddsa-rdfc-2022"],
                "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": list(holder.ALGORITHMS)}},
                "credential_definition": {
                    "@context": list(ob3.CONTEXTS),
                    "type": ["VerifiableCredential", "OpenBadgeCredential"],
                },
                "display": [{"name": "Open Badge", "locale": "en"}],
            }
        },
    }


def authorization_server_metadata(*, links: PublicLinks) -> dict:
    """RFC 8414 metadata of the token endpoint (the credential issuer is its own authorisation server)."""
    return {
        "issuer": links.base,
        "token_endpoint": f"{links.base}/oid4vci/token",
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "response_types_supported": [],
        "pre-authorized_grant_anonymous_access_supported": True,
    }


def wallet_offer_create(*, award_public_id: str, learner, links: PublicLinks) -> tuple[WalletOffer, str]:
    """A credential offer of the learner's own live award (raises AwardNotYours otherwise): the
    offer and its openid-credential-offer:// URI (OID4VCI §4.1), carrying the pre-authorised code."""
    award = (
        Award.objects.select_related("course_badge__course")
        .filter(public_id=award_public_id, learner=learner, revoked=False)
        .defer("ob3_credential", "ob3_jwt")
        .first()
    )
    if award is None:
        raise AwardNotYours(award_public_id)
    code = secrets.token_urlsafe(32)
    offer = WalletOffer.objects.create(award=award, code_hash=_hash(code), code_expires_at=timezone.now() + OFFER_TTL)
    AuditEvent.objects.create(
        actor=f"{learner.name or 'Learner'} (Canvas user {learner.canvas_user_id})",
        actor_person=learner,
        action="wallet_offer_created",
        course=award.course,
        award=award,
        detail={"offer": offer.pk, "expires_at": offer.code_expires_at.isoformat()},
    )
    document = {
        "credential_issuer": links.base,
        "credential_configuration_ids": [CONFIGURATION_ID],
        "grants": {PRE_AUTHORIZED_GRANT: {"pre-authorized_code": code}},
    }
    uri = "openid-credential-offer://?credential_offer=" + quote(json.dumps(document, separators=(",", ":")), safe="")
    return offer, uri


def wallet_token_exchange(*, grant_type: str, pre_authorized_code: str) -> dict:
    """Token endpoint (OID4VCI §6, pre-authorised code grant): the code works once, before it expires,
    for a live award; answers an access token and a c_nonce for the proof."""
    if grant_type != PRE_AUTHORIZED_GRANT:
        raise WalletError("unsupported_grant_type", "Only the pre-authorised code grant is offered.")
    now = timezone.now()
    with transaction.atomic():
        offer = (
            WalletOffer.objects.select_for_update(of=("self",))
            .select_related("award")
            .filter(code_hash=_hash(pre_authorized_code or ""))
            .first()
        )
        if offer is None or offer.code_used_at is not None or offer.code_expires_at <= now or offer.award.revoked:
            # One answer for unknown, used, expired and revoked: a guesser learns nothing.
            raise WalletError("invalid_grant", "The pre-authorised code is invalid, used or expired.")
        token, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        offer.code_used_at = now
        offer.token_hash, offer.token_expires_at = _hash(token), now + TOKEN_TTL
        offer.nonce_hash, offer.nonce_expires_at = _hash(nonce), now + NONCE_TTL
        offer.save(update_fields=["code_used_at", "token_hash", "token_expires_at", "nonce_hash", "nonce_expires_at"])
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": int(TOKEN_TTL.total_seconds()),
        "c_nonce": nonce,
        "c_nonce_expires_in": int(NONCE_TTL.total_seconds()),
    }


def _nonce_key(nonce: str) -> str:
    return f"badging:oid4vci:nonce:{_hash(nonce)}"


def wallet_nonce_issue() -> dict:
    """Nonce endpoint (OID4VCI 1.0 §7): a fresh c_nonce for a proof, valid NONCE_TTL, usable once.
    (Wallets on earlier drafts use the c_nonce of the token response instead.)"""
    nonce = secrets.token_urlsafe(24)
    cache.set(_nonce_key(nonce), True, int(NONCE_TTL.total_seconds()))
    return {"c_nonce": nonce}


def _nonce_valid(offer: WalletOffer, nonce: str, now) -> bool:
    """The offer's own c_nonce (token response, or the one sent with the last refusal), or one from
    the nonce endpoint, which is spent by this check."""
    current = offer.nonce_expires_at is not None and offer.nonce_expires_at > now
    if current and secrets.compare_digest(_hash(nonce), offer.nonce_hash):
        return True
    return bool(cache.delete(_nonce_key(nonce)))


def _proof_jwt(body: dict) -> str:
    proofs = body.get("proofs")
    if isinstance(proofs, dict) and isinstance(proofs.get("jwt"), list) and len(proofs["jwt"]) == 1:
        return str(proofs["jwt"][0])
    proof = body.get("proof")  # drafts before 1.0: a single proof object
    if isinstance(proof, dict) and proof.get("proof_type") == "jwt" and isinstance(proof.get("jwt"), str):
        return proof["jwt"]
    raise holder.InvalidProof("one proof of type jwt is required")


def _requested_configuration_ok(body: dict) -> bool:
    if body.get("credential_configuration_id") is not None:
        return body["credential_configuration_id"] == CONFIGURATION_ID
    if body.get("format") is not None:  # drafts before 1.0 name the format and type instead
        types = (body.get("credential_definition") or {}).get("type") or []
        return body["format"] == "ldp_vc" and "OpenBadgeCredential" in types
    return body.get("credential_identifier") in (None, CONFIGURATION_ID)


def _new_nonce(offer: WalletOffer, now) -> str:
    nonce = secrets.token_urlsafe(24)
    offer.nonce_hash, offer.nonce_expires_at = _hash(nonce), now + NONCE_TTL
    offer.save(update_fields=["nonce_hash", "nonce_expires_at"])
    return nonce


def wallet_credential_issue(*, access_token: str, body: dict, links: PublicLinks) -> dict:
    """Credential endpoint (OID4VCI §8): with the access token (once) and a proof of possession
    over the current c_nonce, the award's credential bound to the wallet's DID. Audited."""
    now = timezone.now()
    refusal: WalletError | None = None
    if not isinstance(body, dict):
        raise WalletError("invalid_credential_request", "The request body must be a JSON object.")
    with transaction.atomic():
        offer = (
            WalletOffer.objects.select_for_update(of=("self",))
            .select_related("award__badge_class__issuer", "award__course_badge__course")
            .filter(token_hash=_hash(access_token or ""))
            .first()
        )
        if (
            offer is None
            or offer.claimed_at is not None
            or offer.token_expires_at is None
            or offer.token_expires_at <= now
        ):
            raise WalletError("invalid_token", "The access token is invalid, used or expired.", status=401)
        award = offer.award
        if award.revoked:
            raise WalletError("credential_request_denied", "This badge has been revoked.")
        if not _requested_configuration_ok(body):
            raise WalletError("unknown_credential_configuration", "Only OpenBadgeCredential is offered.")
        try:
            proof = holder.proof_verify(_proof_jwt(body), audience=links.base, now=now)
        except holder.InvalidProof as exc:
            # A fresh nonce for the next try (§8.3.1.2), saved: the refusal is raised after commit.
            refusal = WalletError("invalid_proof", str(exc), c_nonce=_new_nonce(offer, now))
        else:
            if not _nonce_valid(offer, proof.nonce, now):
                refusal = WalletError(
                    "invalid_nonce", "The proof does not carry a current c_nonce.", c_nonce=_new_nonce(offer, now)
                )
        if refusal is None:
            credential = documents.award_credential_for_holder(award=award, holder_id=proof.holder_id, links=links)
            offer.claimed_at, offer.holder_id, offer.credential_id = now, proof.holder_id, credential["id"]
            offer.nonce_hash, offer.nonce_expires_at = "", None
            offer.save(update_fields=["claimed_at", "holder_id", "credential_id", "nonce_hash", "nonce_expires_at"])
            AuditEvent.objects.create(
                actor=f"wallet {proof.holder_id[:200]}",
                actor_person=award.learner,
                action="wallet_credential_claimed",
                course=award.course,
                award=award,
                detail={"offer": offer.pk, "holder": proof.holder_id, "credential": credential["id"]},
            )
    if refusal is not None:
        raise refusal
    # 1.0 answers a list of credentials; drafts before it a single "credential".
    return {"credentials": [{"credential": credential}], "credential": credential, "format": "ldp_vc"}
