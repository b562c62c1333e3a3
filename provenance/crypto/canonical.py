"""Canonical JSON (RFC 8785, JSON Canonicalization Scheme) and digests.

`dumps` returns the exact bytes the `rfc8785` reference package returns. For the
values the ledger actually holds (strings, integers within IEEE-754 precision,
booleans, null, lists and objects whose keys are in the Basic Multilingual
Plane) Python's own encoder, with sorted keys and no whitespace, already
produces those bytes and is about three times faster; anything else (floats,
large integers, keys outside the BMP, lone surrogates) goes to the reference.
The equivalence is property-tested against `rfc8785` in the test suite.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

from provenance.errors import InputError

_MAX_SAFE_INTEGER = 2**53 - 1
_encoder = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def _fast_path_ok(value: Any) -> bool:
    """True when the stdlib encoder gives RFC 8785 bytes for this value."""
    stack = [value]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str:
            if not item.isascii() and _needs_reference_string(item):
                return False
        elif kind is dict:
            for key, child in item.items():
                if type(key) is not str or (not key.isascii() and _needs_reference_key(key)):
                    return False
                push(child)
        elif kind is list or kind is tuple:
            extend(item)
        elif kind is bool or item is None:
            continue
        elif kind is int:
            if not -_MAX_SAFE_INTEGER <= item <= _MAX_SAFE_INTEGER:
                return False
        else:  # floats, decimals, subclasses, anything exotic: the reference decides
            return False
    return True


def _needs_reference_string(text: str) -> bool:
    # Lone surrogates cannot be encoded as UTF-8; the reference rejects them.
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def _needs_reference_key(key: str) -> bool:
    # Keys are sorted by UTF-16 code units in RFC 8785 and by code points in
    # Python; the two orders differ only for characters outside the BMP.
    return any(ord(ch) > 0xFFFF or 0xD800 <= ord(ch) <= 0xDFFF for ch in key)


def dumps(value: Any) -> bytes:
    """Serialise `value` as RFC 8785 canonical JSON bytes (UTF-8)."""
    if _fast_path_ok(value):
        return _encoder.encode(value).encode("utf-8")
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InputError(f"value cannot be canonicalised as JSON: {exc}") from exc


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """Lowercase hex SHA-256 of the canonical JSON of `value`."""
    return sha256_hex(dumps(value))
