"""Open Badges 3.0 OpenBadgeCredential (1EdTech OB 3.0, https://www.imsglobal.org/spec/ob/v3p0/).

- §4.1 / §8.1 OpenBadgeCredential on the VC Data Model 2.0 (contexts in this order: VCDM 2.0,
  OB 3.0.3), with an AchievementSubject identified by a hashed email (§8.2.4 IdentityObject).
- §8.3 credentialStatus: a W3C Bitstring Status List v1.0 entry with statusPurpose "revocation".
- §8.5 proofs: an embedded DataIntegrityProof, cryptosuite eddsa-rdfc-2022 (VC Data Integrity
  EdDSA Cryptosuites v1.0 §3.2), and the same credential as a VC-JWT (RS256, header kid).
"""

import base64
import gzip
import hashlib
import json
import uuid
from datetime import UTC, datetime
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from badging.openbadges import jsonld
from badging.openbadges.multibase import multibase_encode
from badging.openbadges.ob2 import alignments, award_identity, is_svg

CONTEXTS = ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
# No credentialSchema entry: its type "1EdTechJsonSchemaValidator2019" is defined in no bundled
# context, so canonicalisers resolve it against different base IRIs (pyld: a placeholder base,
# pyoxigraph: dropped) and a verifier could compute a different hash than the signer did.
# Bitstring Status List §6.1: at least 131,072 entries (16 KiB) per list, for herd privacy.
STATUS_LIST_SIZE = 131_072


def vc_datetime(value: datetime) -> str:
    """XML Schema dateTimeStamp in UTC with a Z, as in the spec's examples."""
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_position(status_list_index: int) -> tuple[int, int]:
    """(list number, index within that list) for an award's global status list index."""
    return divmod(status_list_index, STATUS_LIST_SIZE)


# Namespace of the credential subjects' ids (uuid5 of the award's public id).
SUBJECT_NAMESPACE = uuid.UUID("5b0c8f0e-3c4e-4d3b-9a53-3f1b0a7c2d61")


def issuer_profile(issuer, links) -> dict:
    """§8.2.11 Profile: id and type required, name expected. The id is the issuer's did:web, whose
    DID document lists the signing keys under assertionMethod (what verifiers check a proof's
    verificationMethod against); the image lets a wallet show who issued the badge."""
    profile = {
        "id": links.issuer_did(issuer.public_id),
        "type": ["Profile"],
        "name": issuer.name,
        "url": issuer.url,
        "email": issuer.email,
    }
    if issuer.description:
        profile["description"] = issuer.description
    if issuer.image:
        profile["image"] = {"id": links.issuer_image(issuer.public_id), "type": "Image"}
    return profile


def subject_id(award_public_id: str) -> str:
    """credentialSubject.id (and the VC-JWT sub): stable for the award and identifying no one (not
    the email, not a Canvas id; one per award, so that two of a learner's badges are not linked by
    it). A wallet's claim replaces it with the wallet's own DID."""
    return f"urn:uuid:{uuid.uuid5(SUBJECT_NAMESPACE, award_public_id)}"


def achievement(badge_class, links) -> dict:
    """§8.2.1 Achievement: id, type, name, description, criteria (+ image, alignment, tag)."""
    criteria = {"narrative": badge_class.criteria_narrative}
    if badge_class.criteria_url:
        criteria["id"] = badge_class.criteria_url
    doc = {
        "id": links.badge_class(badge_class.public_id),
        "type": ["Achievement"],
        "achievementType": "Badge",
        "name": badge_class.name,
        "description": badge_class.description,
        "criteria": criteria,
        "image": {"id": links.badge_class_image(badge_class.public_id), "type": "Image"},
        "creator": issuer_profile(badge_class.issuer, links),
    }
    if aligned := alignments(badge_class):
        doc["alignment"] = [{"type": ["Alignment"], **a} for a in aligned]
    if badge_class.tags:
        doc["tag"] = list(badge_class.tags)
    return doc


# Every credential of a badge class carries the same issuer profile and achievement: built once
# per badge class, issuer and links (keyed by every value they are built from), kept as JSON, and
# parsed afresh for each credential (a new copy that the caller may change).
_badge_class_parts_json: dict[tuple, str] = {}


def _badge_class_parts(badge_class, links) -> tuple[dict, dict]:
    """(issuer profile, achievement) of a badge class, as issuer_profile and achievement build them."""
    issuer = badge_class.issuer
    key = (
        type(links),
        links.base,
        badge_class.public_id,
        badge_class.name,
        badge_class.description,
        badge_class.criteria_narrative,
        badge_class.criteria_url,
        json.dumps([badge_class.alignments, badge_class.tags]),
        issuer.public_id,
        issuer.name,
        issuer.url,
        issuer.email,
        issuer.description,
        bool(issuer.image),
    )
    text = _badge_class_parts_json.get(key)
    if text is None:
        text = json.dumps([issuer_profile(issuer, links), achievement(badge_class, links)])
        if len(_badge_class_parts_json) > 256:
            _badge_class_parts_json.clear()
        _badge_class_parts_json[key] = text
    profile, achieved = json.loads(text)
    return profile, achieved


def credential_document(award, links) -> dict:
    """The unsigned OpenBadgeCredential for an award (needs award.status_list_index)."""
    badge_class = award.badge_class
    issuer = badge_class.issuer
    profile, achieved = _badge_class_parts(badge_class, links)
    list_number, position = status_position(award.status_list_index)
    status_list_url = links.status_list(issuer.public_id, list_number)
    doc = {
        "@context": list(CONTEXTS),
        "id": links.credential_json(award.public_id),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": badge_class.name,
        "description": badge_class.description,
        "image": {
            "id": links.assertion_ob3_image(award.public_id)
            if not is_svg(badge_class.image_content_type)
            else links.badge_class_image(badge_class.public_id),
            "type": "Image",
        },
        "issuer": profile,
        "validFrom": vc_datetime(award.issued_on),
        "credentialSubject": {
            "id": subject_id(award.public_id),
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "emailAddress",
                    "hashed": True,
                    "salt": award.salt,
                    "identityHash": award_identity(award),
                }
            ],
            "achievement": achieved,
        },
        "evidence": [
            {
                "id": links.assertion_evidence(award.public_id),
                "type": ["Evidence"],
                "narrative": award.evidence_narrative or badge_class.criteria_narrative,
            }
        ],
        "credentialStatus": {
            "id": f"{status_list_url}#{position}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(position),
            "statusListCredential": status_list_url,
        },
    }
    if award.expires:
        doc["validUntil"] = vc_datetime(award.expires)
    return doc


# --- Data Integrity: eddsa-rdfc-2022 --------------------------------------------------------------


@lru_cache(maxsize=1024)
def _proof_config_hash(verification_method: str, created: str, context_json: str) -> bytes:
    # The proof configuration is identical for every credential signed with one key in one second:
    # caching its canonicalisation halves the signing cost of a batch.
    config = {
        "@context": json.loads(context_json),
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
    }
    return hashlib.sha256(jsonld.canonize(config).encode("utf-8")).digest()


def data_integrity_sign(document: dict, *, private_key, verification_method: str, created: datetime) -> dict:
    """A copy of document with a DataIntegrityProof (eddsa-rdfc-2022, EdDSA Cryptosuites §3.2.1-3.2.6).

    hashData = SHA-256(canonical proof config) || SHA-256(canonical document); the proofValue is
    the base58-btc multibase of the Ed25519 signature over hashData.
    """
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    created_text = vc_datetime(created)
    config_hash = _proof_config_hash(verification_method, created_text, json.dumps(unsigned["@context"]))
    document_hash = hashlib.sha256(jsonld.canonize(unsigned).encode("utf-8")).digest()
    signature = private_key.sign(config_hash + document_hash)
    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": created_text,
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
        "proofValue": multibase_encode(signature),
    }
    return {**unsigned, "proof": [proof]}


# --- VC-JWT ------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _timestamp(text: str) -> int:
    # vc_datetime's format ("...Z", UTC); fromisoformat reads it several times faster than strptime.
    return int(datetime.fromisoformat(text).timestamp())


_CLAIMS = ("iss", "jti", "nbf", "exp", "sub")


def credential_jwt(document: dict, *, private_key, kid: str, document_json: str | None = None) -> str:
    """§8.2 VC-JWT: compact JWS (RS256, header kid + typ only) whose payload is the credential as
    issued, embedded proof included (§8: the proof is added before the JWT is made), plus the
    registered claims iss = issuer.id, jti = id, sub = credentialSubject.id, nbf = validFrom,
    exp = validUntil. kid is the URL of the RSA public key as a JWK. document_json: the document as
    json.dumps(document, separators=(",", ":"), ensure_ascii=False) gives it, when the caller has it."""
    claims = {
        "iss": document["issuer"]["id"],
        "jti": document["id"],
        "nbf": _timestamp(document["validFrom"]),
    }
    if "validUntil" in document:
        claims["exp"] = _timestamp(document["validUntil"])
    claims["sub"] = document["credentialSubject"]["id"]
    if document_json is not None and document and not any(claim in document for claim in _CLAIMS):
        # The payload's JSON is the document's with the claims appended: encoded once, not twice.
        payload_json = document_json[:-1] + "," + json.dumps(claims, separators=(",", ":"), ensure_ascii=False)[1:]
    else:
        payload_json = json.dumps({**document, **claims}, separators=(",", ":"), ensure_ascii=False)
    header = {"alg": "RS256", "kid": kid, "typ": "JWT"}
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + _b64url(payload_json.encode("utf-8"))
    )
    signature = private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64url(signature)


# --- Bitstring Status List --------------------------------------------------------------------


def encoded_list(revoked_positions) -> str:
    """Bitstring Status List §3.2: GZIP-compressed bitstring (bit 0 = the leftmost bit of the
    first byte), base64url without padding, multibase prefix "u"."""
    bits = bytearray(STATUS_LIST_SIZE // 8)
    for position in revoked_positions:
        bits[position // 8] |= 0x80 >> (position % 8)
    return "u" + _b64url(gzip.compress(bytes(bits), mtime=0))


def status_list_credential(*, issuer, list_url: str, revoked_positions, valid_from: datetime, links) -> dict:
    """Bitstring Status List §2.2 BitstringStatusListCredential (unsigned)."""
    return {
        "@context": [CONTEXTS[0]],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": links.issuer_did(issuer.public_id),
        "validFrom": vc_datetime(valid_from),
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded_list(revoked_positions),
        },
    }
