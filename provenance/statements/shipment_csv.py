"""Shipments from an exporter's ERP export: a CSV file, one line per shipment item.

The lines of one shipment repeat its shipment fields (`shipment_id` to
`license`); they need not be adjacent, but must agree exactly (after the
whitespace around cells and list values is stripped). Every shipment becomes a
statement *document* (a plain dict, as if read from YAML) that the pydantic
model validates later; this module checks only the shape of the file.

The first line is the header. Columns are named exactly as below, in any order;
an unknown column is an error, and so is a missing required one (a missing
optional column reads as empty).

=============  =========  ==============================================  ==================
column         required   meaning                                         example
=============  =========  ==============================================  ==================
shipment_id    yes        the shipment's id; lines with the same id are   ``SHP-2025-0042``
                          items of one shipment
exporter       yes        party id of the exporter                        ``acme-us``
consignee      yes        party id of the consignee                       ``acme-sg``
end_user       yes        party id of the end user                        ``dc-sg-1``
forwarder      no         party id of the freight forwarder (empty:       ``fastfreight``
                          none)
ship_date      yes        ISO date, YYYY-MM-DD                            ``2025-03-14``
destination    yes        final destination, ISO 3166-1 alpha-2           ``SG``
route          yes        countries in order, separated by ``;``          ``US;SG``
license        no         license id or exception code (empty: none)      ``D1234567``
product        yes        product id as declared                          ``h100-sxm5-80gb``
description    yes        the goods' description on the papers            ``GPU accelerator``
hs_code        yes        tariff code as declared                         ``8473.30.1180``
quantity       yes        number of units, a non-negative integer         ``2``
serials        yes        serial numbers, separated by ``;``              ``SN001;SN002``
unit_value     yes        value of one unit, a decimal                    ``30000.00``
currency       yes        ISO 4217 currency of ``unit_value``             ``USD``
=============  =========  ==============================================  ==================

Rules of reading:

* Whitespace around cells and around each ``;``-separated value is stripped;
  empty values of a list are dropped (``US; SG;`` is ``["US", "SG"]``).
* Cells may be quoted (RFC 4180), which lets them hold commas, quotes and line
  breaks. A UTF-8 byte order mark is accepted. Blank lines are ignored.
* Line numbers in errors are the file's physical lines, 1-based (the header is
  line 1); a record whose quoted cell spans lines is reported at its first line.
* Reading is all or nothing: the first problem raises `InputError`, e.g.
  ``shipments.csv line 7, column quantity: 'ten' is not an integer``.

Each shipment document is ``{"kind": "shipment", "id", "exporter", "consignee",
"end_user", ["forwarder"], "ship_date", "destination", "route": [...],
["license"], "items": [{"product", "description", "hs_code", "quantity": int,
"serials": [...], "unit_value": {"amount": str, "currency": str}}]}``, the
optional keys omitted when empty. Shipments come in order of first appearance,
their items in line order. Countries, dates, decimals and the agreement of
`quantity` with the serials are the model's business, not this module's.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from provenance.documents import display_name, read_bytes
from provenance.errors import InputError

SHIPMENT_COLUMNS: tuple[str, ...] = (
    "shipment_id",
    "exporter",
    "consignee",
    "end_user",
    "forwarder",
    "ship_date",
    "destination",
    "route",
    "license",
)
"""The columns every line of a shipment repeats."""

ITEM_COLUMNS: tuple[str, ...] = (
    "product",
    "description",
    "hs_code",
    "quantity",
    "serials",
    "unit_value",
    "currency",
)
"""The columns of one item (one line)."""

COLUMNS: tuple[str, ...] = SHIPMENT_COLUMNS + ITEM_COLUMNS
"""Every column, in the order `write_shipments_csv` writes them."""

OPTIONAL_COLUMNS: frozenset[str] = frozenset({"forwarder", "license"})

REQUIRED_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in OPTIONAL_COLUMNS)

LIST_SEPARATOR = ";"

MAX_CSV_BYTES = 256 * 1024 * 1024
"""The largest CSV file `read_shipments_csv` reads."""

_INTEGER = re.compile(r"[0-9]+")
_COLUMN_HINT = "the columns are: " + ", ".join(COLUMNS)


@dataclass(frozen=True, slots=True)
class ParsedShipment:
    """A shipment document and the lines of the file it was read from."""

    document: dict[str, Any]
    lines: tuple[int, ...]
    """Physical line numbers (where each record starts), ascending."""


def label(parsed: ParsedShipment, source: str) -> str:
    """Where a shipment came from: ``shipments.csv line 7``, ``lines 7-9``, ``lines 7, 12``."""
    lines = parsed.lines
    if not lines:
        return source
    if len(lines) == 1:
        return f"{source} line {lines[0]}"
    runs: list[str] = []
    start = previous = lines[0]
    for line in (*lines[1:], None):
        if line is not None and line == previous + 1:
            previous = line
            continue
        runs.append(str(start) if start == previous else f"{start}-{previous}")
        if line is not None:
            start = previous = line
    return f"{source} lines {', '.join(runs)}"


# --- reading ---------------------------------------------------------------------------


def read_shipments_csv(path: str | Path) -> list[ParsedShipment]:
    """Read and parse a shipments CSV file (``-``: standard input), strictly UTF-8."""
    name = display_name(path)
    data = read_bytes(path, limit=MAX_CSV_BYTES)
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{name} is not UTF-8 text (line {line}, byte {exc.start})") from exc
    return parse_shipments_csv(text, source=name)


def parse_shipments_csv(text: str, *, source: str = "<csv>") -> list[ParsedShipment]:
    """Parse the text of a shipments CSV file into shipment documents (all or nothing)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    records = _records(text, source)
    first = next(records, None)
    if first is None:
        raise _no_lines(source)
    header_line, header = first
    positions = _header(header, header_line, source)
    width = len(header)

    builders: dict[str, _Shipment] = {}
    for line, cells in records:
        if len(cells) != width:
            raise InputError(
                f"{source} line {line}: {len(cells)} cells, but the header has {width} columns"
            )
        values = {column: cells[i] for column, i in positions}
        for column in REQUIRED_COLUMNS:
            if not values[column]:
                raise InputError(
                    f"{source} line {line}, column {column}: empty, but the column is required"
                )
        shipment_id = values["shipment_id"]
        route = _split(values, "route", "countries", line, source)
        shipment = builders.get(shipment_id)
        if shipment is None:
            builders[shipment_id] = shipment = _Shipment(line, values, route)
        else:
            shipment.check_agrees(line, values, route, source)
        shipment.add(line, _item(values, line, source))

    if not builders:
        raise _no_lines(source)
    return [shipment.parsed() for shipment in builders.values()]


def _no_lines(source: str) -> InputError:
    return InputError(
        f"{source}: no shipment lines",
        hint="the first line is the header, then one line per shipment item",
    )


def _records(text: str, source: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV records, stripped, with the physical line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, skipinitialspace=True)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(f"{source} line {start}: malformed CSV: {exc}") from exc
        line = start
        start = reader.line_num + 1
        cells = [cell.strip() for cell in row]
        if any(cells):
            yield line, cells


def _header(header: list[str], line: int, source: str) -> list[tuple[str, int]]:
    """(column, cell index) of every column, missing optional columns left out."""
    positions: dict[str, int] = {}
    unknown: list[str] = []
    for i, name in enumerate(header):
        if not name:
            raise InputError(
                f"{source} line {line}: header cell {i + 1} is empty (every column needs a name)",
                hint=_COLUMN_HINT,
            )
        if name in positions:
            raise InputError(f"{source} line {line}: column {name} appears twice in the header")
        if name not in COLUMNS:
            unknown.append(name)
        positions[name] = i
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise InputError(
            f"{source} line {line}: unknown column{plural} {names} in the header",
            hint=_COLUMN_HINT,
        )
    missing = [column for column in REQUIRED_COLUMNS if column not in positions]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise InputError(
            f"{source} line {line}: the header lacks the required column{plural} "
            + ", ".join(missing),
            hint=_COLUMN_HINT,
        )
    return [(column, positions[column]) for column in COLUMNS if column in positions]


def _split(values: dict[str, str], column: str, what: str, line: int, source: str) -> list[str]:
    cell = values[column]
    if LIST_SEPARATOR not in cell:
        return [cell]
    parts = [part.strip() for part in cell.split(LIST_SEPARATOR)]
    listed = [part for part in parts if part]
    if not listed:
        raise InputError(
            f"{source} line {line}, column {column}: {cell!r} lists no {what} "
            f"(separate them with {LIST_SEPARATOR!r})"
        )
    return listed


def _item(values: dict[str, str], line: int, source: str) -> dict[str, Any]:
    text = values["quantity"]
    if not _INTEGER.fullmatch(text):
        raise InputError(f"{source} line {line}, column quantity: {text!r} is not an integer")
    try:
        quantity = int(text)
    except ValueError as exc:  # over the interpreter's limit on digits
        raise InputError(f"{source} line {line}, column quantity: too large") from exc
    return {
        "product": values["product"],
        "description": values["description"],
        "hs_code": values["hs_code"],
        "quantity": quantity,
        "serials": _split(values, "serials", "serial numbers", line, source),
        "unit_value": {"amount": values["unit_value"], "currency": values["currency"]},
    }


class _Shipment:
    """A shipment being gathered from its lines."""

    __slots__ = ("document", "first_line", "items", "lines", "route", "values")

    def __init__(self, line: int, values: dict[str, str], route: list[str]) -> None:
        self.first_line = line
        self.values = values
        self.route = route
        self.lines: list[int] = []
        self.items: list[dict[str, Any]] = []
        document: dict[str, Any] = {
            "kind": "shipment",
            "id": values["shipment_id"],
            "exporter": values["exporter"],
            "consignee": values["consignee"],
            "end_user": values["end_user"],
        }
        if values.get("forwarder"):
            document["forwarder"] = values["forwarder"]
        document["ship_date"] = values["ship_date"]
        document["destination"] = values["destination"]
        document["route"] = route
        if values.get("license"):
            document["license"] = values["license"]
        document["items"] = self.items
        self.document = document

    def check_agrees(
        self, line: int, values: dict[str, str], route: list[str], source: str
    ) -> None:
        for column in SHIPMENT_COLUMNS:
            value = values.get(column, "")
            earlier = self.values.get(column, "")
            if value == earlier or (column == "route" and route == self.route):
                continue
            raise InputError(
                f"{source} line {line}, column {column}: {value!r} disagrees with "
                f"{earlier!r} on line {self.first_line} (every line of shipment "
                f"{values['shipment_id']!r} must repeat its shipment fields)"
            )

    def add(self, line: int, item: dict[str, Any]) -> None:
        self.lines.append(line)
        self.items.append(item)

    def parsed(self) -> ParsedShipment:
        return ParsedShipment(document=self.document, lines=tuple(self.lines))


# --- writing ---------------------------------------------------------------------------


def write_shipments_csv(documents: Iterable[dict[str, Any]], out: TextIO) -> None:
    """Write shipment documents as a shipments CSV file (what the parser reads back).

    Lines end in CRLF (RFC 4180), so open a file `out` with ``newline=""``.
    Nothing is written unless every document can be: a document without items,
    a shipment id given twice, a required field missing or empty, or a list
    value that is empty, padded with whitespace or holds a ``;`` raise
    `InputError`.
    """
    rows: list[list[str]] = [list(COLUMNS)]
    seen: set[str] = set()
    for number, document in enumerate(documents, 1):
        where = f"shipment document {number}"
        shipment = [
            _text(document.get("id"), where, "id"),
            _text(document.get("exporter"), where, "exporter"),
            _text(document.get("consignee"), where, "consignee"),
            _text(document.get("end_user"), where, "end_user"),
            _text(document.get("forwarder"), where, "forwarder", required=False),
            _text(document.get("ship_date"), where, "ship_date"),
            _text(document.get("destination"), where, "destination"),
            _joined(document.get("route"), where, "route"),
            _text(document.get("license"), where, "license", required=False),
        ]
        if shipment[0] in seen:
            raise InputError(f"{where}: shipment {shipment[0]!r} is listed twice")
        seen.add(shipment[0])
        items = document.get("items")
        if not isinstance(items, list) or not items:
            raise InputError(f"{where}: items must be a non-empty list")
        for i, item in enumerate(items):
            at = f"{where}, items[{i}]"
            if not isinstance(item, dict):
                raise InputError(f"{at}: must be a mapping")
            unit_value = item.get("unit_value")
            if not isinstance(unit_value, dict):
                raise InputError(f"{at}: unit_value must be a mapping (amount, currency)")
            quantity = item.get("quantity")
            if isinstance(quantity, bool) or not isinstance(quantity, int):
                raise InputError(f"{at}: quantity must be an integer")
            rows.append(
                [
                    *shipment,
                    _text(item.get("product"), at, "product"),
                    _text(item.get("description"), at, "description"),
                    _text(item.get("hs_code"), at, "hs_code"),
                    str(quantity),
                    _joined(item.get("serials"), at, "serials"),
                    _text(unit_value.get("amount"), at, "unit_value.amount"),
                    _text(unit_value.get("currency"), at, "unit_value.currency"),
                ]
            )
    csv.writer(out).writerows(rows)


def _text(value: object, where: str, field: str, *, required: bool = True) -> str:
    if isinstance(value, (dict, list, tuple, set, bool)):
        raise InputError(f"{where}: {field} must be text, not {type(value).__name__}")
    text = "" if value is None else str(value)
    if required and not text.strip():
        raise InputError(f"{where}: {field} is missing or empty")
    return text


def _joined(values: object, where: str, field: str) -> str:
    if not isinstance(values, (list, tuple)):
        raise InputError(f"{where}: {field} must be a list")
    texts: list[str] = []
    for value in values:
        text = _text(value, where, field, required=False)
        if not text or text != text.strip() or LIST_SEPARATOR in text:
            raise InputError(
                f"{where}: {field} value {text!r} cannot be written "
                f"(empty, padded with whitespace, or holding {LIST_SEPARATOR!r})"
            )
        texts.append(text)
    if not texts:
        raise InputError(f"{where}: {field} must list at least one value")
    return LIST_SEPARATOR.join(texts)
