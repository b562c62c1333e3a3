"""Encrypted PKCS#8 private keys at a current work factor.

`cryptography`'s `BestAvailableEncryption` writes PKCS#8 as PBES2 with PBKDF2-HMAC-SHA256
at 2,048 iterations, far below today's guidance. This module writes the same standard
structure (RFC 8018 PBES2, an `EncryptedPrivateKeyInfo` of RFC 5958) with PBKDF2-HMAC-SHA256
at `PBKDF2_ITERATIONS` (600,000: OWASP's figure for PBKDF2-HMAC-SHA256) and AES-256-CBC,
which `cryptography`, OpenSSL (`openssl pkcs8`) and every PKCS#8 reader can decrypt. Keys
written before (2,048 iterations) are still read: reading is `cryptography`'s, unchanged.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

PBKDF2_ITERATIONS = 600_000
SALT_BYTES = 16

_PBES2 = "1.2.840.113549.1.5.13"
_PBKDF2 = "1.2.840.113549.1.5.12"
_HMAC_SHA256 = "1.2.840.113549.2.9"
_AES256_CBC = "2.16.840.1.101.3.4.1.42"


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def _sequence(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _octets(data: bytes) -> bytes:
    return _tlv(0x04, data)


def _integer(n: int) -> bytes:
    raw = n.to_bytes(n.bit_length() // 8 + 1, "big")  # a leading 0 keeps it positive
    return _tlv(0x02, raw)


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(p) for p in dotted.split("."))
    out = bytearray([first * 40 + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return _tlv(0x06, bytes(out))


_NULL = b"\x05\x00"


def encrypt(plain_der: bytes, passphrase: bytes, iterations: int = PBKDF2_ITERATIONS) -> bytes:
    """An unencrypted PKCS#8 `PrivateKeyInfo` (DER) -> an encrypted one, as PEM."""
    salt, iv = os.urandom(SALT_BYTES), os.urandom(16)
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain_der) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    kdf = _sequence(
        _oid(_PBKDF2),
        _sequence(
            _octets(salt), _integer(iterations), _integer(32), _sequence(_oid(_HMAC_SHA256), _NULL)
        ),
    )
    scheme = _sequence(_oid(_AES256_CBC), _octets(iv))
    info = _sequence(_sequence(_oid(_PBES2), _sequence(kdf, scheme)), _octets(encrypted))
    body = base64.encodebytes(info).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        + "\n".join(lines)
        + "\n-----END ENCRYPTED PRIVATE KEY-----\n"
    ).encode()
