"""Reading documents: the strict JSON reader and the YAML reader's limits (issue 18 item 2:
every refusal is the library's own error, never a ValueError or RecursionError), and YAML's
own types as the models receive them (issue 17 items 1 and 2)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance import documents
from provenance.errors import InputError, IntegrityError
from provenance.statements import kinds


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"1" * 5000, "integer of 5000 digits"),
        (b'{"a": -' + b"9" * 41 + b"}", "integer of 41 digits"),
        (b"[" * 100_000, "nested more than 64 deep"),
        (b'{"a":' * 100_000, "nested more than 64 deep"),
        (b"[" * 65 + b"]" * 65, "nested more than 64 deep"),
        (b"[NaN]", "NaN is not a JSON number"),
        (b"[-Infinity]", "-Infinity is not a JSON number"),
        (b"[1e99999]", "out of range"),
        (b'{"a": 1, "a": 2}', "the key 'a' appears twice"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"a": ', "not valid JSON"),
        (b"", "not valid JSON"),
    ],
)
def test_loads_json_refuses_with_an_input_error(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as refused:
        documents.loads_json(data, "thing.json")
    assert message in refused.value.message and "thing.json" in refused.value.message


def test_loads_json_takes_what_statements_need() -> None:
    nested = b"[" * 64 + b"]" * 64
    assert documents.loads_json(nested, "x") is not None
    assert documents.loads_json('{"n": ' + "9" * 40 + "}") == {"n": int("9" * 40)}
    assert documents.loads_json('{"s": "١٢٣", "f": 1.5}') == {"s": "١٢٣", "f": 1.5}


def test_loads_json_raises_the_error_it_is_given() -> None:
    with pytest.raises(IntegrityError):
        documents.loads_json(b"[" * 100_000, "stored leaf", error=IntegrityError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000, "nested more than 64 deep"),
        ("- " * 3000 + "x", "nested more than 64 deep"),
        ("a: " + "1" * 5000, "a number of more than 255 digits"),
        ("[" * 5000, "nested more than 64 deep"),  # PyYAML alone takes seconds over it
        ("a: " + "1" * 100, "integer of more than 40 digits"),
    ],
)
def test_yaml_documents_are_held_to_the_same_limits(text: str, message: str) -> None:
    with pytest.raises(InputError) as refused:
        documents.parse(text.encode(), "doc.yaml")
    assert message in refused.value.message


def test_a_yaml_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 7):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(InputError) as refused:
        documents.parse("\n".join(lines).encode(), "bomb.yaml")
    assert "more than 1000000 values" in refused.value.message


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
    with pytest.raises(InputError, match=r"x.yaml holds a number of more than 255 digits"):
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
