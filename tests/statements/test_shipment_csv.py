"""Shipments from an ERP CSV export: grouping, optional columns, errors, round trip."""

from __future__ import annotations

import csv
import io
import operator
import string
import sys
from pathlib import Path
from random import Random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.errors import InputError, MissingFileError
from provenance.statements import kinds, payloads
from provenance.statements.shipment_csv import (
    COLUMNS,
    REQUIRED_COLUMNS,
    ParsedShipment,
    label,
    parse_shipments_csv,
    read_shipments_csv,
    write_shipments_csv,
)

HEADER = ",".join(COLUMNS)
SRC = "shipments.csv"


def line(**overrides: str) -> str:
    """One CSV line of shipment SHP-1 (item h100), with some cells replaced."""
    cells = {
        "shipment_id": "SHP-1",
        "exporter": "acme-us",
        "consignee": "acme-sg",
        "end_user": "dc-sg-1",
        "forwarder": "",
        "ship_date": "2025-03-14",
        "destination": "SG",
        "route": "US;SG",
        "license": "",
        "product": "h100-sxm5-80gb",
        "description": "GPU accelerator",
        "hs_code": "8473.30.1180",
        "quantity": "2",
        "serials": "SN001;SN002",
        "unit_value": "30000.00",
        "currency": "USD",
    }
    cells.update(overrides)
    return ",".join(cells[column] for column in COLUMNS)


def csv_text(*lines: str, header: str = HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


def error_of(text: str) -> str:
    with pytest.raises(InputError) as info:
        parse_shipments_csv(text, source=SRC)
    return info.value.message


# --- reading -------------------------------------------------------------------------


def test_one_line_is_one_shipment_of_one_item() -> None:
    [parsed] = parse_shipments_csv(csv_text(line()), source=SRC)
    assert parsed.lines == (2,)
    assert parsed.document == {
        "kind": "shipment",
        "id": "SHP-1",
        "exporter": "acme-us",
        "consignee": "acme-sg",
        "end_user": "dc-sg-1",
        "ship_date": "2025-03-14",
        "destination": "SG",
        "route": ["US", "SG"],
        "items": [
            {
                "product": "h100-sxm5-80gb",
                "description": "GPU accelerator",
                "hs_code": "8473.30.1180",
                "quantity": 2,
                "serials": ["SN001", "SN002"],
                "unit_value": {"amount": "30000.00", "currency": "USD"},
            }
        ],
    }


def test_the_document_is_a_valid_shipment_statement() -> None:
    [parsed] = parse_shipments_csv(csv_text(line(license="D123", forwarder="ff-1")))
    statement = kinds.from_document(parsed.document)
    assert isinstance(statement, payloads.ShipmentStatement)
    assert statement.serials() == ["SN001", "SN002"]
    assert statement.license == "D123"


def test_repeated_lines_group_into_one_shipment_in_order_of_first_appearance() -> None:
    text = csv_text(
        line(shipment_id="SHP-2", product="a100", serials="A1", quantity="1"),
        line(shipment_id="SHP-1", product="h100", serials="H1", quantity="1"),
        line(shipment_id="SHP-2", product="b200", serials="B1", quantity="1"),
        line(shipment_id="SHP-1", product="h200", serials="H2", quantity="1"),
        line(shipment_id="SHP-2", product="l40", serials="L1", quantity="1"),
    )
    first, second = parse_shipments_csv(text, source=SRC)
    assert first.document["id"] == "SHP-2"
    assert [item["product"] for item in first.document["items"]] == ["a100", "b200", "l40"]
    assert first.lines == (2, 4, 6)
    assert second.document["id"] == "SHP-1"
    assert [item["product"] for item in second.document["items"]] == ["h100", "h200"]
    assert second.lines == (3, 5)


def test_optional_columns_are_omitted_when_empty_and_kept_when_filled() -> None:
    text = csv_text(
        line(shipment_id="A"),
        line(shipment_id="B", forwarder="fastfreight", license="NLR"),
    )
    a, b = (p.document for p in parse_shipments_csv(text))
    assert "forwarder" not in a
    assert "license" not in a
    assert b["forwarder"] == "fastfreight"
    assert b["license"] == "NLR"


def test_optional_columns_may_be_left_out_of_the_header() -> None:
    header = ",".join(REQUIRED_COLUMNS)
    values = line().split(",")
    row = ",".join(v for c, v in zip(COLUMNS, values, strict=True) if c in REQUIRED_COLUMNS)
    [parsed] = parse_shipments_csv(csv_text(row, header=header))
    assert "forwarder" not in parsed.document
    assert "license" not in parsed.document


def test_columns_may_come_in_any_order() -> None:
    columns = list(reversed(COLUMNS))
    values = dict(zip(COLUMNS, line(license="L1").split(","), strict=True))
    text = ",".join(columns) + "\n" + ",".join(values[c] for c in columns) + "\n"
    [parsed] = parse_shipments_csv(text)
    assert parsed.document == parse_shipments_csv(csv_text(line(license="L1")))[0].document


def test_whitespace_around_cells_and_list_values_is_stripped() -> None:
    text = csv_text(
        line(
            exporter="  acme-us ",
            route=" US ; JP;; SG ;",
            serials=" SN001 ;SN002; ",
            quantity=" 2 ",
            currency=" USD",
        )
    )
    [parsed] = parse_shipments_csv(text)
    assert parsed.document["exporter"] == "acme-us"
    assert parsed.document["route"] == ["US", "JP", "SG"]
    item = parsed.document["items"][0]
    assert item["serials"] == ["SN001", "SN002"]
    assert item["quantity"] == 2
    assert item["unit_value"] == {"amount": "30000.00", "currency": "USD"}


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    [parsed] = parse_shipments_csv("\ufeff" + csv_text(line()))
    assert parsed.document["id"] == "SHP-1"


def test_quoted_cells_hold_commas_quotes_and_line_breaks() -> None:
    text = csv_text(
        line(description='"GPU, accelerator ""SXM5""\nboard"', shipment_id="A"),
        line(shipment_id="B"),
    )
    a, b = parse_shipments_csv(text)
    assert a.document["items"][0]["description"] == 'GPU, accelerator "SXM5"\nboard'
    assert a.lines == (2,)
    assert b.lines == (4,)  # the quoted line break takes up line 3


def test_crlf_line_ends_and_blank_lines() -> None:
    text = HEADER + "\r\n\r\n" + line(shipment_id="A") + "\r\n\r\n" + line(shipment_id="B")
    a, b = parse_shipments_csv(text)
    assert (a.lines, b.lines) == ((3,), (5,))


def test_a_repeated_route_may_differ_in_whitespace_only() -> None:
    text = csv_text(line(route="US;SG"), line(route=" US ; SG ", product="h200"))
    [parsed] = parse_shipments_csv(text)
    assert parsed.document["route"] == ["US", "SG"]
    assert len(parsed.document["items"]) == 2


def test_quantity_is_not_checked_against_the_serials_here() -> None:
    [parsed] = parse_shipments_csv(csv_text(line(quantity="0", serials="SN1;SN2;SN3")))
    assert parsed.document["items"][0]["quantity"] == 0


# --- errors --------------------------------------------------------------------------


def test_a_missing_required_column_is_named() -> None:
    columns = [c for c in COLUMNS if c not in ("end_user", "currency")]
    message = error_of(",".join(columns) + "\n")
    assert message.startswith(f"{SRC} line 1:")
    assert "end_user, currency" in message


def test_an_unknown_column_is_named() -> None:
    message = error_of(csv_text(line() + ",x", header=HEADER + ",colour"))
    assert message.startswith(f"{SRC} line 1:")
    assert "'colour'" in message


def test_a_duplicated_column_is_an_error() -> None:
    message = error_of(csv_text(line() + ",SG", header=HEADER + ",destination"))
    assert message == f"{SRC} line 1: column destination appears twice in the header"


@pytest.mark.parametrize("column", REQUIRED_COLUMNS)
def test_an_empty_required_cell_names_the_line_and_column(column: str) -> None:
    text = csv_text(line(shipment_id="A"), line(**{column: "  "}))
    assert error_of(text).startswith(f"{SRC} line 3, column {column}: empty")


@pytest.mark.parametrize("column", ["route", "serials"])
def test_a_list_of_only_separators_is_empty(column: str) -> None:
    message = error_of(csv_text(line(**{column: " ; ;"})))
    assert message.startswith(f"{SRC} line 2, column {column}: '; ;' lists no ")


@pytest.mark.parametrize("quantity", ["ten", "-1", "+2", "2.0", "1e3", "1_000", "٣", "²"])
def test_a_quantity_that_is_not_a_non_negative_integer(quantity: str) -> None:
    message = error_of(csv_text(line(), line(quantity=quantity)))
    assert message == f"{SRC} line 3, column quantity: {quantity!r} is not an integer"


def test_a_disagreeing_repeated_field_names_both_lines_and_the_column() -> None:
    text = csv_text(
        line(),
        line(shipment_id="OTHER", consignee="x"),
        line(product="h200"),
        line(product="b200", consignee="acme-sg2"),
    )
    message = error_of(text)
    assert message.startswith(
        f"{SRC} line 5, column consignee: 'acme-sg2' disagrees with 'acme-sg' on line 2"
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [("forwarder", "ff-1"), ("license", "D1"), ("route", "US;JP;SG"), ("ship_date", "2025-03-15")],
)
def test_every_shipment_field_must_agree(column: str, value: str) -> None:
    message = error_of(csv_text(line(), line(**{column: value})))
    assert message.startswith(f"{SRC} line 3, column {column}: ")
    assert "on line 2" in message


def test_an_item_field_may_differ_between_lines() -> None:
    text = csv_text(line(), line(currency="EUR", unit_value="1.00", hs_code="8542.31"))
    [parsed] = parse_shipments_csv(text)
    assert [i["unit_value"]["currency"] for i in parsed.document["items"]] == ["USD", "EUR"]


@pytest.mark.parametrize("text", ["", "\ufeff", "\n\n", HEADER, HEADER + "\n", HEADER + "\n,,\n"])
def test_an_empty_file_or_a_header_alone_has_no_shipment_lines(text: str) -> None:
    assert error_of(text) == f"{SRC}: no shipment lines"


def test_a_line_with_the_wrong_number_of_cells() -> None:
    assert error_of(csv_text(line(), line() + ",extra")) == (
        f"{SRC} line 3: 17 cells, but the header has 16 columns"
    )


def test_an_unclosed_quote_is_reported_where_its_record_starts() -> None:
    message = error_of(csv_text(line(), line(description='"GPU\nboard\nand more')))
    assert message.startswith(f"{SRC} line 3: malformed CSV")


def test_an_error_after_a_multi_line_cell_names_the_record_start() -> None:
    text = csv_text(line(description='"a\nb"', quantity="x"))
    assert error_of(text) == f"{SRC} line 2, column quantity: 'x' is not an integer"


# --- labels and files ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ((7,), "shipments.csv line 7"),
        ((7, 8, 9), "shipments.csv lines 7-9"),
        ((7, 12), "shipments.csv lines 7, 12"),
        ((3, 4, 7, 9, 10, 11), "shipments.csv lines 3-4, 7, 9-11"),
    ],
)
def test_label(lines: tuple[int, ...], expected: str) -> None:
    assert label(ParsedShipment(document={}, lines=lines), SRC) == expected


def test_read_a_file_with_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "shipments.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text(line()).encode())
    [parsed] = read_shipments_csv(str(path))
    assert parsed.document["id"] == "SHP-1"


def test_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "shipments.csv"
    path.write_text(csv_text(line(quantity="ten")), encoding="utf-8")
    with pytest.raises(InputError, match=rf"^{path} line 2, column quantity: 'ten'"):
        read_shipments_csv(str(path))


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "shipments.csv"
    path.write_bytes(csv_text(line(description="Gr\xe4fik")).encode("latin-1"))
    with pytest.raises(InputError, match=rf"^{path} is not UTF-8 text \(line 2,"):
        read_shipments_csv(str(path))


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"nope\.csv: no such file$") as caught:
        read_shipments_csv(str(tmp_path / "nope.csv"))
    assert caught.value.exit_code == 2


def test_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    data = csv_text(line(quantity="x")).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    with pytest.raises(InputError, match=r"^standard input line 2, column quantity"):
        read_shipments_csv("-")


# --- writing -------------------------------------------------------------------------


def test_writing_and_reading_back_a_parsed_file() -> None:
    text = csv_text(
        line(shipment_id="A", license="L-1"),
        line(shipment_id="B", forwarder="ff"),
        line(shipment_id="A", license="L-1", product="h200", description='"a, b"'),
    )
    documents = [p.document for p in parse_shipments_csv(text)]
    out = io.StringIO()
    write_shipments_csv(documents, out)
    written = out.getvalue()
    assert written.splitlines()[0] == HEADER
    assert len(written.splitlines()) == 4
    assert [p.document for p in parse_shipments_csv(written)] == documents


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"items": []}, "items must be a non-empty list"),
        ({"route": ["US", "S;G"]}, "route value 'S;G' cannot be written"),
        ({"route": []}, "route must list at least one value"),
        ({"exporter": ""}, "exporter is missing or empty"),
    ],
)
def test_writing_refuses_what_would_not_read_back(change: dict[str, Any], message: str) -> None:
    [parsed] = parse_shipments_csv(csv_text(line()))
    out = io.StringIO()
    with pytest.raises(InputError, match=message):
        write_shipments_csv([parsed.document, {**parsed.document, "id": "B", **change}], out)
    assert out.getvalue() == ""  # all or nothing


def test_writing_refuses_a_shipment_listed_twice() -> None:
    [parsed] = parse_shipments_csv(csv_text(line()))
    with pytest.raises(InputError, match="'SHP-1' is listed twice"):
        write_shipments_csv([parsed.document, parsed.document], io.StringIO())


ALNUM = string.ascii_letters + string.digits
identifiers = st.builds(operator.add, st.sampled_from(ALNUM), st.text(ALNUM + "._:/-", max_size=11))
texts = (
    st.text(
        st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from(',";\n\r\t'),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)
items = st.fixed_dictionaries(
    {
        "product": identifiers,
        "description": texts,
        "hs_code": st.sampled_from(["8473.30.1180", "847330", "8542.31"]),
        "quantity": st.integers(min_value=0, max_value=10**12),
        "serials": st.lists(identifiers, min_size=1, max_size=5),
        "unit_value": st.fixed_dictionaries(
            {
                "amount": st.decimals(min_value=0, max_value=10**9, places=2).map(str),
                "currency": st.sampled_from(["USD", "EUR", "SGD"]),
            }
        ),
    }
)
shipments = st.fixed_dictionaries(
    {
        "kind": st.just("shipment"),
        "id": identifiers,
        "exporter": identifiers,
        "consignee": identifiers,
        "end_user": identifiers,
        "ship_date": st.dates().map(str),
        "destination": st.sampled_from(["SG", "US", "NL"]),
        "route": st.lists(st.sampled_from(["US", "SG", "NL", "JP"]), min_size=1, max_size=4),
        "items": st.lists(items, min_size=1, max_size=4),
    },
    optional={"forwarder": identifiers, "license": texts.filter(lambda t: "\n" not in t)},
)


@given(st.lists(shipments, min_size=1, max_size=5, unique_by=lambda d: d["id"]), st.randoms())
def test_write_then_parse_round_trips(documents: list[dict[str, Any]], rng: Random) -> None:
    out = io.StringIO()
    write_shipments_csv(documents, out)
    parsed = parse_shipments_csv(out.getvalue())
    assert [p.document for p in parsed] == documents
    assert sum(len(p.lines) for p in parsed) == sum(len(d["items"]) for d in documents)

    # The lines of a shipment need not be adjacent: interleave them (each
    # shipment's lines staying in order) and expect the same documents.
    head, *rows = csv.reader(io.StringIO(out.getvalue(), newline=""))
    pending: dict[str, list[list[str]]] = {}
    for row in rows:
        pending.setdefault(row[0], []).append(row)
    shuffled = [pending[row[0]].pop(0) for row in rng.sample(rows, len(rows))]
    mixed = io.StringIO()
    csv.writer(mixed).writerows([head, *shuffled])
    first_seen = list(dict.fromkeys(row[0] for row in shuffled))
    expected = sorted(documents, key=lambda d: first_seen.index(d["id"]))
    assert [p.document for p in parse_shipments_csv(mixed.getvalue())] == expected


def test_ten_thousand_shipments_keep_their_line_numbers() -> None:
    # Speed is measured by bench/statements.py, not here.
    [parsed] = parse_shipments_csv(csv_text(line()))
    documents = [{**parsed.document, "id": f"SHP-{n}"} for n in range(10_000)]
    out = io.StringIO()
    write_shipments_csv(documents, out)
    result = parse_shipments_csv(out.getvalue())
    assert len(result) == 10_000
    assert result[-1].lines == (10_001,)
    assert result[-1].document["id"] == "SHP-9999"
