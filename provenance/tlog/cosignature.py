"""C2SP tlog-cosignature v1, Ed25519 (https://c2sp.org/tlog-cosignature).

A cosignature is a signed-note signature line on a checkpoint,

    — <cosigner name> base64(key ID[4] || timestamp[8] || Ed25519 signature[64])

* key ID = SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]: the signature
  type byte is 0x04, not the 0x01 of a log's note key, so a cosignature can never be
  taken for a log signature made with the same key;
* timestamp: a u64, big-endian, POSIX seconds, at most 2^63 - 1, never 0 here;
* the signed message is

      cosignature/v1\\n
      time <timestamp, ASCII decimal, no leading zeroes>\\n
      <the whole checkpoint body, extension lines included, final newline included>

A cosigner's verifier key is a vkey `<name>+<8 hex key ID>+<base64(0x04 || public
key)>`. Its signer key is written as Go's note package writes an Ed25519 signer,
`PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`, the form
transparency-dev/formats' `NewSignerForCosignatureV1` takes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from provenance.errors import InputError, IntegrityError
from provenance.tlog import note

COSIGNATURE_V1_TYPE = 0x04
HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1
BLOB_SIZE = 4 + 8 + 64


def key_id(name: str, public_key: ed25519.Ed25519PublicKey) -> int:
    """The cosigner key ID: SHA-256(name || "\\n" || 0x04 || public key)[:4]."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([COSIGNATURE_V1_TYPE]) + raw).digest()
    value: int = struct.unpack(">I", digest[:4])[0]
    return value


def message(body: str, timestamp: int) -> bytes:
    """The signed message: the header line, the time line, the checkpoint body."""
    if not 0 < timestamp <= MAX_TIMESTAMP:
        raise InputError(f"cosignature timestamp {timestamp} out of range")
    if not body.endswith("\n"):
        raise InputError("a checkpoint body ends with a newline")
    return f"{HEADER}time {timestamp}\n{body}".encode()


@dataclass(frozen=True)
class CosignerKey:
    """A cosigner's verifier key (vkey with signature type 0x04)."""

    name: str
    key_id: int
    public_key: ed25519.Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> CosignerKey:
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise InputError(f"malformed cosigner key {text!r}: want name+id+key")
        name, id_hex, key_b64 = parts
        if not name or any(ch.isspace() for ch in name):
            raise InputError(f"malformed cosigner key {text!r}: bad name")
        try:
            ident = int(id_hex, 16)
            raw = base64.b64decode(key_b64, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise InputError(f"malformed cosigner key {text!r}") from exc
        if len(id_hex) != 8 or len(raw) != 33 or raw[0] != COSIGNATURE_V1_TYPE:
            raise InputError(f"{text!r} is not an Ed25519 cosignature/v1 key (signature type 0x04)")
        public_key = ed25519.Ed25519PublicKey.from_public_bytes(raw[1:])
        if key_id(name, public_key) != ident:
            raise InputError(f"cosigner key {text!r}: key ID does not match the key")
        return cls(name, ident, public_key)

    @classmethod
    def from_public_key(cls, name: str, public_key: ed25519.Ed25519PublicKey) -> CosignerKey:
        return cls(name, key_id(name, public_key), public_key)

    def raw(self) -> bytes:
        return self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    def __str__(self) -> str:
        blob = bytes([COSIGNATURE_V1_TYPE]) + self.raw()
        return f"{self.name}+{self.key_id:08x}+{base64.b64encode(blob).decode()}"

    def verify_blob(self, body: str, blob: bytes) -> int:
        """Check one signature blob (key ID, timestamp, signature) on a checkpoint body;
        return its timestamp or raise `IntegrityError`."""
        if len(blob) != BLOB_SIZE or struct.unpack(">I", blob[:4])[0] != self.key_id:
            raise IntegrityError(f"malformed cosignature by {self.name}")
        (timestamp,) = struct.unpack(">Q", blob[4:12])
        if not 0 < timestamp <= MAX_TIMESTAMP:
            raise IntegrityError(f"cosignature by {self.name}: timestamp {timestamp} out of range")
        try:
            self.public_key.verify(blob[12:], message(body, timestamp))
        except InvalidSignature as exc:
            raise IntegrityError(f"cosignature by {self.name} does not verify") from exc
        return int(timestamp)


@dataclass(frozen=True)
class Cosigner:
    """A cosigner: its name and Ed25519 private key."""

    name: str
    private_key: ed25519.Ed25519PrivateKey

    @classmethod
    def parse(cls, text: str) -> Cosigner:
        """From a Go note signer key string (`PRIVATE+KEY+name+hash+base64(0x01||seed)`)."""
        signer = note.Signer.parse(text)
        return cls(signer.name, signer.private_key)

    def __str__(self) -> str:
        verifier = note.Verifier.from_public_key(self.name, self.private_key.public_key())
        return str(note.Signer(self.name, verifier.key_hash, self.private_key))

    def key(self) -> CosignerKey:
        return CosignerKey.from_public_key(self.name, self.private_key.public_key())

    def signature_line(self, body: str, timestamp: int) -> str:
        """The cosignature line for a checkpoint body at this time."""
        signature = self.private_key.sign(message(body, timestamp))
        blob = struct.pack(">IQ", self.key().key_id, timestamp) + signature
        return f"{note.SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


def generate(name: str) -> tuple[str, str]:
    """A new cosigner key pair: (signer key string, cosigner vkey string)."""
    signer_text, _ = note.generate(name)
    cosigner = Cosigner.parse(signer_text)
    return signer_text, str(cosigner.key())


def verify(signed_note: str, keys: list[CosignerKey]) -> dict[str, int]:
    """The cosignatures of `keys` on a signed checkpoint note that verify, as
    {cosigner name: timestamp}. Lines of other keys are ignored; a line whose name and
    key ID are a known cosigner's but whose signature fails is `IntegrityError` (such a
    note is malformed)."""
    body, signatures = note.split(signed_note)
    known = {(k.name, k.key_id): k for k in keys}
    found: dict[str, int] = {}
    for name, blob in signatures:
        (ident,) = struct.unpack(">I", blob[:4])
        key = known.get((name, ident))
        if key is not None:
            found[name] = key.verify_blob(body, blob)
    return found
