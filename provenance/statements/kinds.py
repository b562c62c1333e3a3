"""The statement kinds: one registry, one row a kind.

Each row says everything the rest of the project needs to know about a kind: its
pydantic model, its in-toto predicate type, the roles whose keys may sign it (the
policy table `authority.authorize` enforces), the field that dates it, whether it
changes the party and key history, how a history line summarises it, and the help
text of its `provenance attest` command. Adding a kind means a model in `payloads`,
a row here, a projection handler (if it is queried) and a migration: nothing else.

The functions below turn users' documents and signed predicates into models of the
right kind, and print each kind's JSON Schema.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from provenance.crypto import canonical
from provenance.errors import InputError
from provenance.statements.payloads import (
    DOCUMENT,
    CheckpointKeyStatement,
    DeterminationStatement,
    EndUseStatement,
    InspectionStatement,
    KeyRevocationStatement,
    KeyRotationStatement,
    KeyStatement,
    KycStatement,
    LabTestStatement,
    LicenseStatement,
    LocationStatement,
    ManufactureStatement,
    PartyStatement,
    ProductStatement,
    ReceiptStatement,
    ReportStatement,
    ResolutionStatement,
    Role,
    ScreeningListStatement,
    ShipmentAmendmentStatement,
    ShipmentStatement,
    ShipmentVoidStatement,
    Statement,
)

PREDICATE_BASE = "https://provenance.dev/attestations/"

R = Role
Summary = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class Attest:
    """How `provenance attest KIND` describes the kind to the person signing it."""

    who: str
    """Who signs it, as the help text says it."""
    fields: str
    """Its fields, in a line."""


@dataclass(frozen=True)
class Kind:
    name: str
    model: type[Statement]
    signers: frozenset[Role]
    """The roles whose keys may sign a statement of this kind."""
    date_field: str | None = None
    """The predicate field that dates a statement (what a history is ordered by)."""
    self_signed: bool = False
    """The key the statement is about may sign it itself, whatever its party's roles."""
    keys: bool = False
    """It registers, updates, rotates or revokes parties and keys (the key history)."""
    summary: Summary | None = None
    """One line a person reads in a chip's or shipment's history."""
    attest: Attest | None = None
    """Signed and appended by `provenance attest <name>`."""

    @property
    def predicate_type(self) -> str:
        return f"{PREDICATE_BASE}{self.name}/v1"

    def summarise(self, predicate: dict[str, Any]) -> str:
        return self.summary(predicate) if self.summary else self.name


def _manufacture(p: dict[str, Any]) -> str:
    return f"{len(p['serials'])} serials of {p['product']} made in {p['site']}"


def _shipment(p: dict[str, Any]) -> str:
    units = sum(item["quantity"] for item in p["items"])
    route = " > ".join(p["route"])
    return (
        f"shipment {p['id']}: {units} units, {p['exporter']} to {p['consignee']} "
        f"(end user {p['end_user']}), {route}, license {p.get('license') or 'none cited'}"
    )


def _amendment(p: dict[str, Any]) -> str:
    return f"amends entry {p['corrects']}: {_shipment(p['shipment'])}; reason: {p['reason']}"


def _void(p: dict[str, Any]) -> str:
    return f"voids shipment {p['shipment']} (entry {p['corrects']}); reason: {p['reason']}"


def _receipt(p: dict[str, Any]) -> str:
    where = f"{p['site']}, {p['country']}"
    return f"received {len(p['serials'])} of shipment {p['shipment']} at {where}"


def _end_use(p: dict[str, Any]) -> str:
    site = p["site"]
    return (
        f"end use: {p['end_use']} ({p['sector']}) at {site['facility']}, {site['country']}, "
        f"valid until {p['valid_until']}"
    )


def _inspection(p: dict[str, Any]) -> str:
    site = p["site"]
    devices = sum(len(e["devices"]) for e in p.get("evidence", []))
    return (
        f"inspection at {site['facility']}, {site['country']}: "
        f"{len(p.get('serials_seen', []))} seen, {len(p.get('serials_missing', []))} missing, "
        f"{devices} devices in evidence"
    )


def _license(p: dict[str, Any]) -> str:
    return f"license {p['id']} to {p['exporter']} for {p['destination']}"


def _lab_test(p: dict[str, Any]) -> str:
    return (
        f"lab test of {len(p['results'])} serials declared {p['product']} at "
        f"{p['facility']}, {p['country']}"
    )


def _kyc(p: dict[str, Any]) -> str:
    return f"KYC and remote-access controls of {p['party']}, {p['valid_from']}..{p['valid_until']}"


def _location(p: dict[str, Any]) -> str:
    return (
        f"location check of {p['serial']} by landmark {p['landmark']}: "
        f"round trip {p['rtt_ms']} ms at {p['measured_at']}"
    )


def _product(p: dict[str, Any]) -> str:
    return f"product {p['id']}: {p['vendor']} {p['model']}, TPP {p['tpp']}"


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("party", PartyStatement, frozenset({R.OPERATOR}), keys=True),
        Kind("key", KeyStatement, frozenset({R.OPERATOR}), keys=True),
        Kind(
            "key-rotation",
            KeyRotationStatement,
            frozenset({R.OPERATOR}),
            self_signed=True,
            keys=True,
        ),
        Kind(
            "key-revocation",
            KeyRevocationStatement,
            frozenset({R.OPERATOR}),
            self_signed=True,
            keys=True,
        ),
        Kind(
            "checkpoint-key",
            CheckpointKeyStatement,
            frozenset({R.OPERATOR}),
            summary=lambda p: (
                f"new checkpoint key {p['verifier_key']}, overlap until {p['overlap_until']}"
            ),
        ),
        Kind("product", ProductStatement, frozenset({R.OPERATOR, R.REGULATOR}), summary=_product),
        Kind(
            "manufacture",
            ManufactureStatement,
            frozenset({R.MANUFACTURER}),
            date_field="date",
            summary=_manufacture,
            attest=Attest(
                "the manufacturer",
                "product (catalog id), serials, date, site (country). "
                "A serial is registered once, for life",
            ),
        ),
        Kind(
            "shipment",
            ShipmentStatement,
            frozenset({R.EXPORTER}),
            date_field="ship_date",
            summary=_shipment,
        ),
        Kind(
            "shipment-amendment",
            ShipmentAmendmentStatement,
            frozenset({R.EXPORTER}),
            date_field="date",
            summary=_amendment,
        ),
        Kind(
            "shipment-void",
            ShipmentVoidStatement,
            frozenset({R.EXPORTER}),
            date_field="date",
            summary=_void,
        ),
        Kind(
            "receipt",
            ReceiptStatement,
            frozenset({R.CONSIGNEE, R.END_USER}),
            date_field="date",
            summary=_receipt,
            attest=Attest(
                "the shipment's consignee or end user",
                "shipment, serials received, date, country, site",
            ),
        ),
        Kind(
            "end-use",
            EndUseStatement,
            frozenset({R.END_USER}),
            date_field="date",
            summary=_end_use,
            attest=Attest(
                "the shipments' end user",
                "shipments and/or serials, date, end_use, sector, site {country, facility, "
                "address}, facility_power_mw, certifications {no_military, no_wmd, no_reexport, "
                "no_restricted_hq_access}, valid_until",
            ),
        ),
        Kind(
            "inspection",
            InspectionStatement,
            frozenset({R.AUDITOR}),
            date_field="date",
            summary=_inspection,
        ),
        Kind(
            "license",
            LicenseStatement,
            frozenset({R.REGULATOR}),
            date_field="valid_from",
            summary=_license,
        ),
        Kind(
            "lab-test",
            LabTestStatement,
            frozenset({R.LAB}),
            date_field="date",
            summary=_lab_test,
        ),
        Kind(
            "kyc",
            KycStatement,
            frozenset({R.CONSIGNEE, R.END_USER}),
            date_field="date",
            summary=_kyc,
        ),
        Kind(
            "location",
            LocationStatement,
            frozenset({R.LANDMARK}),
            date_field="measured_at",
            summary=_location,
        ),
        Kind("screening-list", ScreeningListStatement, frozenset({R.OPERATOR})),
        Kind("determination", DeterminationStatement, frozenset({R.OPERATOR})),
        Kind("resolution", ResolutionStatement, frozenset({R.REGULATOR, R.EXPORTER})),
        Kind(
            "report", ReportStatement, frozenset({R.OPERATOR, R.REGULATOR, R.AUDITOR, R.EXPORTER})
        ),
    )
}

KEY_KINDS = frozenset(name for name, kind in KINDS.items() if kind.keys)
"""Kinds that make the party and key history (a bundle carries them for its signers)."""


def get(kind: str) -> Kind:
    try:
        return KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise InputError(f"unknown statement kind {kind!r} (known: {known})") from None


def predicate_type(kind: str) -> str:
    return get(kind).predicate_type


_PREDICATE_RE = re.compile(re.escape(PREDICATE_BASE) + r"([a-z-]+)/v1$")


def kind_of(predicate_type_uri: str) -> str:
    match = _PREDICATE_RE.match(predicate_type_uri)
    if not match or match.group(1) not in KINDS:
        raise InputError(f"unknown predicateType {predicate_type_uri!r}")
    return match.group(1)


def model_for(kind: str) -> type[Statement]:
    return get(kind).model


def _read_as(value: Any) -> str | None:
    """What YAML made of a value a person meant as text, and how to write it instead."""
    from provenance.documents import WrittenInt

    if isinstance(value, bool):
        return (
            f"YAML reads this as the boolean {str(value).lower()} (yes, no, on, off, true "
            "and false are booleans): quote it"
        )
    if isinstance(value, WrittenInt):
        return f"YAML reads {value.written} as the number {int(value)}: quote it"
    if isinstance(value, int | float):
        return f'YAML reads {value!r} as a number: quote it ("{value}")'
    if isinstance(value, dt.date):
        return f"YAML reads {value.isoformat()} as a date: quote it"
    if value is None:
        return "the value is empty (null)"
    return None


def describe_validation_error(
    kind: str, exc: ValidationError, source: str | None = None, *, document: bool = False
) -> str:
    """One line naming the fields that failed, e.g. `shipment: items[0].quantity: ...`
    (prefixed with the file it came from, when given; for a person's document, saying
    what YAML made of a value that should have been text)."""
    parts = []
    for error in exc.errors()[:3]:
        loc = ""
        for item in error["loc"]:
            loc += f"[{item}]" if isinstance(item, int) else (f".{item}" if loc else str(item))
        message = error["msg"].removeprefix("Value error, ")
        if document and error["type"] == "string_type":
            read_as = _read_as(error.get("input"))
            if read_as:
                message = f"text is needed: {read_as}"
        parts.append(f"{loc}: {message}" if loc else message)
    more = len(exc.errors()) - 3
    suffix = f" (and {more} more)" if more > 0 else ""
    where = f"{source}: " if source else ""
    return f"{where}invalid {kind}: " + "; ".join(parts) + suffix


def from_document(document: Any, source: str | None = None) -> Statement:
    """Build a statement from a user's document: a mapping with `kind` and fields.

    `source` (the file's name) prefixes any error. The document's values are what YAML
    or JSON made of them: dates, integers (serials written as numbers are taken as the
    digits written), decimals for amounts; anything else that does not fit is exit 2,
    naming the field.
    """
    where = f"{source}: " if source else ""
    if not isinstance(document, dict):
        raise InputError(f"{where}a statement document must be a mapping with a 'kind' field")
    fields = dict(document)
    kind = fields.pop("kind", None)
    if not isinstance(kind, str):
        raise InputError(
            f"{where}the document has no 'kind' field", hint=f"one of: {', '.join(KINDS)}"
        )
    model = model_for(kind)
    try:
        return model.model_validate(fields, context={DOCUMENT: True})
    except ValidationError as exc:
        raise InputError(describe_validation_error(kind, exc, source, document=True)) from exc


def from_predicate(kind: str, predicate: dict[str, Any]) -> Statement:
    """Validate a signed predicate strictly (exact JSON types)."""
    model = model_for(kind)
    try:
        return model.model_validate_json(canonical.dumps(predicate), strict=True)
    except ValidationError as exc:
        raise InputError(describe_validation_error(kind, exc)) from exc


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a kind's document (what `provenance schema KIND` prints)."""
    model = model_for(kind)
    schema = model.model_json_schema(mode="validation")
    schema.setdefault("properties", {})
    schema["properties"] = {"kind": {"const": kind}, **schema["properties"]}
    schema.setdefault("required", []).insert(0, "kind")
    schema["$id"] = predicate_type(kind)
    return schema
