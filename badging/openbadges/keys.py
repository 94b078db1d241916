"""Issuer signing keys: Ed25519 for Data Integrity (eddsa-rdfc-2022) and RSA for VC-JWT (RS256).

Private keys are stored encrypted (IssuerKey.private_key_pem is an EncryptedTextField); the
decrypted key objects are cached per process because decryption and PEM parsing cost more than
signing itself.
"""

import base64
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from badging.openbadges.multibase import ed25519_multikey

ED25519 = "Ed25519"
RS256 = "RS256"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_generate(algorithm: str) -> tuple[str, dict]:
    """A new private key as PKCS#8 PEM and its public JWK (RFC 7517 / RFC 8037 for OKP)."""
    private: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    if algorithm == ED25519:
        private = ed25519.Ed25519PrivateKey.generate()
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}
    elif algorithm == RS256:
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = rsa_key
        numbers = rsa_key.public_key().public_numbers()
        jwk = {
            "kty": "RSA",
            "alg": "RS256",
            "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        }
    else:
        raise ValueError(f"unsupported key algorithm {algorithm!r}")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return pem, jwk


@lru_cache(maxsize=256)
def private_key_load(key_id: int, pem: str):
    """The key object for an IssuerKey (cached by row id and PEM so a rotated key is never stale)."""
    return serialization.load_pem_private_key(pem.encode("ascii"), password=None)


def public_multikey(public_jwk: dict) -> str:
    """Multikey (publicKeyMultibase) of an Ed25519 public JWK."""
    x = public_jwk["x"]
    return ed25519_multikey(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))


DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"


def key_document(*, key_url: str, controller: str, algorithm: str, public_jwk: dict) -> dict:
    """The public key as served at its URL. Ed25519: a Multikey (Controlled Identifiers §2.2.2)
    giving the key once, as publicKeyMultibase (the Multikey context defines no publicKeyJwk).
    RSA: the bare JWK with kid (RFC 7517), what a VC-JWT header's kid dereferences to (OB 3.0 §8.2)."""
    if algorithm == ED25519:
        return {
            "@context": MULTIKEY_CONTEXT,
            "id": key_url,
            "type": "Multikey",
            "controller": controller,
            "publicKeyMultibase": public_multikey(public_jwk),
        }
    return {**public_jwk, "kid": key_url, "use": "sig"}


def did_document(*, did: str, also_known_as: str, ed25519_keys: list[tuple[str, dict]]) -> dict:
    """The issuer's did:web DID document (DID Core §5): every Ed25519 signing key it ever had,
    current and superseded, as a Multikey verification method listed under assertionMethod, which
    is what Data Integrity verifiers check a proof's verificationMethod against (proof purpose
    "assertionMethod"). ed25519_keys: (verification method id, public JWK) pairs."""
    methods = [
        {"id": method_id, "type": "Multikey", "controller": did, "publicKeyMultibase": public_multikey(jwk)}
        for method_id, jwk in ed25519_keys
    ]
    return {
        # DID v1 first: verifiers use a DID document as it is (no JSON-LD framing); it defines
        # assertionMethod/verificationMethod/controller/alsoKnownAs, Multikey v1 the key terms.
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "alsoKnownAs": [also_known_as],
        "verificationMethod": methods,
        "assertionMethod": [method["id"] for method in methods],
    }
