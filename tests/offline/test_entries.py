"""Leaf bytes: the canonical JSON of {seq, integrated_at, envelope}, byte for byte."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from provenance.crypto import canonical
from provenance.crypto.envelope import INTOTO_PAYLOAD_TYPE, Envelope, Signature
from provenance.offline.entries import leaf_bytes, timestamp


@given(
    seq=st.integers(min_value=-5, max_value=2**60),
    moment=st.one_of(
        st.datetimes(timezones=st.just(dt.UTC)).map(timestamp),
        st.text(max_size=30),
    ),
    payload=st.binary(max_size=100),
    keyid=st.one_of(st.text(alphabet="0123456789abcdef", min_size=1), st.text(min_size=1)),
)
def test_leaf_bytes_are_the_canonical_json(
    seq: int, moment: str, payload: bytes, keyid: str
) -> None:
    envelope = Envelope(INTOTO_PAYLOAD_TYPE, payload, (Signature(keyid, b"\x01" * 64),))
    value = {"seq": seq, "integrated_at": moment, "envelope": envelope.to_json()}
    try:
        expected = canonical.dumps(value)
    except Exception as exc:  # values the reference refuses are refused alike
        try:
            leaf_bytes(seq, moment, envelope)
        except Exception as mine:
            assert type(mine) is type(exc)
            return
        raise AssertionError("leaf_bytes accepted what canonical JSON refuses") from exc
    assert leaf_bytes(seq, moment, envelope) == expected
