"""Rendering an award's signed documents: the OB 3.0 credential (Data Integrity proof + VC-JWT),
the baked OB 2.0 and OB 3.0 images, its random revocation status slot, the issuer's signed status
lists, and a credential re-issued to a wallet's DID. No decision about who gets an award."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from badging.models import (
    Assignment,
    Award,
    AwardImage,
    Issuer,
)
from badging.openbadges import baking, keys, ob2, ob3
from badging.openbadges.links import PublicLinks
from badging.rules import evidence_names
from badging.services.issuance.issuer_keys import SigningKeys, issuer_keys_current
from badging.services.issuance.policy import IssueFailure

OB3_PNG = "image/png; profile=ob3"


OB3_SVG = "image/svg+xml; profile=ob3"


def _evidence_narrative(course_badge) -> str:
    assignments = Assignment.objects.filter(course=course_badge.course).order_by("position", "name", "id")
    names = evidence_names(course_badge=course_badge, assignments=assignments)
    course_name = str(course_badge.course)
    if not names:
        return f"Mastered every credentialing assessment in {course_name} and received a final grade."
    listed = "\n".join(f"- {name}" for name in names)
    return f"Mastered every credentialing assessment in {course_name}:\n\n{listed}\n\nand received a final grade."


@dataclass
class _IndexSpace:
    """The status lists' index space as this process last sized it: when, and how many slots it
    has drawn since."""

    size: int = ob3.STATUS_LIST_SIZE
    checked: float = float("-inf")
    drawn: int = 0


_index_space = _IndexSpace()


def status_slots_free(count: int, *, recount: bool = False) -> list[int]:
    """`count` distinct random slots of the revocation status lists that no award holds now.

    Random positions give herd privacy (Bitstring Status List §6.1); sequential ones would leak
    issue order. Slots in use are drawn again before anything is signed with them, so the unique
    constraint is left only a race with another worker drawing the same slot meanwhile (the caller
    signs again with a new slot, asking with `recount`). Before, a slot was checked only by the
    insert: a space filling faster than it was resized failed learners after a few tries.

    The space doubles as awards grow so that it stays at most 1/16 full, which keeps a list
    sparse (it compresses to a few hundred bytes)."""
    space = _index_space_sized(count, recount=recount)
    slots: dict[int, None] = {}  # in the order drawn: no order of the batch's learners shows through
    for _round in range(8):
        drawn = [secrets.randbelow(space) for _ in range(count - len(slots))]
        drawn = [slot for slot in dict.fromkeys(drawn) if slot not in slots]
        taken = set(Award.objects.filter(status_list_index__in=drawn).values_list("status_list_index", flat=True))
        slots.update((slot, None) for slot in drawn if slot not in taken)
        if len(slots) == count:
            break
    # Still short only when the draws keep hitting taken slots (a test's fixed draw): the unique
    # constraint refuses those, and the caller records the failure after its own rounds.
    return [*slots, *(secrets.randbelow(space) for _ in range(count - len(slots)))]


def _index_space_sized(drawing: int, *, recount: bool) -> int:
    """The index space's size for `drawing` more slots: recounted every minute, once this process
    has drawn a sixty-fourth of the space since, and on `recount`."""
    now, space = time.monotonic(), _index_space
    if recount or now - space.checked > 60 or space.drawn >= space.size // 64:
        awards = Award.objects.count() + drawing
        size = ob3.STATUS_LIST_SIZE
        while awards * 16 > size:
            size *= 2
        space.size, space.checked, space.drawn = size, now, 0
    space.drawn += drawing
    return space.size


def _documents_build(award: Award, links: PublicLinks, signing: SigningKeys) -> tuple[dict, str, dict[str, bytes]]:
    """(signed OB 3.0 credential, VC-JWT, baked images) for an award; no database access.

    Raises baking.BakingError for a badge class image that cannot carry a badge."""
    credential, _credential_json, jwt, images = _documents_build_json(award, links, signing)
    return credential, jwt, images


def _documents_build_json(
    award: Award, links: PublicLinks, signing: SigningKeys
) -> tuple[dict, str, str, dict[str, bytes]]:
    """_documents_build, with the credential's JSON as the VC-JWT and the baked image carry it
    (the issuing batch stores that text rather than encoding the credential again)."""
    badge_class = award.badge_class
    issuer_id = badge_class.issuer.public_id
    unsigned = ob3.credential_document(award, links)
    credential = ob3.data_integrity_sign(
        unsigned,
        private_key=keys.private_key_load(signing.ed25519.pk, signing.ed25519.private_key_pem),
        verification_method=links.issuer_verification_method(issuer_id, signing.ed25519.public_id),
        created=award.issued_on,
    )
    credential_json = _json(credential)
    jwt = ob3.credential_jwt(
        credential,
        private_key=keys.private_key_load(signing.rsa.pk, signing.rsa.private_key_pem),
        kid=links.issuer_key(issuer_id, signing.rsa.public_id),
        document_json=credential_json,
    )
    assertion_json = _json(ob2.assertion_document(award, links))
    image = bytes(badge_class.image)
    if ob2.is_svg(badge_class.image_content_type):
        images = {
            "image/svg+xml": baking.bake_svg(image, assertion_json, verify_url=links.assertion(award.public_id)),
            OB3_SVG: baking.bake_svg(image, credential_json, verify_url=credential["id"], ob3=True),
        }
    else:
        images = {
            "image/png": baking.bake_png(image, assertion_json),
            OB3_PNG: baking.bake_png(image, credential_json, keyword=baking.OB3_KEYWORD),
        }
    return credential, credential_json, jwt, images


def award_documents_render(*, award: Award, links: PublicLinks) -> None:
    """Sign the OB 3.0 credential (Data Integrity + VC-JWT) and bake the images of a saved award,
    storing ob3_credential, ob3_jwt, status_list_index and the AwardImage rows."""
    signing = issuer_keys_current(issuer=award.badge_class.issuer)
    for _attempt in range(5):
        if award.status_list_index is None or _attempt:
            award.status_list_index = status_slots_free(1, recount=bool(_attempt))[0]
        credential, jwt, images = _documents_build(award, links, signing)
        award.ob3_credential, award.ob3_jwt = credential, jwt
        try:
            with transaction.atomic():
                award.save(update_fields=["status_list_index", "ob3_credential", "ob3_jwt"])
        except IntegrityError:
            continue  # the random status slot was taken: pick another and sign again
        break
    else:
        raise IssueFailure("Could not find a free revocation status slot.")
    AwardImage.objects.filter(award=award).delete()
    AwardImage.objects.bulk_create([AwardImage(award=award, content_type=ct, data=d) for ct, d in images.items()])


def _json(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def award_documents_ensure(*, award_id: int, base_url: str) -> Award:
    """Render the signed documents of an award issued while no PUBLIC_BASE_URL was configured
    (the first request supplies the host). Idempotent: a second call changes nothing."""
    with transaction.atomic():
        award = Award.objects.select_for_update(of=("self",)).select_related("badge_class__issuer").get(pk=award_id)
        if award.ob3_credential is None:
            award_documents_render(award=award, links=PublicLinks(base_url))
    return award


STATUS_LIST_CACHE_SECONDS = 3600


def status_list_render(*, issuer: Issuer, list_number: int, links: PublicLinks) -> dict | None:
    """The issuer's signed BitstringStatusListCredential for one list (revocation bits set), or None
    when no award of the issuer is on that list.

    Always current: a revocation changes the cache key, so a cached list is never served after a
    badge on it was revoked. Signing costs milliseconds and verifiers ask often, hence the cache.
    Only lists that carry awards are signed and cached: the URL is public, and any other number
    would let an anonymous visitor make the server sign and store without bound.
    """
    from badging.selectors.awards import status_list_in_use, status_list_revoked_positions

    if not status_list_in_use(issuer=issuer, list_number=list_number):
        return None
    positions, newest = status_list_revoked_positions(issuer=issuer, list_number=list_number)
    version = f"{len(positions)}:{newest.timestamp() if newest else 0}"
    cache_key = f"badging:status-list:did:{links.base}:{issuer.public_id}:{list_number}:{version}"
    document = cache.get(cache_key)
    if document is None:
        signing = issuer_keys_current(issuer=issuer)
        list_url = links.status_list(issuer.public_id, list_number)
        valid_from = newest or issuer.created_at
        unsigned = ob3.status_list_credential(
            issuer=issuer, list_url=list_url, revoked_positions=positions, valid_from=valid_from, links=links
        )
        document = ob3.data_integrity_sign(
            unsigned,
            private_key=keys.private_key_load(signing.ed25519.pk, signing.ed25519.private_key_pem),
            verification_method=links.issuer_verification_method(issuer.public_id, signing.ed25519.public_id),
            created=valid_from,
        )
        cache.set(cache_key, document, STATUS_LIST_CACHE_SECONDS)
    return document


def award_credential_for_holder(*, award: Award, holder_id: str, links: PublicLinks) -> dict:
    """The award's OB 3.0 credential bound to a wallet: credentialSubject.id is the holder's DID
    (the wallet proved it controls it), a credential id of its own, the award's status list entry
    (a revocation shows in the wallet too), signed with the issuer's current key."""
    signing = issuer_keys_current(issuer=award.badge_class.issuer)
    unsigned = ob3.credential_document(award, links)
    unsigned["id"] = f"urn:uuid:{uuid.uuid4()}"
    unsigned["credentialSubject"] = {
        "id": holder_id,
        **{k: v for k, v in unsigned["credentialSubject"].items() if k != "id"},
    }
    return ob3.data_integrity_sign(
        unsigned,
        private_key=keys.private_key_load(signing.ed25519.pk, signing.ed25519.private_key_pem),
        verification_method=links.issuer_verification_method(
            award.badge_class.issuer.public_id, signing.ed25519.public_id
        ),
        created=timezone.now(),
    )
