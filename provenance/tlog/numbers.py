"""Numbers in the C2SP text formats (checkpoints, tlog-proof receipts, tile paths): ASCII
decimal, no sign, no leading zero, no spaces or underscores, at most a uint64. Python's
`int()` takes any Unicode digit (`int("٣")` is 3; `"²".isdigit()` is true but `int("²")`
fails), so no text number is read with it unchecked."""

from __future__ import annotations

import re

from provenance.errors import ProvenanceError

MAX_UINT64 = 2**64 - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_HEX8 = re.compile(r"[0-9a-f]{8}")


def decimal(text: str, what: str, error: type[ProvenanceError]) -> int:
    """`text` as a uint64 written in ASCII decimal without leading zeros, else `error`."""
    if not _DECIMAL.fullmatch(text) or int(text) > MAX_UINT64:
        raise error(f"malformed {what} {text[:24]!r}: want an ASCII decimal number")
    return int(text)


def hex32(text: str, what: str, error: type[ProvenanceError]) -> int:
    """Eight lowercase hex digits (a note key hash), else `error`."""
    if not _HEX8.fullmatch(text):
        raise error(f"malformed {what} {text[:24]!r}: want 8 lowercase hex digits")
    return int(text, 16)
