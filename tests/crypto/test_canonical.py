"""canonical: byte-identical to the rfc8785 reference, fast path included."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from provenance.crypto import canonical
from provenance.errors import InputError

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.text(),
    st.floats(allow_nan=False, allow_infinity=False),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=30,
)


def _surrogate_free(value: object) -> bool:
    if isinstance(value, str):
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return all(_surrogate_free(v) for v in value)
    if isinstance(value, dict):
        return all(_surrogate_free(k) and _surrogate_free(v) for k, v in value.items())
    return True


@given(json_values)
def test_identical_to_reference(value: object) -> None:
    if not _surrogate_free(value):
        with pytest.raises(InputError):
            canonical.dumps(value)
        return
    assert canonical.dumps(value) == rfc8785.dumps(value)


@given(st.dictionaries(st.text(alphabet=st.characters(min_codepoint=0x10000)), st.integers(0, 9)))
def test_keys_outside_the_bmp_sort_by_utf16(value: dict[str, int]) -> None:
    assert canonical.dumps(value) == rfc8785.dumps(value)


def test_known_bytes() -> None:
    value = {"b": [1, "\u00e9", None, True], "a": "\n\x1f\u2028", "\u20ac": 0, "\U0001f600": 1}
    assert canonical.dumps(value) == rfc8785.dumps(value)
    assert canonical.dumps({"b": 1, "a": 2}) == b'{"a":2,"b":1}'


def test_large_integers_are_refused() -> None:
    with pytest.raises(InputError, match="canonicalised"):
        canonical.dumps({"n": 2**60})


def test_digest_is_sha256_of_canonical_bytes() -> None:
    import hashlib

    assert canonical.digest({"x": 1}) == hashlib.sha256(b'{"x":1}').hexdigest()
