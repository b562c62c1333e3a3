"""The strict JSON reader and the YAML reader's limits (issue 18 item 2): every refusal is
the library's own error, never a ValueError or RecursionError."""

from __future__ import annotations

import pytest

from provenance import documents
from provenance.errors import InputError, IntegrityError


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
        ("a: 2026-13-45", "YAML cannot read"),
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
