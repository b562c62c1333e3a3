"""Parsing the Consolidated Screening List: both published forms, and refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from provenance.errors import InputError
from provenance.screening import (
    CSV_COLUMNS,
    SOURCE_NAMES,
    ListEntry,
    parse_list,
    read_list,
    source_code,
)

CSL = Path(__file__).resolve().parents[1] / "data" / "csl"
CSV_PATH = CSL / "consolidated.csv"
JSON_PATH = CSL / "consolidated.json"

EXPECTED_COUNTS = {
    "CMIC": 1,
    "DPL": 2,
    "DTC": 1,
    "EL": 5,
    "FSE": 1,
    "ISN": 1,
    "MBS": 1,
    "MEU": 3,
    "SDN": 5,
    "SSI": 1,
    "UVL": 3,
}


def csv_text(*rows: dict[str, str], header: tuple[str, ...] = CSV_COLUMNS) -> str:
    """A CSV in the published form with the given cells (others empty)."""
    lines = [",".join(header)]
    for row in rows:
        cells = [row.get(column, "") for column in header]
        lines.append(",".join('"' + cell.replace('"', '""') + '"' for cell in cells))
    return "\n".join(lines) + "\n"


EL = "Entity List (EL) - Bureau of Industry and Security"
GOOD_ROW = {"_id": "a1", "source": EL, "name": "Example Trading Ltd"}


# --- the shipped test list ---------------------------------------------------------


def test_the_test_list_has_the_published_header() -> None:
    header = CSV_PATH.read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(CSV_COLUMNS)
    assert len(CSV_COLUMNS) == 29


def test_csv_and_json_forms_parse_to_the_same_entries() -> None:
    from_csv = read_list(CSV_PATH)
    from_json = read_list(JSON_PATH)
    assert from_csv.format == "csv"
    assert from_json.format == "json"
    assert from_csv.entries == from_json.entries
    assert from_csv.counts() == from_json.counts() == EXPECTED_COUNTS
    assert len(from_csv) == sum(EXPECTED_COUNTS.values())


def test_snapshot_digest_is_the_sha256_of_the_file_bytes() -> None:
    for path in (CSV_PATH, JSON_PATH):
        snapshot = read_list(path)
        assert snapshot.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    summary = read_list(CSV_PATH).summary()
    assert summary["rows"] == 24
    assert summary["counts"] == EXPECTED_COUNTS
    assert set(summary) == {"digest", "format", "rows", "counts", "sources_used"}


def test_json_envelope_freshness_is_kept() -> None:
    snapshot = read_list(JSON_PATH)
    assert {item.source for item in snapshot.sources_used} == {
        entry.source_name for entry in snapshot.entries
    }
    assert all(item.last_updated for item in snapshot.sources_used)
    assert read_list(CSV_PATH).sources_used == ()


def test_entry_fields_multi_valued_cells_and_countries() -> None:
    entries = {entry.name: entry for entry in read_list(CSV_PATH).entries}
    zhenhua = entries["Zhenhua Qixing Microelectronics Co., Ltd."]
    assert zhenhua.source == "EL"
    assert zhenhua.source_name == EL
    # The Entity List joins values with "; and ": the "and" is not part of a value.
    assert zhenhua.alt_names == (
        "Qixing Microelectronics",
        "振华启星微电子有限公司",
        "Shenzhen QX Micro",
    )
    assert len(zhenhua.addresses) == 2
    assert zhenhua.addresses[1].startswith("Unit 5, 17/F")
    assert zhenhua.countries == ("CN", "HK")
    assert zhenhua.license_requirement is not None
    assert zhenhua.license_requirement.startswith("For all items subject to the EAR")
    assert zhenhua.names[0] == zhenhua.name

    vorontsova = entries["VORONTSOVA, Yelena Arkadyevna"]
    assert vorontsova.source == "SDN"
    assert vorontsova.entity_number == "61873"
    assert vorontsova.type == "Individual"
    assert vorontsova.programs == ("RUSSIA-EO14024",)
    assert vorontsova.countries == ("RU", "CY")
    assert "ВОРОНЦОВА, Елена Аркадьевна" in vorontsova.alt_names
    assert vorontsova.key == "SDN:61873"

    assert entries["Harlan D. Whitcombe"].end_date == "2035-03-02"
    assert entries["Pamir Lightwave Supply"].source == "UVL"
    meu = [entry for entry in entries.values() if entry.source == "MEU"]
    assert all(entry.license_policy and "744.21" in entry.license_policy for entry in meu)


def test_entry_to_json_is_plain_data() -> None:
    entry = read_list(CSV_PATH).entries[0]
    encoded = json.loads(json.dumps(entry.to_json(), ensure_ascii=False))
    assert encoded["source"] == "EL"
    assert encoded["alt_names"] == list(entry.alt_names)


def test_source_codes() -> None:
    for name, code in SOURCE_NAMES.items():
        assert source_code(name) == code
        assert source_code(f"  {name.upper()}  ") == code
    assert source_code("SDN") == "SDN"
    assert source_code("NS-MBS") == "MBS"
    assert source_code("Entity List (EL) - Department of Magic") is None
    assert source_code("Embargoed Wizards List") is None
    assert source_code("") is None


# --- tolerated variations ----------------------------------------------------------


def test_bom_eof_marker_blank_lines_and_reordered_columns_are_tolerated() -> None:
    header = ("name", "source", "_id", "alt_names")
    text = csv_text(GOOD_ROW, header=header)
    data = b"\xef\xbb\xbf" + text.replace("\n", "\r\n", 1).encode() + b"\n\n\x1a"
    snapshot = parse_list(data)
    assert snapshot.format == "csv"
    assert snapshot.entries == (
        ListEntry(record_id="a1", source="EL", source_name=EL, name="Example Trading Ltd"),
    )


def test_json_bare_list_and_string_cells() -> None:
    record = {
        "id": 7,
        "source": EL,
        "name": "Example Trading Ltd",
        "alt_names": "Example; and Example HK",
        "addresses": ["1 Main Road, Shenzhen, CN"],
        "programs": None,
    }
    snapshot = parse_list(json.dumps([record]).encode(), format="json")
    (entry,) = snapshot.entries
    assert entry.record_id == "7"
    assert entry.alt_names == ("Example", "Example HK")
    assert entry.countries == ("CN",)


def test_format_is_sniffed_and_checked() -> None:
    assert parse_list(csv_text(GOOD_ROW).encode()).format == "csv"
    assert parse_list(json.dumps({"results": [GOOD_ROW]}).encode()).format == "json"
    with pytest.raises(InputError, match="unknown list format"):
        parse_list(csv_text(GOOD_ROW).encode(), format="xlsx")


# --- refusals ----------------------------------------------------------------------


def test_missing_required_columns_are_refused_at_line_1() -> None:
    header = tuple(column for column in CSV_COLUMNS if column not in ("name", "source"))
    text = csv_text({"_id": "a1"}, header=header)
    with pytest.raises(InputError, match=r"line 1: missing required column\(s\): source, name"):
        parse_list(text.encode(), source="list.csv")


def test_row_with_wrong_number_of_cells_names_its_line() -> None:
    text = csv_text(GOOD_ROW, GOOD_ROW, GOOD_ROW)
    lines = text.splitlines()
    lines[3] = lines[3] + ',"extra"'
    with pytest.raises(InputError, match=r"list.csv: line 4: expected 29 cells") as raised:
        parse_list("\n".join(lines).encode(), source="list.csv")
    assert raised.value.hint is not None


def test_bad_quoting_names_its_line() -> None:
    text = csv_text(GOOD_ROW, GOOD_ROW) + '"a3","' + EL + '","","","","Bad "quote" name"\n'
    with pytest.raises(InputError, match=r"line 4.*malformed CSV"):
        parse_list(text.encode(), format="csv")


def test_multi_line_cells_count_physical_lines() -> None:
    multi = {**GOOD_ROW, "remarks": "first line\nsecond line"}
    bad = {**GOOD_ROW, "source": "Embargoed Wizards List"}
    text = csv_text(multi, bad)
    with pytest.raises(InputError, match=r"line 4: unknown source 'Embargoed Wizards List'"):
        parse_list(text.encode())


def test_unknown_source_is_refused() -> None:
    text = csv_text(GOOD_ROW, {**GOOD_ROW, "source": "Entity List (EL) - Department of Magic"})
    with pytest.raises(InputError, match="line 3: unknown source") as raised:
        parse_list(text.encode())
    assert raised.value.hint is not None
    assert "EL" in raised.value.hint


def test_empty_name_is_refused() -> None:
    text = csv_text(GOOD_ROW, {**GOOD_ROW, "name": "   "})
    with pytest.raises(InputError, match="line 3: empty name"):
        parse_list(text.encode())


def test_empty_file_and_list_without_records_are_refused() -> None:
    with pytest.raises(InputError, match="no CSV header"):
        parse_list(b"", format="csv")
    with pytest.raises(InputError, match="holds no records"):
        parse_list(csv_text().encode())
    with pytest.raises(InputError, match="holds no records"):
        parse_list(b'{"results": []}')


def test_invalid_utf8_names_its_line() -> None:
    data = csv_text(GOOD_ROW).encode() + b'"a2","' + EL.encode() + b'","","","","Bad \xff"\n'
    with pytest.raises(InputError, match="line 3: not valid UTF-8"):
        parse_list(data)


def test_invalid_json_names_line_and_column() -> None:
    with pytest.raises(InputError, match=r"not valid JSON: line 2 column \d+"):
        parse_list(b'{"results": [\n  {"id": "1",,}\n]}', format="json")


def test_bad_json_record_names_its_line() -> None:
    document = json.loads(JSON_PATH.read_text(encoding="utf-8"))
    document["results"][3]["source"] = "Embargoed Wizards List"
    text = json.dumps(document, ensure_ascii=False, indent=2)
    # With indent=2 every record of "results" opens on a line of its own.
    lines = text.splitlines()
    results_at = lines.index('  "results": [')
    starts = [number for number, line in enumerate(lines, 1) if line == "    {"]
    starts = [number for number in starts if number > results_at]
    with pytest.raises(InputError) as raised:
        parse_list(text.encode(), source="list.json")
    message = raised.value.message
    assert message.startswith(f"list.json: line {starts[3]}: record 4 (results[3])")
    assert "unknown source 'Embargoed Wizards List'" in message


def test_bad_record_in_a_compact_bare_list() -> None:
    records = [GOOD_ROW, {"_id": "a2", "source": EL, "name": ""}]
    with pytest.raises(InputError, match=r"line 1: record 2 \(records\[1\]\): empty name"):
        parse_list(json.dumps(records).encode())


def test_json_shapes_are_checked() -> None:
    with pytest.raises(InputError, match="without 'results'"):
        parse_list(b'{"items": []}')
    with pytest.raises(InputError, match="not a list of records"):
        parse_list(b'{"results": {"id": 1}}')
    with pytest.raises(InputError, match="not a JSON object"):
        parse_list(b'["just a string"]')
    with pytest.raises(InputError, match="must be a list of strings"):
        parse_list(json.dumps([{**GOOD_ROW, "alt_names": [1, 2]}]).encode())
    with pytest.raises(InputError, match="must be a string"):
        parse_list(json.dumps([{**GOOD_ROW, "name": ["A", "B"]}]).encode())


def test_a_page_of_a_search_is_not_a_list() -> None:
    page = {"total": 2500, "results": [GOOD_ROW]}
    with pytest.raises(InputError, match="partial result") as raised:
        parse_list(json.dumps(page).encode())
    assert raised.value.hint is not None


def test_read_list_reports_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the list"):
        read_list(tmp_path / "missing.csv")
    odd = tmp_path / "download.txt"
    odd.write_bytes(JSON_PATH.read_bytes())
    assert read_list(odd).format == "json"
