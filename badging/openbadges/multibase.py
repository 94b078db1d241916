"""Multibase base58-btc ('z…') and Multikey encodings for Ed25519 keys and proof values.

VC Data Integrity EdDSA Cryptosuites v1.0 §2.1 (Multikey: 0xed01 prefix + 32-byte key) and
§3.2.5 (proofValue = base58-btc multibase of the 64-byte signature).
"""

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
ED25519_PUB_PREFIX = b"\xed\x01"


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(ALPHABET[r])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    n = 0
    for c in text:
        if c not in _INDEX:
            raise ValueError(f"invalid base58 character {c!r}")
        n = n * 58 + _INDEX[c]
    pad = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * pad + body


def multibase_encode(data: bytes) -> str:
    return "z" + b58encode(data)


def multibase_decode(text: str) -> bytes:
    if not text.startswith("z"):
        raise ValueError("only base58-btc multibase ('z' prefix) is supported")
    return b58decode(text[1:])


def ed25519_multikey(public_key_raw: bytes) -> str:
    return multibase_encode(ED25519_PUB_PREFIX + public_key_raw)


def ed25519_from_multikey(multikey: str) -> bytes:
    raw = multibase_decode(multikey)
    if not raw.startswith(ED25519_PUB_PREFIX) or len(raw) != 34:
        raise ValueError("not an Ed25519 Multikey")
    return raw[2:]
