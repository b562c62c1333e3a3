"""Reading people's documents: YAML's own types as the models receive them."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance import documents
from provenance.errors import InputError
from provenance.statements import kinds


def test_an_impossible_date_is_the_text_written() -> None:
    value = documents.parse(b"a: 2026-13-01\nb: 2026-02-30\nc: 2026-02-03\n", "x.yaml")
    assert value == {"a": "2026-13-01", "b": "2026-02-30", "c": dt.date(2026, 2, 3)}
    assert isinstance(value["a"], documents.NotADate)


def test_an_integer_yaml_reads_otherwise_keeps_its_digits() -> None:
    value = documents.parse(b"[1654923000101, 0012, 0x1F, 1_000, 12]", "x.yaml")
    assert value == [1654923000101, 10, 31, 1000, 12]
    assert [getattr(v, "written", None) for v in value] == [None, "0012", "0x1F", "1_000", None]
    assert type(value[0]) is int


def test_an_integer_too_long_to_convert_is_bad_input() -> None:
    with pytest.raises(InputError, match=r"x.yaml is not a usable document"):
        documents.parse(b"a: " + b"9" * 5000, "x.yaml")


@given(st.from_regex(r"[0-9]{1,20}", fullmatch=True))
def test_a_serial_written_as_digits_is_those_digits(digits: str) -> None:
    text = f"kind: manufacture\nproduct: p\nserials: [{digits}]\ndate: 2026-01-01\nsite: TW\n"
    document = documents.parse(text.encode(), "x.yaml")
    try:
        statement = kinds.from_document(document, "x.yaml")
    except InputError as exc:
        # Only what YAML does not read as an integer (08, 09: neither octal nor decimal)
        # stays a string; an integer with a leading zero is still the digits written.
        raise AssertionError(exc.message) from exc
    assert statement.predicate()["serials"] == [digits]


def test_a_signed_predicate_still_needs_string_serials() -> None:
    with pytest.raises(InputError, match=r"serials\[0\]: Input should be a valid string"):
        kinds.from_predicate(
            "manufacture",
            {"product": "p", "serials": [1654923000101], "date": "2026-01-01", "site": "TW"},
        )
    with pytest.raises(InputError, match=r"date: 0 is a number, not a date"):
        kinds.from_predicate(
            "manufacture", {"product": "p", "serials": ["1"], "date": 0, "site": "TW"}
        )
