"""The C2SP tlog-witness v1.0.0 request and answer bodies (https://c2sp.org/tlog-witness).

`POST <prefix>/add-checkpoint` carries

    old <size>\\n
    <base64 consistency-proof hash>\\n      (0 to 63 lines)
    \\n
    <the signed checkpoint note>

and a 200 answers one or more cosignature lines `— <name> <base64>\\n`; a 409 answers
`<size>\\n` as `text/x.tlog.size`. Sizes are ASCII decimal with no leading zeroes.
Only the bytes are here; the witness (`provenance.witnessing`) and the log's client
(`provenance.remote.witnesses`) decide what they mean.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from provenance.errors import InputError
from provenance.tlog.note import SIGNATURE_PREFIX

SIZE_TYPE = "text/x.tlog.size"
MAX_PROOF = 63
MAX_BODY = 64 * 1024


def _size(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or (text != "0" and text.startswith("0")):
        raise InputError(f"malformed {what} {text!r}: ASCII decimal, no leading zeroes")
    if len(text) > 20 or int(text) >= 2**64:
        raise InputError(f"{what} {text} out of range")
    return int(text)


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: list[bytes]
    note: str

    def encode(self) -> bytes:
        return format_request(self.old_size, self.proof, self.note)


def format_request(old_size: int, proof: list[bytes], note: str) -> bytes:
    if len(proof) > MAX_PROOF:
        raise InputError(f"a consistency proof of {len(proof)} hashes (at most {MAX_PROOF})")
    lines = [f"old {old_size}", *(base64.b64encode(p).decode() for p in proof), ""]
    return ("\n".join(lines) + "\n" + note).encode()


def parse_request(body: bytes) -> AddCheckpoint:
    """Parse an add-checkpoint body, or raise `InputError` (the witness answers 400)."""
    if len(body) > MAX_BODY:
        raise InputError("request body too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("request body is not UTF-8") from exc
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise InputError("no empty line before the checkpoint")
    lines = head.split("\n")
    if not lines[0].startswith("old "):
        raise InputError("the first line must be `old <size>`")
    old_size = _size(lines[0][4:], "old size")
    if len(lines) - 1 > MAX_PROOF:
        raise InputError(f"more than {MAX_PROOF} consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            value = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InputError("a consistency proof line is not base64") from exc
        if len(value) != 32 or base64.b64encode(value).decode() != line:
            raise InputError("a consistency proof line is not one base64 SHA-256 hash")
        proof.append(value)
    if not note:
        raise InputError("no checkpoint after the empty line")
    return AddCheckpoint(old_size, proof, note)


def parse_size(body: bytes) -> int:
    """The body of a 409 (`text/x.tlog.size`): `<size>\\n`."""
    text = body.decode("ascii", errors="replace")
    if not text.endswith("\n"):
        raise InputError("a tlog size body ends with a newline")
    return _size(text[:-1], "tree size")


def parse_cosignatures(body: bytes) -> list[str]:
    """The lines of a 200 answer: signature lines, each ending in a newline."""
    text = body.decode("utf-8", errors="replace")
    if not text.endswith("\n"):
        raise InputError("cosignature lines end with a newline")
    lines = text[:-1].split("\n")
    if not lines or not all(line.startswith(SIGNATURE_PREFIX) for line in lines):
        raise InputError("the answer is not signature lines")
    return [line + "\n" for line in lines]
