"""The wallet's proof of possession in OpenID for Verifiable Credential Issuance (OID4VCI 1.0 §8.2.1.1,
proof type "jwt"): which DID the credential is bound to.

The proof is a JWT with typ "openid4vci-proof+jwt", signed by the holder's key, naming the credential
issuer as aud and carrying the nonce the issuer handed out. The key is identified by a did:key DID URL
in kid (W3C did:key: Ed25519 0xed01, P-256 0x1200 compressed) or given as a jwk, which becomes a did:jwk.
"""

import base64
import json
from dataclasses import dataclass
from datetime import datetime

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from badging.openbadges.multibase import b58decode

PROOF_TYP = "openid4vci-proof+jwt"
ALGORITHMS = ("EdDSA", "ES256")
MAX_AGE_SECONDS = 300
CLOCK_SKEW_SECONDS = 60


class InvalidProof(ValueError):
    """The wallet's proof of possession does not hold (the OID4VCI error is invalid_proof)."""


@dataclass(frozen=True)
class HolderProof:
    holder_id: str  # the DID the credential's subject becomes
    nonce: str


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def did_key_public_key(did: str):
    """The public key a did:key names (Ed25519 or P-256)."""
    if not did.startswith("did:key:z"):
        raise InvalidProof("only did:key DIDs in base58-btc are accepted in kid")
    raw = b58decode(did.removeprefix("did:key:z").split("#")[0])
    if raw[:2] == b"\xed\x01" and len(raw) == 34:
        return ed25519.Ed25519PublicKey.from_public_bytes(raw[2:]), "EdDSA"
    if raw[:2] == b"\x80\x24" and len(raw) == 35:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw[2:]), "ES256"
    raise InvalidProof("the did:key is not an Ed25519 or P-256 key")


def did_jwk(public_jwk: dict) -> str:
    """did:jwk of a public JWK (only the public members, in a fixed order)."""
    members = {k: public_jwk[k] for k in ("crv", "kty", "x", "y") if k in public_jwk}
    return "did:jwk:" + _b64url(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())


def proof_verify(token: str, *, audience: str, now: datetime) -> HolderProof:
    """Verify the wallet's proof JWT; returns the holder's DID and the nonce it signed (the caller
    checks the nonce is the one it issued). Raises InvalidProof."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidProof(f"the proof is not a JWT: {exc}") from exc
    if header.get("typ") != PROOF_TYP:
        raise InvalidProof(f'the proof JWT must have typ "{PROOF_TYP}"')
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise InvalidProof(f"proof algorithm must be one of {', '.join(ALGORITHMS)}")
    kid, public_jwk = header.get("kid"), header.get("jwk")
    if bool(kid) == bool(public_jwk):
        raise InvalidProof("the proof must identify its key by kid (did:key) or jwk, exactly one")
    if kid:
        key, key_algorithm = did_key_public_key(kid)
        holder_id = kid.split("#")[0]
    else:
        if not isinstance(public_jwk, dict) or "d" in public_jwk:
            raise InvalidProof("the jwk must be a public key")
        try:
            parsed = jwt.PyJWK(public_jwk, algorithm=algorithm)
        except jwt.PyJWTError as exc:
            raise InvalidProof(f"unusable jwk: {exc}") from exc
        key, key_algorithm = parsed.key, algorithm
        holder_id = did_jwk(public_jwk)
    if key_algorithm != algorithm:
        raise InvalidProof("the proof's alg does not match its key")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            options={"require": ["aud", "iat", "nonce"]},
            leeway=CLOCK_SKEW_SECONDS,
        )
    except jwt.PyJWTError as exc:
        raise InvalidProof(f"the proof does not verify: {exc}") from exc
    age = now.timestamp() - float(claims["iat"])
    if age > MAX_AGE_SECONDS or age < -CLOCK_SKEW_SECONDS:
        raise InvalidProof("the proof was not made just now (iat)")
    return HolderProof(holder_id=holder_id, nonce=str(claims["nonce"]))
