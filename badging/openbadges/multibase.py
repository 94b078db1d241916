"""Multibase base58-btc ('z…') and Multikey encodings for Ed25519 keys and proof values.

VC Data Integrity EdDSA Cryptosuites v1.0 §2.1 (Multikey: 0xed01 prefix + 32-byte key) and
§3.2.5 (proofValue = base58-btc multibase of the 64-byte signature).
"""

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ED25519_PUB_PREFIX = b"\xed\x01"


_CHUNK = 58**10


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = []
    # Ten digits per division of the big number (the rest on small ints): a signature takes 9 big
    # divisions instead of 88.
    while n:
        n, chunk = divmod(n, _CHUNK)
        for _ in range(10):
            chunk, r = divmod(chunk, 58)
            out.append(ALPHABET[r])
    while out and out[-1] == "1":  # the last chunk's leading zero digits
        out.pop()
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def multibase_encode(data: bytes) -> str:
    return "z" + b58encode(data)


def ed25519_multikey(public_key_raw: bytes) -> str:
    return multibase_encode(ED25519_PUB_PREFIX + public_key_raw)


def b58decode(text: str) -> bytes:
    n = 0
    for char in text:
        index = ALPHABET.find(char)
        if index < 0:
            raise ValueError(f"not base58-btc: {char!r}")
        n = n * 58 + index
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + (n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"")
