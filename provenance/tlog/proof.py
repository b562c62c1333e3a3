"""The C2SP tlog-proof format (https://c2sp.org/tlog-proof): an inclusion proof with
its signed checkpoint, as one text.

    c2sp.org/tlog-proof@v1
    extra <base64 of data needed to reconstruct the record hash>   (optional)
    index <decimal>
    <base64 inclusion-proof hash, one a line>
    <blank line>
    <the signed checkpoint note, verbatim>

This module only reads and writes the text; what the proof proves is checked by
whoever holds the record (`provenance.offline.receipts`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from provenance.errors import InputError
from provenance.tlog.numbers import decimal

HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True)
class TlogProof:
    extra: bytes | None
    index: int
    proof: list[bytes]
    note: str


def format_proof(
    index: int, proof: list[bytes] | tuple[bytes, ...], note: str, extra: bytes | None = None
) -> str:
    lines = [HEADER]
    if extra is not None:
        lines.append(f"extra {base64.b64encode(extra).decode()}")
    lines.append(f"index {index}")
    lines.extend(base64.b64encode(p).decode() for p in proof)
    lines.append("")
    return "\n".join(lines) + "\n" + note


def parse_proof(text: str) -> TlogProof:
    head, sep, signed_note = text.partition("\n\n")
    if not sep:
        raise InputError("malformed receipt: no blank line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise InputError(f"not a tlog-proof: first line must be {HEADER}")
    position = 1
    extra = None
    try:
        if len(lines) > position and lines[position].startswith("extra "):
            extra = base64.b64decode(lines[position][6:], validate=True)
            position += 1
        if len(lines) <= position or not lines[position].startswith("index "):
            raise InputError("malformed receipt: missing index line")
        index = decimal(lines[position][6:], "receipt index", InputError)
        proof = [base64.b64decode(line, validate=True) for line in lines[position + 1 :]]
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"malformed receipt: bad base64 ({exc})") from exc
    return TlogProof(extra, index, proof, signed_note)
