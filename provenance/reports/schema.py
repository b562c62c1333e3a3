"""The published schema of a report's JSON: pydantic models, so the schema printed by
`provenance report schema` and the check a test runs on every report are one thing."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Decimal = str
"""Figures that are not counts are decimal strings ("126656.0"): JSON floats are not used."""


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PeriodJ(_M):
    from_: str = Field(alias="from")
    to: str
    label: str


class Parameters(_M):
    kind: Literal["regulator", "exporter", "chip", "shipment"]
    period: PeriodJ | None = None
    party: str | None = None
    subject: str | None = None
    location_days: int | None = None


class CheckpointJ(_M):
    origin: str
    size: int
    root: str = Field(pattern=r"^[0-9a-f]{64}$")


class PackJ(_M):
    id: str
    effective_from: str
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")


class ScreeningJ(_M):
    seq: int
    digest: str
    date: str
    entries: int


class Totals(_M):
    shipments: int
    units: int
    tpp: Decimal
    h100_equivalents: Decimal
    cumulative_tpp: Decimal
    cumulative_h100_equivalents: Decimal


class ByDestination(_M):
    destination: str
    shipments: int
    units: int
    tpp: Decimal
    h100_equivalents: Decimal
    cumulative_tpp: Decimal
    cumulative_h100_equivalents: Decimal
    blocked_tpp: Decimal
    """The part of `tpp` in shipments whose latest determination is blocked."""
    blocked_h100_equivalents: Decimal


class ByEccn(_M):
    eccn: str
    shipments: int
    units: int
    tpp: Decimal


class ByEndUser(_M):
    end_user: str
    shipments: int
    units: int
    tpp: Decimal
    h100_equivalents: Decimal
    cumulative_tpp: Decimal


class Verdicts(_M):
    clear: int
    hold: int = 0
    """A high red flag awaits a signed resolution (absent from reports made before)."""
    license_required: int
    blocked: int
    unchecked: int


class LicenseJ(_M):
    id: str
    exporter: str
    consignee: str | None
    end_user: str | None
    destination: str
    eccns: list[str]
    valid_from: str
    valid_until: str
    issued_in_period: bool
    shipments: int
    quantity_drawn: int
    max_quantity: int | None
    value_drawn: Decimal
    max_value: Decimal | None
    currency: str | None
    tpp_drawn: Decimal
    max_tpp: Decimal | None


class FlagsByRule(_M):
    rule: str
    severity: Literal["info", "warning", "high", "blocking"]
    open: int
    cleared: int
    confirmed: int
    escalated: int
    closed: int
    """Closed by a later determination that no longer raised it (the facts changed)."""
    total: int


class OpenFlag(_M):
    id: str
    rule: str
    severity: str
    subject: str
    raised_on: str
    message: str


class FlagsJ(_M):
    by_rule: list[FlagsByRule]
    open_total: int
    oldest_open: list[OpenFlag]
    by_month: list[dict[str, Any]]
    """Flags per severity by the month of the ship date of their shipment (a party's or a
    chip's flag: of the day it was raised), in the twelve months to the period's end."""


class Counted(_M):
    serials: int | None = None
    shipments: int | None = None
    listed: list[dict[str, Any]]


class Custody(_M):
    not_received: Counted
    end_use_missing: Counted
    end_use_expired: list[dict[str, Any]]
    missing_at_inspection: Counted


class Verification(_M):
    ok: bool
    entries: int | None = None
    checkpoints: int | None = None
    size: int | None = None
    root: str | None = None
    error: str | None = None
    incremental_from: int | None = None
    """The size the auditor had verified before (only the entries since were audited)."""
    audited: int | None = None
    verifier_key: str | None = None


class CapMonth(_M):
    month: str
    china_units: int
    us_units: int
    ratio: Decimal | None
    """China/Macau units / US end-user units, cumulative (None: no US units yet)."""


class CapProduct(_M):
    product: str
    china_units: int
    us_units: int
    ratio: Decimal | None
    within_cap: bool
    period_china_units: int
    period_us_units: int
    by_month: list[CapMonth]


class ChinaCap(_M):
    from_: str = Field(alias="from")
    share: Decimal
    products: list[CapProduct]


class ChargeRow(_M):
    exporter: str
    currency: str
    shipments: int
    units: int
    value: Decimal
    charge: Decimal | None = None
    share: Decimal | None = None


class ChargeBlock(_M):
    rate: Decimal
    from_: str = Field(alias="from")
    products: list[str] | None = None
    by_exporter: list[ChargeRow]


class Charges(_M):
    note: str
    """What the figures are and are not."""
    envelope_25: ChargeBlock
    h20_mi308_15: ChargeBlock


class LocationGap(_M):
    serial: str
    shipment: str
    destination: str
    last_measured: str | None


class LocationEvidence(_M):
    days: int
    as_of: str
    controlled_serials: int
    without_evidence: int
    listed: list[LocationGap]


class PeriodReport(_M):
    """A regulator's or an exporter's report."""

    schema_: str = Field(alias="schema")
    kind: Literal["regulator", "exporter"]
    parameters: Parameters
    checkpoint: CheckpointJ
    generated_at: str
    rule_packs: list[PackJ]
    screening_list: ScreeningJ | None
    totals: Totals
    by_destination: list[ByDestination]
    by_eccn: list[ByEccn]
    by_end_user: list[ByEndUser]
    verdicts: Verdicts
    licenses: list[LicenseJ]
    flags: FlagsJ
    custody: Custody
    shipments: list[dict[str, Any]] | None = None
    china_cap: ChinaCap | None = None
    charges: Charges | None = None
    location_evidence: LocationEvidence | None = None
    verification: Verification | None = None


class Dossier(_M):
    """An auditor's dossier of a chip or a shipment."""

    schema_: str = Field(alias="schema")
    kind: Literal["chip", "shipment"]
    parameters: Parameters
    checkpoint: CheckpointJ
    generated_at: str
    subject: dict[str, Any]
    entries: list[dict[str, Any]]


def json_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://provenance.dev/schemas/report/v1",
        "title": "provenance compliance report",
        "oneOf": [
            PeriodReport.model_json_schema(by_alias=True),
            Dossier.model_json_schema(by_alias=True),
        ],
    }


def validate(report: dict[str, Any]) -> None:
    """Raise pydantic's ValidationError when `report` does not follow the schema."""
    if report.get("kind") in ("chip", "shipment"):
        Dossier.model_validate(report)
    else:
        PeriodReport.model_validate(report)
