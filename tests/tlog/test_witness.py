"""The tlog-witness request and answer bodies: the spec's example, round trips, and any
bytes parsed without a crash."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.errors import InputError
from provenance.tlog import witness

# The example request body of C2SP tlog-witness v1.0.0.
SPEC_BODY = "\n".join(
    [
        "old 20852014",
        "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=",
        "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=",
        "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=",
        "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=",
        "",
        "example.com/behind-the-sofa",
        "20852163",
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
        "",
        "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
        "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=",
        "— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks"
        "+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=",
        "",
    ]
)


def test_the_spec_example_parses_and_is_rebuilt_byte_for_byte() -> None:
    request = witness.parse_request(SPEC_BODY.encode())
    assert request.old_size == 20852014
    assert len(request.proof) == 4
    assert request.proof[0] == base64.b64decode("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    assert request.note.startswith("example.com/behind-the-sofa\n20852163\n")
    assert request.encode() == SPEC_BODY.encode()


@pytest.mark.parametrize(
    "body",
    [
        b"old 01\n\nx\n",
        b"old -1\n\nx\n",
        b"old 1\nnot base64!\n\nx\n",
        b"old 1\nAAAA\n\nx\n",
        b"new 1\n\nx\n",
        b"old 1\n\n",
        b"old 1\nx\n",
        b"old 1\n" + b"".join([base64.b64encode(bytes(32)) + b"\n"] * 64) + b"\nx\n",
        b"old 99999999999999999999999\n\nx\n",
        b"\xff\xfe",
    ],
)
def test_malformed_requests_are_refused(body: bytes) -> None:
    with pytest.raises(InputError):
        witness.parse_request(body)


def test_sizes_and_cosignature_lines() -> None:
    assert witness.parse_size(b"20852163\n") == 20852163
    for bad in (b"012\n", b"12", b"x\n"):
        with pytest.raises(InputError):
            witness.parse_size(bad)
    lines = witness.parse_cosignatures("— w/1 AAAA\n— w/2 BBBB\n".encode())
    assert lines == ["— w/1 AAAA\n", "— w/2 BBBB\n"]
    with pytest.raises(InputError):
        witness.parse_cosignatures(b"oops\n")


@given(
    st.integers(0, 2**64 - 1),
    st.lists(st.binary(min_size=32, max_size=32), max_size=63),
    st.text(min_size=1).filter(lambda t: "\n\n" not in t),
)
def test_requests_round_trip(old: int, proof: list[bytes], note: str) -> None:
    parsed = witness.parse_request(witness.format_request(old, proof, note))
    assert (parsed.old_size, parsed.proof, parsed.note) == (old, proof, note)


@given(st.binary(max_size=400))
def test_any_bytes_parse_or_are_refused(body: bytes) -> None:
    with contextlib.suppress(InputError):
        witness.parse_request(body)
