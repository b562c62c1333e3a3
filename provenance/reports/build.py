"""Reports as data: what `provenance report` prints and `report verify` recomputes.

A report is a JSON-ready dict. It names the signed checkpoint it was computed at
(`checkpoint`: origin, size, root), its `parameters` (kind, period, party), the
rule packs and screening list in force; everything else is figures computed by
`figures.Figures` at that tree size. `generated_at` and `verification` (the result of
auditing the ledger when the report was made) are the only parts that a later
recomputation does not reproduce.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import literal, select

from provenance.compliance.packs import Library
from provenance.errors import InputError, IntegrityError, NotFoundError
from provenance.ledger import queries
from provenance.ledger.audit import audit
from provenance.ledger.audit_state import AuditState
from provenance.ledger.log import Ledger
from provenance.ledger.projections.tables import FlagRow, LicenseRow
from provenance.reports.figures import EvidenceFigures, Figures
from provenance.reports.periods import Period

SCHEMA = "https://provenance.dev/schemas/report/v1"
KINDS = ("regulator", "exporter", "chip", "shipment")
NOT_RECOMPUTED = ("generated_at", "verification")
DOSSIER_COMPARED = ("kind", "parameters", "checkpoint", "entries")
"""A dossier is verified by its entries (each in the ledger at that size, same signer and
statement, proof against the same checkpoint); its custody summary is as of when it was made."""

Progress = Callable[[str], None]

LOCATION_DAYS = 30
"""The regulator report lists controlled serials with no location evidence in this many
days up to the period's end (`--location-days`)."""


def _checkpoint(ledger: Ledger, size: int | None) -> dict[str, Any]:
    signed = ledger.checkpoint(size) if size is not None else ledger.checkpoint()
    cp = signed.checkpoint
    return {"origin": cp.origin, "size": cp.size, "root": cp.root.hex()}


def _packs(period: Period, rules_dir: str | None) -> list[dict[str, Any]]:
    library = Library.load(rules_dir)
    chosen = []
    with contextlib.suppress(NotFoundError):  # a period before the first pack
        chosen.append(library.in_force(period.start))
    chosen.extend(
        library.get(p.id)
        for p in library.files.values()
        if period.start < p.effective_from <= period.end
    )
    return [
        {"id": p.id, "effective_from": p.effective_from.isoformat(), "digest": p.digest}
        for p in sorted(chosen, key=lambda p: p.effective_from)
    ]


def _verification(ledger: Ledger, state: AuditState | None) -> dict[str, Any]:
    """The ledger audited: with the auditor's `state`, only what was appended since the
    last verified checkpoint (and consistency with it), the state updated when it passes."""
    try:
        seen = state.get(ledger.store.url) if state is not None else None
        result = audit(ledger, seen=seen)
    except IntegrityError as exc:
        return {"ok": False, "error": exc.message}
    if state is not None and result.seen is not None:
        state.put(ledger.store.url, result.seen)
    return {
        "ok": True,
        "entries": result.entries,
        "checkpoints": result.checkpoints,
        "size": result.size,
        "root": result.root.hex(),
        "incremental_from": result.since,
        "audited": result.audited,
        "verifier_key": result.seen.pinned if result.seen else None,
    }


def regulator(
    ledger: Ledger,
    period: Period,
    *,
    size: int | None = None,
    rules_dir: str | None = None,
    verify: bool = True,
    progress: Progress | None = None,
    audit_state: AuditState | None = None,
    location_days: int = LOCATION_DAYS,
) -> dict[str, Any]:
    """The regulator's periodic report. Its verification audits the ledger: with the
    auditor's `audit_state`, only the entries appended since the last verified checkpoint."""
    if not 1 <= location_days <= 3650:
        raise InputError(f"location days must be from 1 to 3650, not {location_days}")
    say = progress or (lambda _step: None)
    checkpoint = _checkpoint(ledger, size)
    with ledger.store.read() as conn:
        figures = EvidenceFigures(conn, checkpoint["size"])
        say("compute by destination, ECCN and end user")
        compute = figures.compute(period)
        say("verdicts and licenses")
        verdicts = figures.verdicts(period)
        licenses = figures.licenses(period)
        say("red flags")
        flags = figures.flags(period)
        say("custody")
        custody = figures.custody(period)
        screening = figures.screening()
        say("the 2026 conditions: the 50% cap, the charges; location evidence")
        china_cap = figures.china_cap(period)
        charges = figures.charges(period)
        location = figures.location_gaps(period, location_days)
    report = {
        "schema": SCHEMA,
        "kind": "regulator",
        "parameters": {
            "kind": "regulator",
            "period": period.to_json(),
            "location_days": location_days,
        },
        "checkpoint": checkpoint,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rule_packs": _packs(period, rules_dir),
        "screening_list": screening,
        **compute,
        "verdicts": verdicts,
        "licenses": licenses,
        "flags": flags,
        "custody": custody,
        "china_cap": china_cap,
        "charges": charges,
        "location_evidence": location,
    }
    if verify:
        say("ledger verification")
        report["verification"] = _verification(ledger, audit_state)
    return report


def exporter(
    ledger: Ledger,
    party: str,
    period: Period,
    *,
    size: int | None = None,
    rules_dir: str | None = None,
    verify: bool = False,
    progress: Progress | None = None,
    audit_state: AuditState | None = None,
) -> dict[str, Any]:
    """An exporter's own shipments, determinations, flags and licenses."""
    say = progress or (lambda _step: None)
    queries.party(ledger, party)  # NotFoundError for an unknown party
    checkpoint = _checkpoint(ledger, size)
    with ledger.store.read() as conn:
        figures = Figures(conn, checkpoint["size"])
        own = figures.shipment.exporter == party
        say("shipments and compute")
        compute = figures.compute(period, own)
        shipments = figures.shipments_of(period, own)
        verdicts = figures.verdicts(period, own)
        licenses = figures.licenses(period, LicenseRow.exporter == party)
        say("red flags")
        own_subjects = select(literal("shipment/") + figures.shipment.id).where(own)
        flags = figures.flags(period, FlagRow.subject.in_(own_subjects))
        custody = figures.custody(period, own)
    report = {
        "schema": SCHEMA,
        "kind": "exporter",
        "parameters": {"kind": "exporter", "party": party, "period": period.to_json()},
        "checkpoint": checkpoint,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rule_packs": _packs(period, rules_dir),
        "screening_list": None,
        **compute,
        "verdicts": verdicts,
        "shipments": shipments,
        "licenses": licenses,
        "flags": flags,
        "custody": custody,
    }
    if verify:
        report["verification"] = _verification(ledger, audit_state)
    return report


def dossier(ledger: Ledger, kind: str, subject: str, *, size: int | None = None) -> dict[str, Any]:
    """An auditor's dossier: every entry about a chip or a shipment, verified."""
    checkpoint = _checkpoint(ledger, size)
    if kind == "chip":
        found = queries.chip(ledger, subject, size=checkpoint["size"])
        found["observed"] = queries.devices_seen(ledger, subject)
        entries = found.pop("history")
    elif kind == "shipment":
        found = queries.shipment(ledger, subject)
        seqs = [s for s in ledger.entries_about(f"shipment/{subject}") if s < checkpoint["size"]]
        entries = [queries.verified_entry(ledger, seq, checkpoint["size"]) for seq in seqs]
    else:
        raise InputError(f"no dossier of kind {kind!r}")
    return {
        "schema": SCHEMA,
        "kind": kind,
        "parameters": {"kind": kind, "subject": subject},
        "checkpoint": checkpoint,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "subject": found,
        "entries": entries,
    }


def recompute(
    ledger: Ledger, report: dict[str, Any], rules_dir: str | None = None
) -> dict[str, Any]:
    """The same report computed again from the ledger at the report's tree size."""
    params = report.get("parameters") or {}
    kind = params.get("kind")
    size = int(report["checkpoint"]["size"])
    try:
        if kind in ("regulator", "exporter"):
            period_doc = params["period"]
            period = Period(
                dt.date.fromisoformat(period_doc["from"]),
                dt.date.fromisoformat(period_doc["to"]),
                str(period_doc["label"]),
            )
            if kind == "regulator":
                days = int(params.get("location_days") or LOCATION_DAYS)
                return regulator(
                    ledger, period, size=size, rules_dir=rules_dir, verify=False,
                    location_days=days,
                )  # fmt: skip
            return exporter(ledger, params["party"], period, size=size, rules_dir=rules_dir)
        if kind in ("chip", "shipment"):
            return dossier(ledger, kind, params["subject"], size=size)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"the report's parameters cannot be recomputed: {type(exc).__name__}: {exc}"
        ) from None
    raise InputError(f"this is not a provenance report (parameters.kind is {kind!r})")
