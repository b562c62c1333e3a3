"""C2SP signed notes and tlog checkpoints (https://c2sp.org/signed-note).

A note is UTF-8 text ending in a newline, a blank line, then signature lines

    — <key name> <base64(4-byte key hash || signature)>

The key hash is the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key)
for Ed25519 (signature type 0x01). Keys are written as Go's
`golang.org/x/mod/sumdb/note` writes them:

    verifier  <name>+<8 hex key hash>+<base64(0x01 || 32-byte public key)>
    signer    PRIVATE+KEY+<name>+<8 hex key hash>+<base64(0x01 || 32-byte seed)>

Verifiers ignore signatures by unknown keys; a known key whose signature fails
rejects the note; at least one known key must verify.

A checkpoint (https://c2sp.org/tlog-checkpoint) is the note text

    <origin>\\n<tree size>\\n<base64 root hash>\\n
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from provenance.crypto.keys import SigningKey
from provenance.errors import InputError, IntegrityError
from provenance.tlog.numbers import decimal, hex32

ED25519_TYPE = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100


def _check_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise InputError(f"invalid note key name {name!r}: no spaces or '+' allowed")


def _key_hash(name: str, key_bytes: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + key_bytes).digest()
    value: int = struct.unpack(">I", digest[:4])[0]
    return value


def _raw_public(public_key: ed25519.Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A note verifier key: name, 32-bit key hash, Ed25519 public key."""

    name: str
    key_hash: int
    public_key: ed25519.Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise InputError(f"malformed verifier key {text!r}: want name+hash+key")
        name, hash_hex, key_b64 = parts
        _check_name(name)
        key_hash = hex32(hash_hex, "verifier key hash", InputError)
        try:
            raw = base64.b64decode(key_b64, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise InputError(f"malformed verifier key {text!r}") from exc
        if len(hash_hex) != 8 or len(raw) != 33 or raw[0] != ED25519_TYPE:
            raise InputError(f"verifier key {text!r} is not an Ed25519 note key")
        if _key_hash(name, raw) != key_hash:
            raise InputError(f"verifier key {text!r}: key hash does not match the key")
        return cls(name, key_hash, ed25519.Ed25519PublicKey.from_public_bytes(raw[1:]))

    @classmethod
    def from_public_key(cls, name: str, public_key: ed25519.Ed25519PublicKey) -> Verifier:
        _check_name(name)
        raw = bytes([ED25519_TYPE]) + _raw_public(public_key)
        return cls(name, _key_hash(name, raw), public_key)

    def __str__(self) -> str:
        raw = bytes([ED25519_TYPE]) + _raw_public(self.public_key)
        return f"{self.name}+{self.key_hash:08x}+{base64.b64encode(raw).decode()}"


@dataclass(frozen=True)
class Signer:
    """A note signer key: name, key hash, Ed25519 private key."""

    name: str
    key_hash: int
    private_key: ed25519.Ed25519PrivateKey

    @classmethod
    def parse(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise InputError("malformed signer key: want PRIVATE+KEY+name+hash+key")
        name, hash_hex, key_b64 = parts[2:]
        _check_name(name)
        key_hash = hex32(hash_hex, "signer key hash", InputError)
        try:
            raw = base64.b64decode(key_b64, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise InputError("malformed signer key") from exc
        if len(hash_hex) != 8 or len(raw) != 33 or raw[0] != ED25519_TYPE:
            raise InputError("signer key is not an Ed25519 note key")
        private_key = ed25519.Ed25519PrivateKey.from_private_bytes(raw[1:])
        signer = cls(name, key_hash, private_key)
        if signer.verifier().key_hash != key_hash:
            raise InputError("signer key: key hash does not match the key")
        return signer

    @classmethod
    def from_signing_key(cls, name: str, key: SigningKey) -> Signer:
        """A note signer from an Ed25519 `SigningKey` (the ledger's checkpoint key)."""
        if not isinstance(key.private_key, ed25519.Ed25519PrivateKey):
            raise InputError("a note signer key must be Ed25519")
        verifier = Verifier.from_public_key(name, key.private_key.public_key())
        return cls(name, verifier.key_hash, key.private_key)

    def verifier(self) -> Verifier:
        return Verifier.from_public_key(self.name, self.private_key.public_key())

    def __str__(self) -> str:
        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        raw = bytes([ED25519_TYPE]) + seed
        return f"PRIVATE+KEY+{self.name}+{self.key_hash:08x}+{base64.b64encode(raw).decode()}"


def generate(name: str) -> tuple[str, str]:
    """A new Ed25519 note key pair as (signer key, verifier key) strings."""
    _check_name(name)
    private_key = ed25519.Ed25519PrivateKey.generate()
    verifier = Verifier.from_public_key(name, private_key.public_key())
    signer = Signer(name, verifier.key_hash, private_key)
    return str(signer), str(verifier)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise InputError("note text must end with a newline")
    if "\n\n" in text:
        raise InputError("note text must not contain a blank line")
    for ch in text:
        if (ch < " " and ch != "\n") or ch == "\x7f":
            raise InputError("note text must not contain control characters")


def sign(text: str, signer_key: str | Signer) -> str:
    """Sign note text; return the note (text, blank line, signature line)."""
    signer = Signer.parse(signer_key) if isinstance(signer_key, str) else signer_key
    _check_text(text)
    return f"{text}\n{signature_line(text, signer)}"


def signature_line(text: str, signer_key: str | Signer) -> str:
    """One more signature line for note text (a note signed by several keys)."""
    signer = Signer.parse(signer_key) if isinstance(signer_key, str) else signer_key
    _check_text(text)
    blob = struct.pack(">I", signer.key_hash) + signer.private_key.sign(text.encode("utf-8"))
    return f"{SIGNATURE_PREFIX}{signer.name} {base64.b64encode(blob).decode()}\n"


def split(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Split a note into its text and its (key name, signature blob) lines."""
    cut = note.rfind("\n\n")
    if cut < 0:
        raise IntegrityError("malformed note: no blank line before the signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    if not block.endswith("\n"):
        raise IntegrityError("malformed note: signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise IntegrityError("malformed note: too many signatures")
    signatures = []
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise IntegrityError(f"malformed note signature line {line!r}")
        name, _, blob_b64 = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
        try:
            blob = base64.b64decode(blob_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise IntegrityError(f"malformed note signature for {name!r}") from exc
        if not name or len(blob) < 5:
            raise IntegrityError(f"malformed note signature line {line!r}")
        signatures.append((name, blob))
    return text, signatures


def open(note: str, verifier_keys: list[str] | list[Verifier]) -> str:
    """Verify a signed note and return its text, or raise `IntegrityError`."""
    verifiers = [Verifier.parse(k) if isinstance(k, str) else k for k in verifier_keys]
    text, signatures = split(note)
    known = {(v.name, v.key_hash): v for v in verifiers}
    verified = 0
    for name, blob in signatures:
        (key_hash,) = struct.unpack(">I", blob[:4])
        verifier = known.get((name, key_hash))
        if verifier is None:
            continue
        try:
            verifier.public_key.verify(blob[4:], text.encode("utf-8"))
        except InvalidSignature as exc:
            raise IntegrityError(f"note signature by {name} does not verify") from exc
        verified += 1
    if not verified:
        names = ", ".join(sorted({n for n, _ in signatures})) or "none"
        raise IntegrityError(f"note has no signature by a known key (signed by: {names})")
    return text


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog checkpoint body: origin, tree size, root hash."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise IntegrityError("malformed checkpoint: want origin, size and root lines")
        origin, size_text, root_b64 = lines[0], lines[1], lines[2]
        if not origin:
            raise IntegrityError("malformed checkpoint: empty origin")
        size = decimal(size_text, "checkpoint size", IntegrityError)
        try:
            root = base64.b64decode(root_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise IntegrityError("malformed checkpoint root hash") from exc
        if len(root) != 32:
            raise IntegrityError("malformed checkpoint: root hash is not 32 bytes")
        return cls(origin, size, root)

    def to_json(self) -> dict[str, object]:
        return {"origin": self.origin, "size": self.size, "root": self.root.hex()}


def open_checkpoint(note: str, verifier_keys: list[str] | list[Verifier]) -> Checkpoint:
    """Verify a signed checkpoint note and parse its body."""
    return Checkpoint.parse(open(note, verifier_keys))
