"""Open Badges 2.0 hosted documents (IMS OB 2.0 Final, https://www.imsglobal.org/sites/default/files/Badges/OBv2p0Final/index.html).

Documents are rendered on demand from the database rows, so the hosted copy is always the
source of truth (§Verification, HostedBadge). The plaintext email never appears in them.
"""

import hashlib
from datetime import UTC, datetime

from badging.openbadges.links import PublicLinks

CONTEXT = "https://w3id.org/openbadges/v2"


def ob_datetime(value: datetime) -> str:
    """ISO 8601 with an explicit offset (§DateTime: a time zone is required), seconds precision."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def normalise_email(email: str) -> str:
    """Trim and lowercase: the validator and backpacks hash the address as the learner types it."""
    return (email or "").strip().lower()


def identity_hash(identity: str, salt: str) -> str:
    """§IdentityHash: "sha256$" + hex digest of identity + salt (UTF-8, as OB 3.0 makes explicit)."""
    return "sha256$" + hashlib.sha256((identity + salt).encode("utf-8")).hexdigest()


def award_identity(award) -> str:
    """The award's hashed recipient: the stored hash once the email itself was removed (the
    learner asked to be forgotten), else computed from the email. Both give the same value."""
    return award.recipient_identity or identity_hash(normalise_email(award.recipient_email), award.salt)


def recipient(award) -> dict:
    """§IdentityObject for the award's email recipient, hashed and salted."""
    return {"type": "email", "hashed": True, "salt": award.salt, "identity": award_identity(award)}


def issuer_document(issuer, links: PublicLinks) -> dict:
    """§Profile acting as issuer: id, type, name, url and email are required."""
    doc = {
        "@context": CONTEXT,
        "type": "Issuer",
        "id": links.issuer(issuer.public_id),
        "name": issuer.name,
        "url": issuer.url,
        "email": issuer.email,
    }
    if issuer.description:
        doc["description"] = issuer.description
    if issuer.image:
        doc["image"] = links.issuer_image(issuer.public_id)
    return doc


def alignments(badge_class) -> list[dict]:
    """§AlignmentObject: targetName and targetUrl are required; entries lacking them are dropped."""
    keep = ("targetName", "targetUrl", "targetDescription", "targetFramework", "targetCode")
    return [
        {k: a[k] for k in keep if a.get(k)}
        for a in (badge_class.alignments or [])
        if a.get("targetName") and a.get("targetUrl")
    ]


def badge_class_document(badge_class, links: PublicLinks) -> dict:
    """§BadgeClass: id, type, name, description, image, criteria, issuer (+ alignment, tags)."""
    criteria = {"narrative": badge_class.criteria_narrative}
    if badge_class.criteria_url:
        criteria["id"] = badge_class.criteria_url
    doc = {
        "@context": CONTEXT,
        "type": "BadgeClass",
        "id": links.badge_class(badge_class.public_id),
        "name": badge_class.name,
        "description": badge_class.description,
        "image": links.badge_class_image(badge_class.public_id),
        "criteria": criteria,
        "issuer": links.issuer(badge_class.issuer.public_id),
    }
    if aligned := alignments(badge_class):
        doc["alignment"] = aligned
    if badge_class.tags:
        doc["tags"] = list(badge_class.tags)
    return doc


def is_svg(content_type: str) -> bool:
    return content_type.split(";")[0].strip() == "image/svg+xml"


def assertion_document(award, links: PublicLinks) -> dict:
    """§Assertion, hosted: id, type, recipient, badge, verification, issuedOn (+ image, evidence, expires)."""
    badge_class = award.badge_class
    evidence: dict[str, str] = {"id": links.assertion_evidence(award.public_id)}
    if award.evidence_narrative:
        evidence["narrative"] = award.evidence_narrative
    doc: dict[str, object] = {
        "@context": CONTEXT,
        "type": "Assertion",
        "id": links.assertion(award.public_id),
        "recipient": recipient(award),
        "badge": links.badge_class(badge_class.public_id),
        "verification": {"type": "HostedBadge"},
        "issuedOn": ob_datetime(award.issued_on),
        "image": links.assertion_image(award.public_id, svg=is_svg(badge_class.image_content_type)),
        "evidence": [evidence],
    }
    if award.evidence_narrative:
        doc["narrative"] = award.evidence_narrative
    if award.expires:
        doc["expires"] = ob_datetime(award.expires)
    return doc


def revoked_assertion_document(award, links: PublicLinks) -> dict:
    """§Revocation, hosted: served with HTTP 410; either signal (status or body) means revoked."""
    return {
        "@context": CONTEXT,
        "type": "Assertion",
        "id": links.assertion(award.public_id),
        "revoked": True,
        "revocationReason": award.revocation_reason,
    }
