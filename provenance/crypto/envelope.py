"""DSSE v1 envelopes carrying in-toto Statement v1 payloads.

DSSE signs `PAE(payloadType, payload)`, the exact bytes, so verification never
depends on how JSON is serialised: we verify the bytes we were given and hand
on those same bytes. `keyid` is a hint for finding the key, never trusted:
what counts is which key the signature verifies with.

    PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

Spec: https://github.com/secure-systems-lab/dsse (protocol.md, envelope.md).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from provenance.crypto import canonical
from provenance.crypto.keys import SigningKey, VerifyingKey
from provenance.documents import loads_json
from provenance.errors import InputError, SignatureError

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
MAX_ENVELOPE_BYTES = 1024 * 1024
"""An envelope larger than this is refused before it is parsed."""
MAX_PAYLOAD_BYTES = 512 * 1024
"""A payload larger than this is refused: evidence goes in by digest, not inline."""
MAX_SIGNATURES = 16

_PLAIN_TEXT = re.compile(r"[A-Za-z0-9+/=._:;@ -]*")
"""Characters a JSON string holds as they are (no escape in RFC 8785)."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of a payload and its type."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def b64decode(text: str, what: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not."""
    if not isinstance(text, str):
        raise InputError(f"{what} must be a base64 string")
    data = text.strip()
    padded = data + "=" * (-len(data) % 4)
    try:
        if "-" in data or "_" in data:
            return base64.urlsafe_b64decode(padded.encode("ascii"))
        return base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise InputError(f"{what} is not valid base64") from exc


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope: the signed payload bytes, their type, the signatures."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_json(self) -> dict[str, Any]:
        """The envelope as JSON (standard base64, signatures in order)."""
        return {
            "payload": b64encode(self.payload),
            "payloadType": self.payload_type,
            "signatures": [{"keyid": s.keyid, "sig": b64encode(s.sig)} for s in self.signatures],
        }

    def canonical_bytes(self) -> bytes:
        """The envelope's RFC 8785 JSON, computed once (the envelope is frozen): its
        digest and the ledger's leaf are both made of it."""
        cached: bytes | None = self.__dict__.get("_canonical")
        if cached is None:
            cached = self._plain_canonical() or canonical.dumps(self.to_json())
            object.__setattr__(self, "_canonical", cached)
        return cached

    def _plain_canonical(self) -> bytes | None:
        """RFC 8785 written out directly when every string needs no escaping (base64,
        and a payload type and key ids of plain characters): keys in sorted order, no
        whitespace, exactly what `canonical.dumps` gives for them."""
        texts = [self.payload_type, *(s.keyid for s in self.signatures)]
        if not all(_PLAIN_TEXT.fullmatch(t) for t in texts):
            return None
        signatures = ",".join(
            f'{{"keyid":"{s.keyid}","sig":"{b64encode(s.sig)}"}}' for s in self.signatures
        )
        return (
            f'{{"payload":"{b64encode(self.payload)}","payloadType":"{self.payload_type}",'
            f'"signatures":[{signatures}]}}'
        ).encode("ascii")

    def digest(self) -> str:
        """Identity of the envelope: SHA-256 of its canonical JSON (computed once)."""
        cached: str | None = self.__dict__.get("_digest")
        if cached is None:
            cached = canonical.sha256_hex(self.canonical_bytes())
            object.__setattr__(self, "_digest", cached)
        return cached

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def statement(self) -> dict[str, Any]:
        """The in-toto Statement inside, parsed and checked for shape."""
        return parse_statement(self.payload)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Envelope:
        """Parse a DSSE envelope object; raise `InputError` for any malformation."""
        if not isinstance(value, Mapping):
            raise InputError("envelope must be a JSON object")
        unknown = set(value) - {"payload", "payloadType", "signatures"}
        if unknown:
            raise InputError(f"envelope has unknown fields: {', '.join(sorted(unknown))}")
        payload_type = value.get("payloadType")
        if not isinstance(payload_type, str) or not payload_type:
            raise InputError("envelope.payloadType must be a non-empty string")
        if "payload" not in value:
            raise InputError("envelope.payload is missing")
        payload = b64decode(value["payload"], "envelope.payload")
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise InputError(
                f"payload is {len(payload)} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit",
                hint="record large evidence by digest, not inline",
            )
        raw_sigs = value.get("signatures")
        if not isinstance(raw_sigs, list) or not raw_sigs:
            raise SignatureError("envelope has no signatures")
        if len(raw_sigs) > MAX_SIGNATURES:
            raise InputError(f"envelope has {len(raw_sigs)} signatures, over {MAX_SIGNATURES}")
        signatures = []
        for i, raw in enumerate(raw_sigs):
            if not isinstance(raw, Mapping) or "sig" not in raw:
                raise SignatureError(f"envelope.signatures[{i}] has no sig")
            keyid = raw.get("keyid", "")
            if not isinstance(keyid, str):
                raise InputError(f"envelope.signatures[{i}].keyid must be a string")
            sig = b64decode(raw["sig"], f"envelope.signatures[{i}].sig")
            if not sig:
                raise SignatureError(f"envelope.signatures[{i}].sig is empty")
            signatures.append(Signature(keyid, sig))
        return cls(payload_type, payload, tuple(signatures))

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        if len(data) > MAX_ENVELOPE_BYTES:
            raise InputError(
                f"envelope is {len(data)} bytes, over the {MAX_ENVELOPE_BYTES}-byte limit"
            )
        return cls.from_json(loads_json(data, "envelope"))


def sign(payload_type: str, payload: bytes, keys: Sequence[SigningKey]) -> Envelope:
    """Sign a payload with one or more keys."""
    if not keys:
        raise InputError("at least one signing key is needed")
    message = pae(payload_type, payload)
    return Envelope(payload_type, payload, tuple(Signature(k.keyid, k.sign(message)) for k in keys))


def add_signature(envelope: Envelope, key: SigningKey) -> Envelope:
    """Countersign an envelope (for statements that need several parties)."""
    sig = Signature(key.keyid, key.sign(envelope.pae()))
    return Envelope(envelope.payload_type, envelope.payload, (*envelope.signatures, sig))


def verified_keyids(envelope: Envelope, keys: Mapping[str, VerifyingKey]) -> list[str]:
    """Ids of the known keys whose signature verifies, in envelope order.

    A signature whose hint names no known key is ignored here; a hint that names a
    known key whose signature does not verify makes the whole envelope fail, as
    a forged signature should.
    """
    message = envelope.pae()
    verified: list[str] = []
    for i, signature in enumerate(envelope.signatures):
        key = keys.get(signature.keyid)
        if key is None:
            continue
        if not key.is_valid_signature(signature.sig, message):
            raise SignatureError(f"signature {i} does not verify with key {signature.keyid[:16]}")
        if key.keyid not in verified:
            verified.append(key.keyid)
    return verified


def statement(
    subjects: Iterable[tuple[str, str]], predicate_type: str, predicate: Mapping[str, Any]
) -> dict[str, Any]:
    """An in-toto Statement v1: subjects are (name, sha256 hex) pairs."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": sha}} for name, sha in subjects],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }


def parse_statement(payload: bytes) -> dict[str, Any]:
    """Parse and shape-check an in-toto Statement v1 payload."""
    value = loads_json(payload, "payload (a JSON in-toto statement)")
    if not isinstance(value, dict):
        raise InputError("payload must be a JSON object (an in-toto Statement)")
    if value.get("_type") != STATEMENT_TYPE:
        raise InputError(f"payload _type must be {STATEMENT_TYPE}")
    if not isinstance(value.get("predicateType"), str):
        raise InputError("statement.predicateType must be a string")
    if not isinstance(value.get("predicate"), dict):
        raise InputError("statement.predicate must be an object")
    subjects = value.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise InputError("statement.subject must be a non-empty list")
    for i, subject in enumerate(subjects):
        if not isinstance(subject, dict) or not isinstance(subject.get("digest"), dict):
            raise InputError(f"statement.subject[{i}] must have a digest")
    return value


def sign_statement(
    subjects: Iterable[tuple[str, str]],
    predicate_type: str,
    predicate: Mapping[str, Any],
    keys: Sequence[SigningKey],
) -> Envelope:
    """Wrap a predicate in an in-toto Statement (canonical JSON) and sign it."""
    payload = canonical.dumps(statement(subjects, predicate_type, predicate))
    return sign(INTOTO_PAYLOAD_TYPE, payload, keys)
