"""The U.S. Consolidated Screening List (CSL) as users download it from trade.gov.

Two forms are read, both as published by the International Trade Administration:

* CSV, 29 columns (`_id, source, entity_number, type, programs, name, ...,
  source_information_url, ids`, `CSV_COLUMNS`). Columns are read by header
  name because they have been reordered, added and removed over time; only
  `source`, `name` and a record id (`_id`, or `id`) are required. Multi-valued
  cells (alternate names, programs, addresses, nationalities, ...) hold
  `;`-separated values; the "and " the Entity List writes after its separators
  ("...; and 21 Changsheng Road, ...") is not part of a value. A UTF-8
  byte-order mark and the trailing 0x1A end-of-file character some downloads
  carry are tolerated.
* JSON: the bulk file or the search API envelope (`{"results": [...]}`, with
  `total` and `sources_used` beside it) or a bare list of records. Multi-valued
  fields are arrays, `addresses` is an array of `{address, city, state,
  postal_code, country}` objects and the record id is `id`. An envelope whose
  `total` exceeds its records is one page of a search, and is refused.

The `source` field holds the full name of the source list ("Entity List (EL) -
Bureau of Industry and Security"); it is mapped to its short code (EL, UVL, MEU,
DPL, ISN, DTC, SDN, SSI, FSE, CAP, CMIC, MBS, PLC). A source that is none of the
13 is refused rather than guessed.

Parsing is all or nothing: a malformed file (bad quoting, a row with the wrong
number of cells, invalid UTF-8 or JSON, a missing required column, an unknown
source, an empty name, no records at all) raises `InputError` naming the
physical line (for a JSON record, the line where the record starts); nothing
partial is returned. The snapshot's digest is the SHA-256 of the file bytes as
given, so an identical download is recognised; `ScreeningList.summary()` gives
the digest, the row count and the row counts per source list that a stored
snapshot records.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from provenance.crypto.canonical import sha256_hex
from provenance.documents import loads_json
from provenance.errors import InputError
from provenance.screening.countries import country_code

ListFormat = Literal["csv", "json"]

#: The published header of the CSV download, in its published order.
CSV_COLUMNS: tuple[str, ...] = (
    "_id",
    "source",
    "entity_number",
    "type",
    "programs",
    "name",
    "title",
    "addresses",
    "federal_register_notice",
    "start_date",
    "end_date",
    "standard_order",
    "license_requirement",
    "license_policy",
    "call_sign",
    "vessel_type",
    "gross_tonnage",
    "gross_registered_tonnage",
    "vessel_flag",
    "vessel_owner",
    "remarks",
    "source_list_url",
    "alt_names",
    "citizenships",
    "dates_of_birth",
    "nationalities",
    "places_of_birth",
    "source_information_url",
    "ids",
)

#: Full source-list names as the CSL writes them, and their short codes.
SOURCE_NAMES: Mapping[str, str] = {
    "Entity List (EL) - Bureau of Industry and Security": "EL",
    "Unverified List (UVL) - Bureau of Industry and Security": "UVL",
    "Military End User (MEU) List - Bureau of Industry and Security": "MEU",
    "Denied Persons List (DPL) - Bureau of Industry and Security": "DPL",
    "Nonproliferation Sanctions (ISN) - State Department": "ISN",
    "ITAR Debarred (DTC) - State Department": "DTC",
    "Specially Designated Nationals (SDN) - Treasury Department": "SDN",
    "Sectoral Sanctions Identifications List (SSI) - Treasury Department": "SSI",
    "Foreign Sanctions Evaders (FSE) - Treasury Department": "FSE",
    "Capta List (CAP) - Treasury Department": "CAP",
    "Non-SDN Chinese Military-Industrial Complex Companies List (CMIC) - Treasury Department": (
        "CMIC"
    ),
    "Non-SDN Menu-Based Sanctions List (NS-MBS List) - Treasury Department": "MBS",
    "Palestinian Legislative Council List (PLC) - Treasury Department": "PLC",
}

#: The 13 short codes, and the agency that publishes each.
SOURCE_AGENCIES: Mapping[str, str] = {
    "EL": "Bureau of Industry and Security",
    "UVL": "Bureau of Industry and Security",
    "MEU": "Bureau of Industry and Security",
    "DPL": "Bureau of Industry and Security",
    "ISN": "State Department",
    "DTC": "State Department",
    "SDN": "Treasury Department",
    "SSI": "Treasury Department",
    "FSE": "Treasury Department",
    "CAP": "Treasury Department",
    "CMIC": "Treasury Department",
    "MBS": "Treasury Department",
    "PLC": "Treasury Department",
}

_CODE_ALIASES = {"NS-MBS": "MBS", "CAPTA": "CAP"}
_FOLDED_NAMES = {" ".join(k.split()).casefold(): v for k, v in SOURCE_NAMES.items()}
# "<title> (<CODE>[ List]) [List] - <agency>": tolerates retitled lists whose
# code and agency are the known ones.
_SOURCE_SHAPE = re.compile(
    r"\((?P<code>[A-Za-z-]{2,6})(?: list)?\)[^()]*-\s*(?P<agency>[^-]+)$", re.IGNORECASE
)

_MULTI_VALUED = (
    "alt_names",
    "programs",
    "addresses",
    "nationalities",
    "citizenships",
)
_SCALARS = (
    "entity_number",
    "type",
    "license_requirement",
    "license_policy",
    "federal_register_notice",
    "start_date",
    "end_date",
    "source_list_url",
    "source_information_url",
    "remarks",
)
_ADDRESS_PARTS = ("address", "city", "state", "postal_code", "country")


def source_code(value: str) -> str | None:
    """The short code of a CSL source name (or of a code itself), else None."""
    folded = " ".join(value.split())
    if not folded:
        return None
    found = _FOLDED_NAMES.get(folded.casefold())
    if found is not None:
        return found
    upper = folded.upper()
    upper = _CODE_ALIASES.get(upper, upper)
    if upper in SOURCE_AGENCIES:
        return upper
    shape = _SOURCE_SHAPE.search(folded)
    if shape is None:
        return None
    code = shape.group("code").upper()
    code = _CODE_ALIASES.get(code, code)
    agency = SOURCE_AGENCIES.get(code)
    if agency is not None and shape.group("agency").strip().casefold() == agency.casefold():
        return code
    return None


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One record of a screening list: a party and why it is listed."""

    record_id: str
    source: str
    source_name: str
    name: str
    entity_number: str | None = None
    type: str | None = None
    alt_names: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()
    license_requirement: str | None = None
    license_policy: str | None = None
    federal_register_notice: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    source_list_url: str | None = None
    source_information_url: str | None = None
    remarks: str | None = None

    @property
    def key(self) -> str:
        """`source:record_id`, unique within a list (entity numbers are not)."""
        return f"{self.source}:{self.record_id}"

    @property
    def names(self) -> tuple[str, ...]:
        """The name followed by every alternate name."""
        return (self.name, *self.alt_names)

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON-ready object (tuples become lists)."""
        return {
            "record_id": self.record_id,
            "source": self.source,
            "source_name": self.source_name,
            "entity_number": self.entity_number,
            "type": self.type,
            "name": self.name,
            "alt_names": list(self.alt_names),
            "addresses": list(self.addresses),
            "countries": list(self.countries),
            "programs": list(self.programs),
            "license_requirement": self.license_requirement,
            "license_policy": self.license_policy,
            "federal_register_notice": self.federal_register_notice,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "source_list_url": self.source_list_url,
            "source_information_url": self.source_information_url,
            "remarks": self.remarks,
        }


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    """When the publisher last updated one source list (JSON `sources_used`)."""

    source: str
    last_updated: str | None


@dataclass(frozen=True, slots=True)
class ScreeningList:
    """A parsed snapshot of the list: its digest, form and entries.

    `digest` is the lowercase hex SHA-256 of the file bytes exactly as given,
    so the same download imported twice is recognised. `sources_used` is the
    freshness data of the JSON envelope, empty for CSV.
    """

    digest: str
    format: ListFormat
    entries: tuple[ListEntry, ...]
    sources_used: tuple[SourceFreshness, ...] = ()

    def __len__(self) -> int:
        return len(self.entries)

    def counts(self) -> dict[str, int]:
        """Number of entries per source code, codes in alphabetical order."""
        counted = Counter(entry.source for entry in self.entries)
        return {code: counted[code] for code in sorted(counted)}

    def summary(self) -> dict[str, Any]:
        """Digest, form and row counts: what a stored snapshot records."""
        return {
            "digest": self.digest,
            "format": self.format,
            "rows": len(self.entries),
            "counts": self.counts(),
            "sources_used": [
                {"source": item.source, "last_updated": item.last_updated}
                for item in self.sources_used
            ],
        }

    def to_json(self) -> dict[str, Any]:
        """The snapshot as a JSON-ready object."""
        return {**self.summary(), "entries": [entry.to_json() for entry in self.entries]}


def parse_list(data: bytes, *, format: str | None = None, source: str = "<input>") -> ScreeningList:
    """Parse a CSL download (CSV or JSON bytes) into a `ScreeningList`.

    `format` is "csv" or "json"; None sniffs it from the first non-blank
    character. `source` names the input in error messages (a path, say).
    Raises InputError for anything malformed; never returns a partial list.
    """
    raw = bytes(data)
    text = _decode(raw, source)
    chosen = _choose_format(text, format, source)
    freshness: tuple[SourceFreshness, ...] = ()
    if chosen == "csv":
        entries = _parse_csv(text, source)
    else:
        entries, freshness = _parse_json(text, source)
    if not entries:
        raise InputError(
            f"{source}: the list holds no records",
            hint="a CSL download holds thousands of records; check the file",
        )
    return ScreeningList(
        digest=sha256_hex(raw), format=chosen, entries=entries, sources_used=freshness
    )


def read_list(path: str | os.PathLike[str], *, format: str | None = None) -> ScreeningList:
    """`parse_list` of a file; InputError when it cannot be read.

    Without `format`, a `.json` or `.csv` suffix decides, else the content.
    """
    location = os.fspath(path)
    if format is None:
        suffix = os.path.splitext(location)[1].lower()
        format = {".json": "json", ".csv": "csv"}.get(suffix)
    try:
        with open(location, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise InputError(f"{location}: cannot read the list: {exc.strerror or exc}") from exc
    return parse_list(data, format=format, source=location)


# --- shared ---------------------------------------------------------------------


def _decode(raw: bytes, source: str) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{source}: line {line}: not valid UTF-8 (byte offset {exc.start})",
            hint="the CSL downloads are UTF-8; re-download or convert the file",
        ) from exc
    # Some downloads end with the DOS end-of-file character (0x1A).
    stripped = text.rstrip()
    while stripped.endswith("\x1a"):
        stripped = stripped[:-1].rstrip()
    return stripped


def _choose_format(text: str, format: str | None, source: str) -> ListFormat:
    if format is None:
        return "json" if text.lstrip()[:1] in ("{", "[") else "csv"
    lowered = format.lower()
    if lowered == "csv":
        return "csv"
    if lowered == "json":
        return "json"
    raise InputError(f"{source}: unknown list format {format!r}", hint="use 'csv' or 'json'")


def _clean(value: str) -> str | None:
    value = value.strip()
    return value or None


def _split(cell: str) -> tuple[str, ...]:
    parts = (_strip_joiner(piece) for piece in cell.split(";"))
    return tuple(part for part in parts if part)


def _strip_joiner(value: str) -> str:
    """A value without the "and " the Entity List puts after its `;` separators."""
    value = value.strip()
    if value.startswith("and "):
        value = value[4:].lstrip()
    return value


def _countries(addresses: Iterable[str], codes: Iterable[str]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for address in addresses:
        code = country_code(address.rsplit(",", 1)[-1])
        if code is not None:
            found[code] = None
    for value in codes:
        code = country_code(value)
        if code is not None:
            found[code] = None
    return tuple(found)


def _entry(
    *,
    where: str,
    record_id: str | None,
    source_value: str | None,
    name: str | None,
    scalars: Mapping[str, str | None],
    multi: Mapping[str, tuple[str, ...]],
) -> ListEntry:
    if source_value is None:
        raise InputError(f"{where}: empty source")
    code = source_code(source_value)
    if code is None:
        raise InputError(
            f"{where}: unknown source {source_value!r}",
            hint="expected one of the 13 CSL source lists: " + ", ".join(SOURCE_AGENCIES),
        )
    if record_id is None:
        raise InputError(f"{where}: empty record id")
    if name is None:
        raise InputError(f"{where}: empty name")
    addresses = multi["addresses"]
    return ListEntry(
        record_id=record_id,
        source=code,
        source_name=source_value,
        name=name,
        alt_names=multi["alt_names"],
        addresses=addresses,
        countries=_countries(addresses, multi["nationalities"] + multi["citizenships"]),
        programs=multi["programs"],
        entity_number=scalars["entity_number"],
        type=scalars["type"],
        license_requirement=scalars["license_requirement"],
        license_policy=scalars["license_policy"],
        federal_register_notice=scalars["federal_register_notice"],
        start_date=scalars["start_date"],
        end_date=scalars["end_date"],
        source_list_url=scalars["source_list_url"],
        source_information_url=scalars["source_information_url"],
        remarks=scalars["remarks"],
    )


# --- CSV ------------------------------------------------------------------------


def _parse_csv(text: str, source: str) -> tuple[ListEntry, ...]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    entries: list[ListEntry] = []
    header: list[str] | None = None
    columns: dict[str, int] = {}
    last_line = 0
    try:
        for row in reader:
            start, last_line = last_line + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line
            if header is None:
                header, columns = _read_header(row, source)
                continue
            where = f"{source}: line {start}"
            if len(row) != len(header):
                raise InputError(
                    f"{where}: expected {len(header)} cells as in the header, found {len(row)}",
                    hint="a cell with a comma or a quote must be enclosed in double quotes",
                )
            entries.append(_csv_entry(row, columns, where))
    except csv.Error as exc:
        raise InputError(
            f"{source}: line {reader.line_num}: malformed CSV (record starting at line "
            f"{last_line + 1}): {exc}",
            hint="check the quoting: a quote inside a cell is written as two quotes",
        ) from exc
    if header is None:
        raise InputError(f"{source}: empty file: no CSV header")
    return tuple(entries)


def _read_header(row: list[str], source: str) -> tuple[list[str], dict[str, int]]:
    header = [cell.strip() for cell in row]
    columns: dict[str, int] = {}
    for index, column in enumerate(header):
        if column in columns:
            raise InputError(f"{source}: line 1: duplicate column {column!r} in the header")
        columns[column] = index
    missing = [column for column in ("source", "name") if column not in columns]
    if "_id" not in columns and "id" not in columns:
        missing.append("_id")
    if missing:
        raise InputError(
            f"{source}: line 1: missing required column(s): {', '.join(missing)}",
            hint="the CSL CSV header starts: " + ",".join(CSV_COLUMNS[:6]) + ",...",
        )
    return header, columns


def _csv_entry(row: list[str], columns: Mapping[str, int], where: str) -> ListEntry:
    def cell(column: str) -> str:
        index = columns.get(column)
        return "" if index is None else row[index]

    id_column = "_id" if "_id" in columns else "id"
    return _entry(
        where=where,
        record_id=_clean(cell(id_column)),
        source_value=_clean(cell("source")),
        name=_clean(cell("name")),
        scalars={column: _clean(cell(column)) for column in _SCALARS},
        multi={column: _split(cell(column)) for column in _MULTI_VALUED},
    )


# --- JSON -----------------------------------------------------------------------


def _parse_json(
    text: str, source: str
) -> tuple[tuple[ListEntry, ...], tuple[SourceFreshness, ...]]:
    document = loads_json(text, source)
    enveloped = isinstance(document, dict)
    freshness: tuple[SourceFreshness, ...] = ()
    if isinstance(document, dict):
        if "results" not in document:
            raise InputError(
                f"{source}: JSON object without 'results'",
                hint="expected the CSL bulk file, a search response or a list of records",
            )
        records, label = document["results"], "results"
        freshness = _sources_used(document.get("sources_used"))
    else:
        records, label = document, "records"
    if not isinstance(records, list):
        raise InputError(f"{source}: {label} is not a list of records")
    if isinstance(document, dict):
        total = document.get("total")
        if isinstance(total, int) and not isinstance(total, bool) and total > len(records):
            raise InputError(
                f"{source}: a partial result: 'total' is {total} but 'results' holds "
                f"{len(records)} records",
                hint="this is one page of a search; download the whole list "
                "(consolidated.json or consolidated.csv)",
            )
    entries: list[ListEntry] = []
    for index, record in enumerate(records):
        try:
            entries.append(_json_entry(record, f"record {index + 1} ({label}[{index}])"))
        except InputError as exc:
            line = _record_line(text, enveloped, index)
            where = f"{source}: line {line}" if line is not None else source
            raise InputError(f"{where}: {exc.message}", hint=exc.hint) from exc
    return tuple(entries), freshness


def _sources_used(value: object) -> tuple[SourceFreshness, ...]:
    """The envelope's freshness data; anything not shaped as published is ignored."""
    if not isinstance(value, list):
        return ()
    found: list[SourceFreshness] = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("source"), str):
            updated = item.get("source_last_updated")
            found.append(
                SourceFreshness(
                    source=item["source"],
                    last_updated=updated if isinstance(updated, str) else None,
                )
            )
    return tuple(found)


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _record_line(text: str, enveloped: bool, index: int) -> int | None:
    """The 1-based line where record `index` starts (for error messages only).

    Walks the document with the standard decoder's `raw_decode`, member by
    member, so it costs one more parse and is only run when a record is bad.
    """
    decoder = json.JSONDecoder()

    def skip(position: int) -> int:
        found = _JSON_SPACE.match(text, position)
        return position if found is None else found.end()

    try:
        position = skip(0)
        if enveloped:
            array_at: int | None = None
            position = skip(position + 1)  # past "{"
            while text[position] != "}":
                key, position = decoder.raw_decode(text, position)
                position = skip(skip(position) + 1)  # past ":"
                if key == "results":
                    array_at = position  # the last one wins, as in json.loads
                _, position = decoder.raw_decode(text, position)
                position = skip(position)
                if text[position] == ",":
                    position = skip(position + 1)
            if array_at is None:
                return None
            position = array_at
        position = skip(position + 1)  # past "["
        for _ in range(index):
            _, position = decoder.raw_decode(text, position)
            position = skip(skip(position) + 1)  # past ","
        return text.count("\n", 0, position) + 1
    except (ValueError, IndexError):
        return None


def _json_entry(record: object, where: str) -> ListEntry:
    if not isinstance(record, dict):
        raise InputError(f"{where}: not a JSON object")
    id_field = "id" if "id" in record else "_id"
    multi = {
        field: _json_list(record.get(field), where, field)
        for field in _MULTI_VALUED
        if field != "addresses"
    }
    multi["addresses"] = _json_addresses(record.get("addresses"), where)
    return _entry(
        where=where,
        record_id=_json_scalar(record.get(id_field), where, id_field),
        source_value=_json_scalar(record.get("source"), where, "source"),
        name=_json_scalar(record.get("name"), where, "name"),
        scalars={field: _json_scalar(record.get(field), where, field) for field in _SCALARS},
        multi=multi,
    )


def _json_scalar(value: object, where: str, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InputError(f"{where}: field {field!r} must be a string, got {type(value).__name__}")


def _json_list(value: object, where: str, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return _split(value)
    if not isinstance(value, list):
        raise InputError(f"{where}: field {field!r} must be a list of strings")
    items: list[str] = []
    for item in value:
        if item is None:
            continue
        if not isinstance(item, str):
            raise InputError(f"{where}: field {field!r} must be a list of strings")
        cleaned = _clean(item)
        if cleaned is not None:
            items.append(_strip_joiner(cleaned))
    return tuple(items)


def _json_addresses(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return _split(value)
    if not isinstance(value, list):
        raise InputError(f"{where}: field 'addresses' must be a list")
    rendered: list[str] = []
    for item in value:
        if item is None:
            continue
        if isinstance(item, str):
            text = _clean(item)
        elif isinstance(item, dict):
            parts = [
                _json_scalar(item.get(part), where, f"addresses.{part}") for part in _ADDRESS_PARTS
            ]
            text = ", ".join(part for part in parts if part) or None
        else:
            raise InputError(f"{where}: each address must be an object or a string")
        if text is not None:
            rendered.append(text)
    return tuple(rendered)
