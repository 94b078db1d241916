"""Open Badges documents: golden files, OB 3.0 proofs verified independently of the signing code,
1EdTech test vectors, JSON Schema, the revocation status list, and baking."""

import base64
import copy
import gzip
import hashlib
import io
import json
import os
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time
from openbadges_bakery import unbake
from pyld import jsonld as pyld

from badging.models import AwardImage
from badging.openbadges import baking, jsonld, ob2, ob3
from badging.openbadges.links import PublicLinks
from badging.services.issuance import documents, issuer_keys, review
from tests import factories as f
from tests.badging.test_issuance_support import SVG, make_png

GOLDEN = Path(__file__).parent / "golden"
REFERENCE = Path("/work/shared/reference/data")
CONTEXTS = Path(os.environ.get("SFB_REFERENCE_CONTEXTS", REFERENCE / "jsonld-contexts"))
VECTORS = REFERENCE / "ob30-testvectors"
BASE = "https://badges.example.edu"

# --- An independent verifier: pyld + the reference copies of the contexts + cryptography -------

CONTEXT_FILES = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-3.0.3.json",
}


def _loader(url, options=None):
    path = CONTEXTS / CONTEXT_FILES[url]
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": json.loads(path.read_text()),
    }


def _b58decode(text: str) -> bytes:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n = 0
    for c in text:
        n = n * 58 + alphabet.index(c)
    return b"\0" * (len(text) - len(text.lstrip("1"))) + n.to_bytes((n.bit_length() + 7) // 8, "big")


def _nquads(document) -> bytes:
    return pyld.normalize(
        document, {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": _loader}
    ).encode()


def verify_eddsa_rdfc_2022(credential: dict, public_key: bytes) -> bool:
    """VC Data Integrity EdDSA Cryptosuites v1.0 §3.2.2 (verify proof), written from the spec."""
    document = copy.deepcopy(credential)
    proofs = document.pop("proof")
    proof = proofs[0] if isinstance(proofs, list) else proofs
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != "eddsa-rdfc-2022":
        return False
    signature = _b58decode(proof.pop("proofValue")[1:])
    proof["@context"] = document["@context"]
    hash_data = hashlib.sha256(_nquads(proof)).digest() + hashlib.sha256(_nquads(document)).digest()
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, hash_data)
    except InvalidSignature:
        return False
    return True


def multikey_to_raw(multikey: str) -> bytes:
    raw = _b58decode(multikey[1:])
    assert raw[:2] == b"\xed\x01"
    return raw[2:]


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_rs256_jwt(token: str, jwk: dict) -> dict:
    header, payload, signature = token.split(".")
    public = rsa.RSAPublicNumbers(
        int.from_bytes(_b64d(jwk["e"]), "big"), int.from_bytes(_b64d(jwk["n"]), "big")
    ).public_key()
    public.verify(_b64d(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return {"header": json.loads(_b64d(header)), "payload": json.loads(_b64d(payload))}


# --- Fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def award(db, settings):
    """An award with fixed public ids, salt and times, its documents rendered."""
    settings.PUBLIC_BASE_URL = BASE
    issuer = f.IssuerFactory(public_id="ISSUER1", name="Skills Forward University", email="badges@uni.example.edu")
    badge_class = f.BadgeClassFactory(
        public_id="BADGE1",
        issuer=issuer,
        image=make_png(),
        valid_for_days=730,
        alignments=[
            {"targetName": "Data analysis", "targetUrl": "https://skills.example.org/data-analysis"},
            {"targetName": "No url: dropped"},
        ],
    )
    course_badge = f.CourseBadgeFactory(badge_class=badge_class)
    with freeze_time("2026-05-04T10:00:00Z"):
        now = timezone.now()
        award = f.AwardFactory(
            public_id="AWARD1",
            course_badge=course_badge,
            recipient_email="ada@uni.example.edu",
            salt="s4lt",
            issued_on=now,
            expires=now + timedelta(days=730),
            evidence_narrative="Mastered every credentialing assessment in Data Skills:\n\n- Cleaning a data set",
        )
        award.status_list_index = 23
        documents.award_documents_render(award=award, links=PublicLinks(BASE))
    return award


def resolve_did_url(did_url: str) -> dict:
    """A did:web DID URL resolved as a wallet does (did:web §3.2: host, then ':'-separated path
    segments, then /did.json), the verification method picked out of the DID document."""
    did, _, fragment = did_url.partition("#")
    host, *segments = did.removeprefix("did:web:").split(":")
    assert host == BASE.removeprefix("https://")
    response = Client().get("/" + "/".join(segments) + "/did.json", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    document = response.json()
    assert document["id"] == did
    if not fragment:
        return document
    assert did_url in document["assertionMethod"]
    return next(method for method in document["verificationMethod"] if method["id"] == did_url)


def _public_key(award, kind: str) -> dict:
    """Fetch the key the document points to, from the public URL, like a verifier would."""
    if kind == "ed":
        return resolve_did_url(award.ob3_credential["proof"][0]["verificationMethod"])
    url = json.loads(_b64d(award.ob3_jwt.split(".")[0]))["kid"]
    response = Client().get(url.removeprefix(BASE), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def _normalise(text: str, award) -> str:
    for key in award.badge_class.issuer.keys.all():
        text = text.replace(key.public_id, f"KEY-{key.algorithm}")
    return text


def _check_golden(name: str, document) -> None:
    path = GOLDEN / name
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"missing golden file {path} (run with UPDATE_GOLDEN=1 to create it)"
    assert text == path.read_text(), f"{name} differs from the golden file (UPDATE_GOLDEN=1 to accept)"


# --- Golden files --------------------------------------------------------------------------------


def test_ob2_documents_match_golden_files(award):
    links = PublicLinks(BASE)
    _check_golden("ob2_assertion.json", ob2.assertion_document(award, links))
    _check_golden("ob2_badge_class.json", ob2.badge_class_document(award.badge_class, links))
    _check_golden("ob2_issuer.json", ob2.issuer_document(award.badge_class.issuer, links))
    award.revoked, award.revocation_reason = True, "Issued in error"
    _check_golden("ob2_assertion_revoked.json", ob2.revoked_assertion_document(award, links))


def test_ob3_credential_matches_golden_file(award):
    credential = copy.deepcopy(award.ob3_credential)
    credential["proof"][0]["proofValue"] = "z<signature>"
    _check_golden("ob3_credential.json", json.loads(_normalise(json.dumps(credential), award)))
    payload = json.loads(_b64d(award.ob3_jwt.split(".")[1]))
    payload["proof"][0]["proofValue"] = "z<signature>"
    _check_golden("ob3_jwt_payload.json", json.loads(_normalise(json.dumps(payload), award)))


def test_ob2_spec_requirements(award):
    links = PublicLinks(BASE)
    assertion = ob2.assertion_document(award, links)
    assert assertion["issuedOn"].endswith("+00:00") and assertion["expires"].endswith("+00:00")
    assert "ada@uni.example.edu" not in json.dumps(assertion)  # never the plaintext email
    expected = "sha256$" + hashlib.sha256(b"ada@uni.example.edus4lt").hexdigest()
    assert assertion["recipient"] == {"type": "email", "hashed": True, "salt": "s4lt", "identity": expected}
    assert ob2.issuer_document(award.badge_class.issuer, links)["email"] == "badges@uni.example.edu"
    assert ob2.badge_class_document(award.badge_class, links)["alignment"] == [
        {"targetName": "Data analysis", "targetUrl": "https://skills.example.org/data-analysis"}
    ]


# --- OB 3.0 proofs -------------------------------------------------------------------------------


def test_data_integrity_proof_verifies_independently(award):
    key = _public_key(award, "ed")
    assert key["type"] == "Multikey" and key["controller"] == "did:web:badges.example.edu:public:issuers:ISSUER1"
    assert award.ob3_credential["issuer"]["id"] == key["controller"]
    raw = multikey_to_raw(key["publicKeyMultibase"])
    assert verify_eddsa_rdfc_2022(award.ob3_credential, raw)

    tampered = copy.deepcopy(award.ob3_credential)
    tampered["credentialSubject"]["achievement"]["name"] = "Something else"
    assert not verify_eddsa_rdfc_2022(tampered, raw)
    other = copy.deepcopy(award.ob3_credential)
    other["credentialSubject"]["identifier"][0]["identityHash"] = ob2.identity_hash("eve@x.org", "s4lt")
    assert not verify_eddsa_rdfc_2022(other, raw)


def test_vc_jwt_verifies_with_the_published_rsa_key(award):
    jwk = _public_key(award, "rsa")
    decoded = verify_rs256_jwt(award.ob3_jwt, jwk)
    assert decoded["header"]["alg"] == "RS256" and decoded["header"]["typ"] == "JWT"
    assert set(decoded["header"]) == {"alg", "kid", "typ"}
    payload = decoded["payload"]
    assert payload["iss"] == award.ob3_credential["issuer"]["id"]
    assert payload["jti"] == award.ob3_credential["id"]
    assert payload["nbf"] == 1777888800 and payload["exp"] == 1777888800 + 730 * 86400
    assert payload["credentialSubject"] == award.ob3_credential["credentialSubject"]
    # OB 3.0 §8.2: sub is the subject's id (never the email); §8: the embedded proof is in the payload.
    assert payload["sub"] == award.ob3_credential["credentialSubject"]["id"]
    assert payload["sub"].startswith("urn:uuid:") and "ada" not in payload["sub"]
    assert payload["proof"] == award.ob3_credential["proof"]
    assert {k: v for k, v in payload.items() if k not in ("iss", "jti", "sub", "nbf", "exp")} == award.ob3_credential
    forged = award.ob3_jwt.rsplit(".", 1)[0] + "." + base64.urlsafe_b64encode(b"x" * 256).decode().rstrip("=")
    with pytest.raises(InvalidSignature):
        verify_rs256_jwt(forged, jwk)


def test_1edtech_test_vector_is_accepted_and_a_tampered_copy_refused():
    vector = json.loads((VECTORS / "ob30-simple-eddsa-rdfc-2022.json").read_text())
    key = multikey_to_raw(vector["proof"][0]["verificationMethod"].split("#")[1])
    assert verify_eddsa_rdfc_2022(vector, key)
    tampered = copy.deepcopy(vector)
    tampered["credentialSubject"]["achievement"]["name"] = "Leadership"
    assert not verify_eddsa_rdfc_2022(tampered, key)
    # The product's fast canonicalisation (pyoxigraph + bundled contexts) agrees with pyld.
    unsigned = {k: v for k, v in vector.items() if k != "proof"}
    assert jsonld.canonize(unsigned).encode() == _nquads(unsigned)


def test_1edtech_vc_jwt_vector_has_the_claims_the_spec_requires():
    """The public vector ships without its key: check its structure is what we produce too."""
    header, payload, _signature = (VECTORS / "ob30-simple.jwt").read_text().strip().split(".")
    assert json.loads(_b64d(header))["alg"] == "RS256"
    claims = json.loads(_b64d(payload))
    assert claims["iss"] == claims["vc"]["issuer"]["id"] and claims["jti"] == claims["vc"]["id"]


def test_credential_is_valid_against_the_ob3_schema(award):
    """The official 1EdTech schema (../shared/reference/data/ob30-schema), draft 2019-09."""
    from tests.badging.test_wallet_verifiers import SCHEMAS

    schema = json.loads((SCHEMAS / "ob_v3p0_achievementcredential_schema.json").read_text())
    validator = jsonschema.Draft201909Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.validate(award.ob3_credential)
    validator.validate(json.loads((VECTORS / "ob30-simple-eddsa-rdfc-2022.json").read_text()))
    broken = copy.deepcopy(award.ob3_credential)
    del broken["credentialSubject"]["achievement"]["criteria"]
    assert list(validator.iter_errors(broken))
    no_achievement = copy.deepcopy(award.ob3_credential)
    del no_achievement["credentialSubject"]["achievement"]
    assert list(validator.iter_errors(no_achievement))


def test_credential_status_points_to_a_signed_status_list_that_shows_revocation(award, settings):
    status = award.ob3_credential["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry" and status["statusPurpose"] == "revocation"
    assert status["statusListIndex"] == "23"
    client = Client()

    def bit() -> int:
        response = client.get(status["statusListCredential"].removeprefix(BASE))
        assert response.status_code == 200
        document = response.json()
        key = _public_key(award, "ed")
        assert verify_eddsa_rdfc_2022(document, multikey_to_raw(key["publicKeyMultibase"]))
        assert document["credentialSubject"]["statusPurpose"] == "revocation"
        encoded = document["credentialSubject"]["encodedList"]
        bits = gzip.decompress(_b64d(encoded[1:]))
        assert len(bits) * 8 == 131072
        return (bits[23 // 8] >> (7 - 23 % 8)) & 1

    assert bit() == 0
    review.award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    assert bit() == 1


# --- Baking --------------------------------------------------------------------------------------


def test_baked_png_carries_the_assertion_and_keeps_the_pixels(award):
    baked = bytes(AwardImage.objects.get(award=award, content_type="image/png").data)
    assert json.loads(unbake(io.BytesIO(baked))) == ob2.assertion_document(award, PublicLinks(BASE))
    from PIL import Image

    original = Image.open(io.BytesIO(bytes(award.badge_class.image)))
    assert Image.open(io.BytesIO(baked)).tobytes() == original.tobytes()
    ob3_png = bytes(AwardImage.objects.get(award=award, content_type=documents.OB3_PNG).data)
    assert json.loads(baking.unbake_png(ob3_png, keyword="openbadgecredential")) == award.ob3_credential
    # Re-baking replaces the chunk, never adds a second one.
    twice = baking.bake_png(baked, '{"a": 1}')
    assert twice.count(b"iTXtopenbadges\0") == 1 and json.loads(unbake(io.BytesIO(twice))) == {"a": 1}


def test_baking_an_svg_badge(db, settings):
    settings.PUBLIC_BASE_URL = BASE
    award = f.AwardFactory(
        course_badge=f.CourseBadgeFactory(
            badge_class=f.BadgeClassFactory(image=SVG, image_content_type="image/svg+xml")
        )
    )
    documents.award_documents_render(award=award, links=PublicLinks(BASE))
    baked = bytes(AwardImage.objects.get(award=award, content_type="image/svg+xml").data)
    assert b'xmlns:openbadges="http://openbadges.org"' in baked
    assert json.loads(baking.unbake_svg(baked))["id"] == f"{BASE}/public/assertions/{award.public_id}"
    assert f'verify="{BASE}/public/assertions/{award.public_id}"'.encode() in baked
    ob3_svg = bytes(AwardImage.objects.get(award=award, content_type=documents.OB3_SVG).data)
    assert b"<openbadges:credential" in ob3_svg and b"https://purl.imsglobal.org/ob/v3p0" in ob3_svg


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (b"GIF89a....", "not a PNG"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00", "truncated"),
        (make_png()[:-12], "no IEND"),
    ],
)
def test_malformed_png_raises_a_clear_error(image, message):
    with pytest.raises(baking.BakingError, match=message):
        baking.bake_png(image, "{}")


def test_malformed_svg_raises_a_clear_error():
    with pytest.raises(baking.BakingError, match="not well-formed SVG"):
        baking.bake_svg(b"<svg><g></svg>", "{}", verify_url="https://x")


def test_canonicalisation_never_fetches_unknown_contexts():
    with pytest.raises(jsonld.UnknownContextError):
        jsonld.canonize({"@context": "https://evil.example/context.json", "name": "x"})


def test_status_positions_split_into_lists():
    assert ob3.status_position(5) == (0, 5)
    assert ob3.status_position(131072 + 7) == (1, 7)


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"name": 'Unicode “quotes” \\ back\\slash and "escapes" – ünïcödé'},
        {"validUntil": None},
        {"narrative": "Line one\nLine two\t<b>tag</b> ]]> end"},
        {"id": "urn:uuid:5b6c1f0e-2f0b-4a43-9d4f-0f8a3c8f1a11"},
    ],
)
def test_fast_canonicalisation_matches_full_json_ld_processing(award, change):
    """The template fast path must give exactly what a full JSON-LD processor (pyld) gives."""
    document = copy.deepcopy({k: v for k, v in award.ob3_credential.items() if k != "proof"})
    for key, value in change.items():
        if key == "narrative":
            document["evidence"][0]["narrative"] = value
        elif value is None:
            document.pop(key)
        else:
            document[key] = value
    for _ in range(2):  # first use builds and checks the template, the second uses it
        assert jsonld.canonize(document).encode() == _nquads(document)
    document["credentialSubject"]["identifier"][0]["identityHash"] = "sha256$" + "0" * 64
    assert jsonld.canonize(document).encode() == _nquads(document)


def test_values_that_look_like_template_placeholders_are_signed_as_they_are(award):
    document = copy.deepcopy({k: v for k, v in award.ob3_credential.items() if k != "proof"})
    jsonld.canonize(document)  # the shape's template exists now
    document["name"] = "xslot0x"
    document["description"] = 'xslot1x "xslot2x"'
    assert jsonld.canonize(document).encode() == _nquads(document)


def test_issuer_private_keys_are_encrypted_at_rest(award):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT private_key_pem FROM badging_issuerkey")
        stored = [row[0] for row in cursor.fetchall()]
    assert len(stored) == 2
    plain = [key.private_key_pem for key in award.badge_class.issuer.keys.all()]
    assert all("PRIVATE KEY" in pem for pem in plain)
    # No armour, no bare DER ("MII…"), and no run of the keys' own base64 body anywhere in what is
    # stored. (Searching the ciphertext for "MII" anywhere failed now and then by chance.)
    bodies = ["".join(pem.strip().splitlines()[1:-1]) for pem in plain]
    runs = [body[i : i + 24] for body in bodies for i in range(0, len(body) - 24, 24)]
    for value in stored:
        assert "PRIVATE KEY" not in value and not value.lstrip().startswith("MII")
        assert not any(run in value for run in runs)


def test_credentials_signed_before_a_key_rotation_still_verify(award):
    issuer_keys.issuer_key_rotate(issuer_id=award.badge_class.issuer.pk)
    old_key = _public_key(award, "ed")  # resolved from the old credential's verificationMethod
    assert verify_eddsa_rdfc_2022(award.ob3_credential, multikey_to_raw(old_key["publicKeyMultibase"]))
    verify_rs256_jwt(award.ob3_jwt, _public_key(award, "rsa"))
    fresh = f.AwardFactory(course_badge=award.course_badge, recipient_email="grace@uni.example.edu")
    documents.award_documents_render(award=fresh, links=PublicLinks(BASE))
    new_method = fresh.ob3_credential["proof"][0]["verificationMethod"]
    assert new_method != award.ob3_credential["proof"][0]["verificationMethod"]
    new_key = _public_key(fresh, "ed")
    assert verify_eddsa_rdfc_2022(fresh.ob3_credential, multikey_to_raw(new_key["publicKeyMultibase"]))
    assert not verify_eddsa_rdfc_2022(award.ob3_credential, multikey_to_raw(new_key["publicKeyMultibase"]))


@pytest.mark.parametrize("size", [0, 1, 2, 9, 32, 34, 64, 65])
def test_base58_encoding_matches_the_one_digit_at_a_time_definition(size):
    """base58-btc (proofValue, Multikey): the number's digits, most significant first, and a "1"
    per leading zero byte; also round trips through b58decode."""
    from badging.openbadges.multibase import ALPHABET, b58decode, b58encode

    for data in (os.urandom(size), b"\0" * min(size, 3) + os.urandom(max(size - 3, 0)), b"\xff" * size):
        n, digits = int.from_bytes(data, "big"), ""
        while n:
            n, r = divmod(n, 58)
            digits = ALPHABET[r] + digits
        expected = "1" * (len(data) - len(data.lstrip(b"\0"))) + digits
        assert b58encode(data) == expected
        assert b58decode(expected) == data
