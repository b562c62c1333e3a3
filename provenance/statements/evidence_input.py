"""Documents for the evidence kinds (`lab-test`, `kyc`, `location`) from what their
signers have: a YAML/JSON document, recorded `nvidia-smi -q -x` output, or a CSV file.

A lab-test document may give the figures the lab measured once (`measured`: the same
for every device) and leave the identities to the nvidia-smi files it recorded: each
GPU those files list, by its serial, becomes one result with the identity the driver
reported (product name, serial, UUID, PCI device id), and the file is kept by its
SHA-256 in `evidence`. A `results` entry for a serial overrides `measured` for it.

CSV files (a header line, then one record a line; cells may be quoted, a UTF-8 BOM is
accepted, blank lines are skipped; whitespace around cells is stripped):

* `lab-test`: columns `product, date, country, facility, serial, product_name,
  pci_device_id, uuid, dtype, bits, tops, memory_bandwidth_gbps` (`pci_device_id` and
  `uuid` may be empty). Rows with the same product, date, country and facility make
  one statement.
* `kyc`: one statement a row: `party, date, valid_from, valid_until,
  authorised_users, remote_access, users_identified, remote_access_authenticated,
  access_logged, no_d5_hq_training` (the last four `true` or `false`).
* `location`: one measurement a row: `landmark, serial, nonce, rtt_ms, measured_at,
  product_name, pci_device_id, uuid`.

This module builds plain documents (dicts) and checks only the file's shape; the
models validate the values (a malformed round-trip time is the model's error, exit 2).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from provenance.errors import InputError
from provenance.statements.inspection import SmiReport

COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "lab-test": (
        (
            "product",
            "date",
            "country",
            "facility",
            "serial",
            "product_name",
            "dtype",
            "bits",
            "tops",
            "memory_bandwidth_gbps",
        ),
        ("pci_device_id", "uuid"),
    ),
    "kyc": (
        (
            "party",
            "date",
            "valid_from",
            "valid_until",
            "authorised_users",
            "remote_access",
            "users_identified",
            "remote_access_authenticated",
            "access_logged",
            "no_d5_hq_training",
        ),
        (),
    ),
    "location": (
        ("landmark", "serial", "nonce", "rtt_ms", "measured_at", "product_name"),
        ("pci_device_id", "uuid"),
    ),
}
"""Per kind: (required columns, optional columns)."""

_BOOLEANS = {"true": True, "false": False, "yes": True, "no": False}


def lab_test_document(
    document: dict[str, Any], reports: list[tuple[str, SmiReport]]
) -> dict[str, Any]:
    """A lab-test document with the identities of the GPUs in the recorded nvidia-smi
    files (`(file name, parsed report)`), and those files as evidence."""
    doc = dict(document)
    doc.setdefault("kind", "lab-test")
    measured = doc.pop("measured", None)
    given = doc.get("results") or []
    if not isinstance(given, list):
        raise InputError("lab-test: results must be a list")
    by_serial: dict[str, dict[str, Any]] = {}
    for i, result in enumerate(given):
        if not isinstance(result, dict) or not result.get("serial"):
            raise InputError(f"lab-test: results[{i}] needs a serial")
        by_serial[str(result["serial"])] = result
    results: list[dict[str, Any]] = []
    used: set[str] = set()
    evidence = list(doc.get("evidence") or [])
    for name, report in reports:
        evidence.append(
            {"file": name, "sha256": report.digest}
            | ({"driver_version": report.driver_version} if report.driver_version else {})
        )
        for device in report.devices:
            if device.serial is None:
                raise InputError(
                    f"{name}: GPU #{device.index} ({device.product_name}) reports no serial: "
                    "a lab test is per serial"
                )
            if device.serial in used:
                raise InputError(f"{name}: serial {device.serial!r} appears twice in the evidence")
            used.add(device.serial)
            identity: dict[str, Any] = {
                "product_name": device.product_name,
                "serial": device.serial,
            }
            for field in ("uuid", "pci_device_id", "board_part_number"):
                value = getattr(device, field)
                if value:
                    identity[field] = value
            figures = by_serial.get(device.serial) or measured
            if not isinstance(figures, dict):
                raise InputError(
                    f"lab-test: no measured figures for serial {device.serial!r}",
                    hint="give `measured: {performance, memory_bandwidth_gbps}` or a results entry",
                )
            result = {
                "serial": device.serial,
                "performance": figures.get("performance"),
                "memory_bandwidth_gbps": figures.get("memory_bandwidth_gbps"),
                "identity": identity,
            }
            results.append(result)
    if reports:
        missing = sorted(set(by_serial) - used)
        if missing:
            raise InputError(
                f"lab-test: results name serial {missing[0]!r}, which no nvidia-smi file lists",
                hint="the identity of each tested serial comes from its recorded nvidia-smi output",
            )
        doc["results"] = results
        doc["evidence"] = evidence
    elif measured is not None:
        raise InputError(
            "lab-test: `measured` applies to the GPUs of nvidia-smi files, and none was given",
            hint="pass --nvidia-smi XML (repeat for several hosts)",
        )
    return doc


def parse_csv(kind: str, text: str, *, source: str = "<csv>") -> list[dict[str, Any]]:
    """Statement documents of `kind` from a CSV file's text (all or nothing)."""
    if kind not in COLUMNS:
        raise InputError(f"no CSV input for {kind!r} (only {', '.join(COLUMNS)})")
    required, optional = COLUMNS[kind]
    rows = _rows(text, source, required, optional)
    if kind == "kyc":
        return [_kyc(values, line, source) for line, values in rows]
    if kind == "location":
        return [_location(values) for _, values in rows]
    return _lab_tests(rows, source)


def _rows(
    text: str, source: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> list[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    out: list[tuple[int, dict[str, str]]] = []
    header: list[str] | None = None
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            cells = [cell.strip() for cell in record]
            if header is None:
                header = cells
                unknown = [c for c in header if c not in required and c not in optional]
                if unknown:
                    raise InputError(f"{source} line {line}: unknown column {unknown[0]!r}")
                absent = [c for c in required if c not in header]
                if absent:
                    raise InputError(f"{source} line {line}: the column {absent[0]!r} is missing")
                if len(set(header)) != len(header):
                    raise InputError(f"{source} line {line}: a column is named twice")
                continue
            if len(cells) != len(header):
                raise InputError(
                    f"{source} line {line}: {len(cells)} cells, the header has {len(header)}"
                )
            values = dict(zip(header, cells, strict=True))
            for column in required:
                if not values[column]:
                    raise InputError(f"{source} line {line}, column {column}: empty")
            out.append((line, values))
    except csv.Error as exc:
        raise InputError(f"{source}: not a readable CSV file ({exc})") from None
    if not out:
        raise InputError(f"{source}: no records after the header")
    return out


def _identity(values: dict[str, str], serial: str) -> dict[str, Any]:
    identity: dict[str, Any] = {"product_name": values["product_name"], "serial": serial}
    for field in ("pci_device_id", "uuid"):
        if values.get(field):
            identity[field] = values[field]
    return identity


def _integer(value: str, line: int, column: str, source: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise InputError(f"{source} line {line}, column {column}: {value!r} is not an integer")
    return int(value)


def _lab_tests(rows: list[tuple[int, dict[str, str]]], source: str) -> list[dict[str, Any]]:
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for line, v in rows:
        key = (v["product"], v["date"], v["country"], v["facility"])
        doc = groups.setdefault(
            key,
            {
                "kind": "lab-test",
                "product": v["product"],
                "date": v["date"],
                "country": v["country"],
                "facility": v["facility"],
                "results": [],
            },
        )
        doc["results"].append(
            {
                "serial": v["serial"],
                "identity": _identity(v, v["serial"]),
                "performance": [
                    {
                        "dtype": v["dtype"],
                        "bits": _integer(v["bits"], line, "bits", source),
                        "tops": v["tops"],
                    }
                ],
                "memory_bandwidth_gbps": _integer(
                    v["memory_bandwidth_gbps"], line, "memory_bandwidth_gbps", source
                ),
            }
        )
    return list(groups.values())


def _kyc(v: dict[str, str], line: int, source: str) -> dict[str, Any]:
    controls = {}
    for field in (
        "users_identified",
        "remote_access_authenticated",
        "access_logged",
        "no_d5_hq_training",
    ):
        value = _BOOLEANS.get(v[field].lower())
        if value is None:
            raise InputError(
                f"{source} line {line}, column {field}: {v[field]!r} is not true/false"
            )
        controls[field] = value
    return {
        "kind": "kyc",
        **{k: v[k] for k in ("party", "date", "valid_from", "valid_until")},
        "authorised_users": v["authorised_users"],
        "remote_access": v["remote_access"],
        "controls": controls,
    }


def _location(v: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": "location",
        "landmark": v["landmark"],
        "serial": v["serial"],
        "nonce": v["nonce"],
        "rtt_ms": v["rtt_ms"],
        "measured_at": v["measured_at"],
        "answer": _identity(v, v["serial"]),
    }
