"""The figures of a report, computed by SQL aggregates at a tree size.

Every query counts only what the ledger held at `size` (entries with seq < size), so
a report computed later from a longer ledger gives the same figures: that is what
`provenance report verify` relies on. Sums run in the database (on SQLite as on
PostgreSQL); Python only shapes the aggregated rows. Compute is in TPP, summed over
units (the TPP of the product the chips are, from the latest determination, else of
the declared product), and in H100-equivalents (TPP / the H100 SXM5's TPP).

A voided shipment counts up to the size of its void, not after. An amended one counts
once, with the facts in force at the size: the version an amendment at or after the
size superseded (`shipment_versions`) stands in for the facts in force now, so a report
signed before an amendment recomputes to the figures it was signed with.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import (
    Float,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql import FromClause

from provenance.ledger.projections.tables import (
    SHIPMENT_FACTS,
    DeterminationItemRow,
    DeterminationRow,
    EndUseRow,
    EndUseScopeRow,
    FlagRow,
    InspectionRow,
    InspectionSerialRow,
    LicenseRow,
    LocationRow,
    ProductVersionRow,
    ReceiptRow,
    ReceiptSerialRow,
    ResolutionRow,
    ScreeningSnapshotRow,
    ShipmentItemRow,
    ShipmentRow,
    ShipmentSerialRow,
    ShipmentVersionItemRow,
    ShipmentVersionRow,
    ShipmentVersionSerialRow,
)
from provenance.reports.periods import Period

H100 = "nvidia-h100-sxm5"
H100_TPP_FALLBACK = 15832.0
LIST_LIMIT = 20
"""Rows listed where a report names individual flags, shipments or serials."""


def tpp_text(value: float | None) -> str:
    return f"{(value or 0.0):.1f}"


def h100_text(value: float | None, h100: float) -> str:
    return f"{(value or 0.0) / h100:.2f}"


def money_text(value: float | None) -> str:
    return f"{(value or 0.0):.2f}"


def shipments_at(conn: Connection, size: int) -> tuple[FromClause, FromClause, FromClause]:
    """The shipments, their items and their serials as the ledger held them at `size`,
    with the columns of `shipments`, `shipment_items` and `shipment_serials`: the tables
    themselves unless an amendment at or after `size` superseded a version in force then;
    else each table with that version's rows in place of the shipment's rows now."""
    version = ShipmentVersionRow
    then = and_(version.seq < size, version.superseded_seq >= size)
    shipments = ShipmentRow.__table__
    items = ShipmentItemRow.__table__
    serials = ShipmentSerialRow.__table__
    if conn.execute(select(literal(1)).where(then).limit(1)).first() is None:
        return shipments, items, serials
    now = func.coalesce(ShipmentRow.version_seq, ShipmentRow.seq) < size

    def version_column(name: str) -> Any:
        if name in SHIPMENT_FACTS:
            return getattr(version, name).label(name)
        return version.seq.label(name) if name == "version_seq" else shipments.c[name]

    shipments_then = union_all(
        select(shipments).where(now),
        select(*(version_column(c.name) for c in shipments.c))
        .join(ShipmentRow, ShipmentRow.id == version.shipment_id)
        .where(then),
    ).subquery("shipments_then")
    version_items = ShipmentVersionItemRow.__table__.c
    items_then = union_all(
        select(items).join(ShipmentRow, ShipmentRow.id == items.c.shipment_id).where(now),
        select(
            *(
                version.shipment_id.label(c.name)
                if c.name == "shipment_id"
                else version_items[c.name]
                for c in items.c
            )
        )
        .join(version, version.seq == version_items.seq)
        .where(then),
    ).subquery("shipment_items_then")
    serials_then = union_all(
        select(serials).join(ShipmentRow, ShipmentRow.id == serials.c.shipment_id).where(now),
        select(
            version.shipment_id.label("shipment_id"),
            ShipmentVersionSerialRow.serial,
            ShipmentVersionSerialRow.line,
        )
        .join(version, version.seq == ShipmentVersionSerialRow.seq)
        .where(then),
    ).subquery("shipment_serials_then")
    return shipments_then, items_then, serials_then


class Figures:
    """Aggregates over one ledger connection at one tree size."""

    def __init__(self, conn: Connection, size: int) -> None:
        self.conn = conn
        self.size = size
        self.shipments, self.shipment_items, self.shipment_serials = shipments_at(conn, size)
        self.shipment = self.shipments.c
        """The columns of the shipments at this size (those of `shipments`)."""
        self.item = self.shipment_items.c
        self.serial = self.shipment_serials.c
        self.h100 = float(
            conn.execute(
                select(ProductVersionRow.tpp)
                .where(ProductVersionRow.id == H100, ProductVersionRow.seq < size)
                .order_by(ProductVersionRow.seq.desc())
                .limit(1)
            ).scalar()
            or H100_TPP_FALLBACK
        )

    def _products(self) -> Any:
        """id -> TPP of each product as the ledger held it at this size."""
        latest = (
            select(ProductVersionRow.id, func.max(ProductVersionRow.seq).label("seq"))
            .where(ProductVersionRow.seq < self.size)
            .group_by(ProductVersionRow.id)
            .subquery("latest_products")
        )
        return (
            select(ProductVersionRow.id.label("id"), ProductVersionRow.tpp.label("tpp"))
            .join(
                latest,
                and_(latest.c.id == ProductVersionRow.id, latest.c.seq == ProductVersionRow.seq),
            )
            .subquery("products_then")
        )

    # --- building blocks --------------------------------------------------------------

    def _latest(self) -> Any:
        """shipment_id -> seq of its latest determination at this size."""
        return (
            select(
                DeterminationRow.shipment_id.label("shipment_id"),
                func.max(DeterminationRow.seq).label("seq"),
            )
            .where(DeterminationRow.seq < self.size)
            .group_by(DeterminationRow.shipment_id)
            .subquery("latest")
        )

    def _items(self, *where: Any) -> Any:
        """Shipment items with their ECCN and unit TPP (latest determination, else catalog)."""
        latest = self._latest()
        products = self._products()
        unit_tpp = func.coalesce(
            cast(DeterminationItemRow.tpp, Float), cast(products.c.tpp, Float), literal(0.0)
        )
        return (
            select(
                self.shipment.id.label("shipment"),
                self.shipment.destination.label("destination"),
                self.shipment.end_user.label("end_user"),
                self.shipment.exporter.label("exporter"),
                self.shipment.ship_date.label("ship_date"),
                self.item.quantity.label("quantity"),
                func.coalesce(DeterminationItemRow.eccn, literal("unchecked")).label("eccn"),
                (unit_tpp * self.item.quantity).label("tpp"),
                DeterminationRow.verdict.label("verdict"),
            )
            .join(self.shipment_items, self.item.shipment_id == self.shipment.id)
            .outerjoin(latest, latest.c.shipment_id == self.shipment.id)
            .outerjoin(DeterminationRow, DeterminationRow.seq == latest.c.seq)
            .outerjoin(
                DeterminationItemRow,
                and_(
                    DeterminationItemRow.seq == latest.c.seq,
                    DeterminationItemRow.line == self.item.line,
                ),
            )
            .outerjoin(products, products.c.id == self.item.product)
            .where(self._counted(), *where)
            .subquery("items")
        )

    def _counted(self) -> Any:
        """A shipment the ledger held at this size, not voided by then (a voided shipment
        is no export; an amended one counts once, with the facts in force)."""
        return and_(
            self.shipment.seq < self.size,
            or_(self.shipment.voided_seq.is_(None), self.shipment.voided_seq >= self.size),
        )

    def _in_period(self, period: Period) -> Any:
        return self.shipment.ship_date.between(period.start, period.end)

    # --- shipments and compute ----------------------------------------------------------

    def compute(self, period: Period, *scope: Any) -> dict[str, Any]:
        """Shipments, units and compute in the period by destination, ECCN and end user,
        with the cumulative compute since the first entry."""
        items = self._items(self._in_period(period), *scope)
        upto = self._items(self.shipment.ship_date <= period.end, *scope)
        c = self.conn
        blocked = case((items.c.verdict == literal_column("'blocked'"), items.c.tpp), else_=0.0)
        by_destination = c.execute(
            select(
                items.c.destination,
                func.count(func.distinct(items.c.shipment)),
                func.sum(items.c.quantity),
                func.sum(items.c.tpp),
                func.sum(blocked),
            )
            .group_by(items.c.destination)
            .order_by(func.sum(items.c.tpp).desc(), items.c.destination)
        ).all()
        cumulative_destination: dict[str, float] = dict(
            c.execute(
                select(upto.c.destination, func.sum(upto.c.tpp)).group_by(upto.c.destination)
            ).all()
        )
        by_eccn = c.execute(
            select(
                items.c.eccn,
                func.count(func.distinct(items.c.shipment)),
                func.sum(items.c.quantity),
                func.sum(items.c.tpp),
            )
            .group_by(items.c.eccn)
            .order_by(items.c.eccn)
        ).all()
        by_end_user = c.execute(
            select(
                items.c.end_user,
                func.count(func.distinct(items.c.shipment)),
                func.sum(items.c.quantity),
                func.sum(items.c.tpp),
            )
            .group_by(items.c.end_user)
            .order_by(func.sum(items.c.tpp).desc(), items.c.end_user)
        ).all()
        cumulative_end_user: dict[str, float] = dict(
            c.execute(select(upto.c.end_user, func.sum(upto.c.tpp)).group_by(upto.c.end_user)).all()
        )
        totals = c.execute(
            select(
                func.count(func.distinct(items.c.shipment)),
                func.sum(items.c.quantity),
                func.sum(items.c.tpp),
            )
        ).one()
        cumulative = c.execute(select(func.sum(upto.c.tpp))).scalar()
        h = self.h100
        return {
            "totals": {
                "shipments": int(totals[0] or 0),
                "units": int(totals[1] or 0),
                "tpp": tpp_text(totals[2]),
                "h100_equivalents": h100_text(totals[2], h),
                "cumulative_tpp": tpp_text(cumulative),
                "cumulative_h100_equivalents": h100_text(cumulative, h),
            },
            "by_destination": [
                {
                    "destination": d,
                    "shipments": int(n),
                    "units": int(u or 0),
                    "tpp": tpp_text(t),
                    "h100_equivalents": h100_text(t, h),
                    "cumulative_tpp": tpp_text(cumulative_destination.get(d)),
                    "cumulative_h100_equivalents": h100_text(cumulative_destination.get(d), h),
                    "blocked_tpp": tpp_text(b),
                    "blocked_h100_equivalents": h100_text(b, h),
                }
                for d, n, u, t, b in by_destination
            ],
            "by_eccn": [
                {"eccn": e, "shipments": int(n), "units": int(u or 0), "tpp": tpp_text(t)}
                for e, n, u, t in by_eccn
            ],
            "by_end_user": [
                {
                    "end_user": e,
                    "shipments": int(n),
                    "units": int(u or 0),
                    "tpp": tpp_text(t),
                    "h100_equivalents": h100_text(t, h),
                    "cumulative_tpp": tpp_text(cumulative_end_user.get(e)),
                }
                for e, n, u, t in by_end_user
            ],
        }

    def verdicts(self, period: Period, *scope: Any) -> dict[str, int]:
        latest = self._latest()
        # Constants are inlined, not bound, wherever an expression is grouped by:
        # PostgreSQL must see the same expression in SELECT and GROUP BY.
        verdict = func.coalesce(DeterminationRow.verdict, literal_column("'unchecked'"))
        rows = self.conn.execute(
            select(verdict, func.count())
            .select_from(self.shipments)
            .outerjoin(latest, latest.c.shipment_id == self.shipment.id)
            .outerjoin(DeterminationRow, DeterminationRow.seq == latest.c.seq)
            .where(self._counted(), self._in_period(period), *scope)
            .group_by(verdict)
        ).all()
        out = {"clear": 0, "hold": 0, "license_required": 0, "blocked": 0, "unchecked": 0}
        out.update({v: int(n) for v, n in rows})
        return out

    # --- licenses ----------------------------------------------------------------------------

    def licenses(self, period: Period, *scope: Any) -> list[dict[str, Any]]:
        """Licenses valid at some time in the period, and what was drawn against each
        (every shipment citing it, shipped on or before the period's end)."""
        c = self.conn
        rows = c.execute(
            select(LicenseRow.__table__)
            .where(
                LicenseRow.seq < self.size,
                LicenseRow.valid_from <= period.end,
                LicenseRow.valid_until >= period.start,
                *scope,
            )
            .order_by(LicenseRow.id)
        ).all()
        if not rows:
            return []
        items = self._items(self.shipment.ship_date <= period.end)
        value = cast(self.item.unit_value, Float) * self.item.quantity
        drawn_value: dict[str, float] = dict(
            c.execute(
                select(self.shipment.license, func.sum(value))
                .join(self.shipment_items, self.item.shipment_id == self.shipment.id)
                .where(
                    self._counted(),
                    self.shipment.ship_date <= period.end,
                    self.shipment.license.in_([r.id for r in rows]),
                )
                .group_by(self.shipment.license)
            ).all()
        )
        drawn = {
            lic: (int(n), int(u or 0), t)
            for lic, n, u, t in c.execute(
                select(
                    self.shipment.license,
                    func.count(func.distinct(items.c.shipment)),
                    func.sum(items.c.quantity),
                    func.sum(items.c.tpp),
                )
                .join(items, items.c.shipment == self.shipment.id)
                .where(self.shipment.license.in_([r.id for r in rows]))
                .group_by(self.shipment.license)
            )
        }
        out = []
        for r in rows:
            shipments, units, tpp = drawn.get(r.id, (0, 0, 0.0))
            out.append(
                {
                    "id": r.id,
                    "exporter": r.exporter,
                    "consignee": r.consignee,
                    "end_user": r.end_user,
                    "destination": r.destination,
                    "eccns": r.eccns.split(),
                    "valid_from": r.valid_from.isoformat(),
                    "valid_until": r.valid_until.isoformat(),
                    "issued_in_period": bool(period.start <= r.valid_from <= period.end),
                    "shipments": shipments,
                    "quantity_drawn": units,
                    "max_quantity": r.max_quantity,
                    "value_drawn": money_text(drawn_value.get(r.id)),
                    "max_value": r.max_value,
                    "currency": r.max_value_currency,
                    "tpp_drawn": tpp_text(tpp),
                    "max_tpp": r.max_tpp,
                }
            )
        return out

    # --- red flags ----------------------------------------------------------------------------

    def flags(self, period: Period, *scope: Any) -> dict[str, Any]:
        # A flag's status at this size: its latest resolution below it, else open.
        last = (
            select(ResolutionRow.flag_id, func.max(ResolutionRow.seq).label("seq"))
            .where(ResolutionRow.seq < self.size)
            .group_by(ResolutionRow.flag_id)
            .subquery("last_resolution")
        )
        then = (
            select(ResolutionRow.flag_id.label("flag_id"), ResolutionRow.status.label("status"))
            .join(
                last,
                and_(last.c.seq == ResolutionRow.seq, last.c.flag_id == ResolutionRow.flag_id),
            )
            .subquery("resolved_then")
        )
        status = func.coalesce(then.c.status, literal_column("'open'"))
        c = self.conn
        base = [FlagRow.raised_seq < self.size, *scope]
        in_period = FlagRow.raised_on.between(period.start, period.end)
        by_rule = c.execute(
            select(FlagRow.rule, FlagRow.severity, status, func.count())
            .select_from(FlagRow)
            .outerjoin(then, then.c.flag_id == FlagRow.id)
            .where(*base, in_period)
            .group_by(FlagRow.rule, FlagRow.severity, status)
        ).all()
        grouped: dict[tuple[str, str], dict[str, int]] = defaultdict(
            lambda: {"open": 0, "cleared": 0, "confirmed": 0, "escalated": 0, "closed": 0}
        )
        for rule, severity, state, n in by_rule:
            # A disputed flag awaits the regulator's decision: it is still open.
            grouped[(rule, severity)]["open" if state == "disputed" else state] += int(n)
        order = {"blocking": 0, "high": 1, "warning": 2, "info": 3}
        oldest = c.execute(
            select(
                FlagRow.id,
                FlagRow.rule,
                FlagRow.severity,
                FlagRow.subject,
                FlagRow.raised_on,
                FlagRow.message,
            )
            .outerjoin(then, then.c.flag_id == FlagRow.id)
            .where(*base, status == "open", FlagRow.raised_on <= period.end)
            .order_by(FlagRow.raised_on, FlagRow.raised_seq, FlagRow.id)
            .limit(LIST_LIMIT)
        ).all()
        open_total = c.execute(
            select(func.count())
            .select_from(FlagRow)
            .outerjoin(then, then.c.flag_id == FlagRow.id)
            .where(*base, status == "open", FlagRow.raised_on <= period.end)
        ).scalar()
        # By the ship date of the shipment a flag is about (a party's or a chip's flag: the
        # day it was raised), in the twelve months to the period's end.
        # (Driven from the shipments, so that each looks its flags up by subject: a join on
        # the expression the other way round scans every shipment for every flag.)
        year = (period.end - dt.timedelta(days=366), period.end)
        shipped_on = self.shipment.ship_date
        by_ship_date = c.execute(
            select(shipped_on, FlagRow.severity, func.count())
            .select_from(self.shipments)
            .join(FlagRow, FlagRow.subject == literal_column("'shipment/'") + self.shipment.id)
            .where(*base, shipped_on <= year[1], shipped_on > year[0])
            .group_by(shipped_on, FlagRow.severity)
        ).all()
        by_raised_on = c.execute(
            select(FlagRow.raised_on, FlagRow.severity, func.count())
            .where(
                *base,
                ~FlagRow.subject.like("shipment/%"),
                FlagRow.raised_on <= year[1],
                FlagRow.raised_on > year[0],
            )
            .group_by(FlagRow.raised_on, FlagRow.severity)
        ).all()
        months: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for day, severity, n in [*by_ship_date, *by_raised_on]:
            months[day.isoformat()[:7]][severity] += int(n)
        return {
            "by_rule": [
                {"rule": rule, "severity": severity, **counts, "total": sum(counts.values())}
                for (rule, severity), counts in sorted(
                    grouped.items(), key=lambda kv: (order.get(kv[0][1], 9), kv[0][0])
                )
            ],
            "open_total": int(open_total or 0),
            "oldest_open": [
                {
                    "id": r.id,
                    "rule": r.rule,
                    "severity": r.severity,
                    "subject": r.subject,
                    "raised_on": r.raised_on.isoformat(),
                    "message": r.message,
                }
                for r in oldest
            ],
            "by_month": [
                {"month": month, **dict(sorted(counts.items()))}
                for month, counts in sorted(months.items())
            ],
        }

    # --- custody -----------------------------------------------------------------------------

    def custody(self, period: Period, *scope: Any) -> dict[str, Any]:
        c = self.conn
        received = (
            select(literal(1))
            .select_from(ReceiptSerialRow)
            .join(ReceiptRow, ReceiptRow.seq == ReceiptSerialRow.seq)
            .where(
                ReceiptSerialRow.serial == self.serial.serial,
                ReceiptRow.shipment_id == self.serial.shipment_id,
                ReceiptRow.seq < self.size,
            )
        )
        not_received = c.execute(
            select(
                self.shipment.id, self.shipment.ship_date, self.shipment.destination, func.count()
            )
            .join(self.shipment_serials, self.serial.shipment_id == self.shipment.id)
            .where(
                self._counted(),
                self._in_period(period),
                ~exists(received),
                *scope,
            )
            .group_by(self.shipment.id, self.shipment.ship_date, self.shipment.destination)
            .order_by(self.shipment.ship_date, self.shipment.id)
        ).all()
        # As the rules read it: a statement by the shipment's end user, valid on the ship
        # date, that names the shipment or one of its serials.
        its_serials = select(self.serial.serial).where(self.serial.shipment_id == self.shipment.id)
        covered = (
            select(literal(1))
            .select_from(EndUseScopeRow)
            .join(EndUseRow, EndUseRow.seq == EndUseScopeRow.seq)
            .where(
                or_(
                    and_(EndUseScopeRow.kind == "shipment", EndUseScopeRow.ref == self.shipment.id),
                    and_(EndUseScopeRow.kind == "serial", EndUseScopeRow.ref.in_(its_serials)),
                ),
                EndUseRow.party == self.shipment.end_user,
                EndUseRow.seq < self.size,
                EndUseRow.date <= self.shipment.ship_date,
                EndUseRow.valid_until >= self.shipment.ship_date,
            )
        )
        missing_end_use = c.execute(
            select(self.shipment.id, self.shipment.end_user, self.shipment.ship_date)
            .where(self._counted(), self._in_period(period), ~exists(covered), *scope)
            .order_by(self.shipment.ship_date, self.shipment.id)
        ).all()
        expired_where = [
            EndUseRow.seq < self.size,
            EndUseRow.valid_until < period.end,
            EndUseRow.valid_until >= period.start,
        ]
        missing_where = [
            InspectionSerialRow.seq < self.size,
            InspectionSerialRow.status == "missing",
            InspectionRow.date.between(period.start, period.end),
        ]
        if scope:  # an exporter's report: its own end users and serials only
            expired_where.append(EndUseRow.party.in_(select(self.shipment.end_user).where(*scope)))
            missing_where.append(
                InspectionSerialRow.serial.in_(
                    select(self.serial.serial)
                    .join(self.shipments, self.shipment.id == self.serial.shipment_id)
                    .where(*scope)
                )
            )
        expired = c.execute(
            select(EndUseRow.seq, EndUseRow.party, EndUseRow.valid_until)
            .where(*expired_where)
            .order_by(EndUseRow.valid_until, EndUseRow.seq)
        ).all()
        missing = c.execute(
            select(InspectionSerialRow.serial, func.min(InspectionSerialRow.seq))
            .join(InspectionRow, InspectionRow.seq == InspectionSerialRow.seq)
            .where(*missing_where)
            .group_by(InspectionSerialRow.serial)
            .order_by(InspectionSerialRow.serial)
        ).all()
        return {
            "not_received": {
                "serials": sum(int(r[3]) for r in not_received),
                "shipments": len(not_received),
                "listed": [
                    {
                        "shipment": r[0],
                        "ship_date": r[1].isoformat(),
                        "destination": r[2],
                        "serials": int(r[3]),
                    }
                    for r in not_received[:LIST_LIMIT]
                ],
            },
            "end_use_missing": {
                "shipments": len(missing_end_use),
                "listed": [
                    {"shipment": r[0], "end_user": r[1], "ship_date": r[2].isoformat()}
                    for r in missing_end_use[:LIST_LIMIT]
                ],
            },
            "end_use_expired": [
                {"seq": r[0], "end_user": r[1], "valid_until": r[2].isoformat()}
                for r in expired[:LIST_LIMIT]
            ],
            "missing_at_inspection": {
                "serials": len(missing),
                "listed": [{"serial": r[0], "seq": int(r[1])} for r in missing[:LIST_LIMIT]],
            },
        }

    def screening(self) -> dict[str, Any] | None:
        row = self.conn.execute(
            select(
                ScreeningSnapshotRow.seq,
                ScreeningSnapshotRow.digest,
                ScreeningSnapshotRow.date,
                ScreeningSnapshotRow.total,
            )
            .where(ScreeningSnapshotRow.seq < self.size)
            .order_by(ScreeningSnapshotRow.seq.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return {
            "seq": row.seq,
            "digest": row.digest,
            "date": row.date.isoformat(),
            "entries": row.total,
        }

    def shipments_of(self, period: Period, *scope: Any) -> list[dict[str, Any]]:
        latest = self._latest()
        rows = self.conn.execute(
            select(
                self.shipment.id,
                self.shipment.seq,
                self.shipment.ship_date,
                self.shipment.destination,
                self.shipment.consignee,
                self.shipment.end_user,
                self.shipment.units,
                self.shipment.license,
                DeterminationRow.verdict,
                DeterminationRow.seq,
            )
            .outerjoin(latest, latest.c.shipment_id == self.shipment.id)
            .outerjoin(DeterminationRow, DeterminationRow.seq == latest.c.seq)
            .where(self._counted(), self._in_period(period), *scope)
            .order_by(self.shipment.ship_date, self.shipment.id)
        ).all()
        return [
            {
                "id": r[0],
                "seq": r[1],
                "ship_date": r[2].isoformat(),
                "destination": r[3],
                "consignee": r[4],
                "end_user": r[5],
                "units": r[6],
                "license": r[7],
                "verdict": r[8] or "unchecked",
                "determination": r[9],
            }
            for r in rows
        ]


# --- the 2026 conditions and location evidence (issue 16) ---------------------------------

CHINA_MACAU = ("CN", "HK", "MO")
CAP_FROM = dt.date(2026, 1, 15)
"""FR 2026-00789 took effect on 2026-01-15: the 50% cap counts from then."""
CAP_SHARE = 0.5
CHARGE_FROM = dt.date(2026, 1, 15)
CHARGE_RATE = 0.25
"""The Presidential Proclamation of 2026-01-14: a 25% duty, from 2026-01-15."""
SHARE_FROM = dt.date(2025, 8, 8)
SHARE_RATE = 0.15
SHARE_PRODUCTS = ("nvidia-h20", "amd-mi308x")
"""The August 2025 licenses: 15% of China revenue from H20 and MI308 sales (news reports)."""
PATH_ECCNS = ("3A090.a", "3A090.b", "4A090.a", "4A090.b")
CONTROLLED_PREFIXES = ("3A090", "4A090")

CHARGE_NOTE = (
    "Computed from the values the exporters declared in the ledger, not a tax or duty "
    "assessment and not an amount owed or paid. The 25% figure applies the rate of the "
    "Presidential Proclamation of 2026-01-14 (a 25% ad valorem duty, effective 2026-01-15, "
    "on imports of certain advanced chips; the news reports call it a levy on China sales) "
    "to the declared value of envelope chips exported from the US to China/Macau on the "
    "case-by-case path; the duty itself falls on the import into the US, at customs "
    "value, which the ledger does not hold. The 15% figure applies the share of China "
    "revenue NVIDIA and AMD agreed to pay on the August 2025 H20/MI308 licenses (news "
    "reports; no Federal Register instrument was found) to the declared value of licensed "
    "H20/MI308 shipments to China/Macau from 2025-08-08; revenue is not the declared value."
)


def _ratio(china: int, us: int) -> str | None:
    return f"{china / us:.4f}" if us else None


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _months(start: dt.date, end: dt.date) -> list[str]:
    out, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


class EvidenceFigures(Figures):
    """The figures the 2026 rule and the chip-tracking proposals ask for."""

    def _path_items(self, *where: Any) -> Any:
        """Shipment items with their product (as determined, else as declared), value, and
        the latest determination's ECCN and policy."""
        latest = self._latest()
        return (
            select(
                self.shipment.id.label("shipment"),
                self.shipment.exporter.label("exporter"),
                self.shipment.destination.label("destination"),
                self.shipment.route.label("route"),
                self.shipment.ship_date.label("ship_date"),
                self.shipment.license.label("license"),
                func.coalesce(DeterminationItemRow.product, self.item.product).label("product"),
                self.item.quantity.label("quantity"),
                (cast(self.item.unit_value, Float) * self.item.quantity).label("value"),
                self.item.currency.label("currency"),
                DeterminationItemRow.eccn.label("eccn"),
                DeterminationItemRow.policy.label("policy"),
            )
            .join(self.shipment_items, self.item.shipment_id == self.shipment.id)
            .outerjoin(latest, latest.c.shipment_id == self.shipment.id)
            .outerjoin(
                DeterminationItemRow,
                and_(
                    DeterminationItemRow.seq == latest.c.seq,
                    DeterminationItemRow.line == self.item.line,
                ),
            )
            .where(self._counted(), *where)
            .subquery("path_items")
        )

    def china_cap(self, period: Period) -> dict[str, Any]:
        """Per product: units exported from the US to China/Macau and units shipped to US
        end users, cumulative from 2026-01-15, at the period's end and at each month's end
        (every exporter), and the ratio against the 50% cap."""
        items = self._path_items(
            self.shipment.ship_date >= CAP_FROM,
            self.shipment.ship_date <= period.end,
            or_(
                and_(
                    self.shipment.destination.in_(CHINA_MACAU),
                    or_(self.shipment.route == "US", self.shipment.route.like("US %")),
                ),
                self.shipment.destination == "US",
            ),
        )
        on_path = or_(
            items.c.destination == "US",
            and_(items.c.policy == "case_by_case", items.c.eccn.in_(PATH_ECCNS)),
        )
        rows = self.conn.execute(
            select(
                items.c.product,
                items.c.ship_date,
                items.c.destination,
                func.sum(items.c.quantity),
            )
            .where(on_path)
            .group_by(items.c.product, items.c.ship_date, items.c.destination)
        ).all()
        per: dict[str, dict[str, dict[str, int]]] = defaultdict(
            lambda: {"china": defaultdict(int), "us": defaultdict(int)}
        )
        in_period: dict[str, dict[str, int]] = defaultdict(lambda: {"china": 0, "us": 0})
        for product, day, destination, units in rows:
            side = "us" if destination == "US" else "china"
            day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
            per[product][side][_month(day)] += int(units)
            if day >= period.start:
                in_period[product][side] += int(units)
        months = _months(max(CAP_FROM, min(period.start, period.end)), period.end)
        if period.end < CAP_FROM:
            months = []
        products = []
        for product in sorted(per):
            sides = per[product]
            if not sum(sides["china"].values()):
                continue  # no China/Macau units: the cap does not bind this product
            by_month = []
            china = us = 0
            every = sorted(set(sides["china"]) | set(sides["us"]) | set(months))
            for month in every:
                china += sides["china"].get(month, 0)
                us += sides["us"].get(month, 0)
                if month in months:
                    by_month.append(
                        {
                            "month": month,
                            "china_units": china,
                            "us_units": us,
                            "ratio": _ratio(china, us),
                        }
                    )
            products.append(
                {
                    "product": product,
                    "china_units": china,
                    "us_units": us,
                    "ratio": _ratio(china, us),
                    "within_cap": china <= CAP_SHARE * us,
                    "period_china_units": in_period[product]["china"],
                    "period_us_units": in_period[product]["us"],
                    "by_month": by_month,
                }
            )
        return {"from": CAP_FROM.isoformat(), "share": f"{CAP_SHARE:.2f}", "products": products}

    def charges(self, period: Period) -> dict[str, Any]:
        """Per exporter and currency: the declared value of envelope chips exported from the
        US to China/Macau on the case-by-case path and 25% of it; the declared value of
        licensed H20/MI308 shipments to China/Macau and 15% of it."""
        in_period = self.shipment.ship_date.between(period.start, period.end)
        envelope = self._path_items(
            in_period,
            self.shipment.ship_date >= CHARGE_FROM,
            self.shipment.destination.in_(CHINA_MACAU),
            or_(self.shipment.route == "US", self.shipment.route.like("US %")),
        )
        rows = self.conn.execute(
            select(
                envelope.c.exporter,
                envelope.c.currency,
                func.count(func.distinct(envelope.c.shipment)),
                func.sum(envelope.c.quantity),
                func.sum(envelope.c.value),
            )
            .where(envelope.c.policy == "case_by_case", envelope.c.eccn.in_(PATH_ECCNS))
            .group_by(envelope.c.exporter, envelope.c.currency)
            .order_by(envelope.c.exporter, envelope.c.currency)
        ).all()
        licensed = self._path_items(
            in_period,
            self.shipment.ship_date >= SHARE_FROM,
            self.shipment.destination.in_(CHINA_MACAU),
            exists(
                select(literal(1)).where(
                    LicenseRow.id == self.shipment.license, LicenseRow.seq < self.size
                )
            ),
        )
        shares = self.conn.execute(
            select(
                licensed.c.exporter,
                licensed.c.currency,
                func.count(func.distinct(licensed.c.shipment)),
                func.sum(licensed.c.quantity),
                func.sum(licensed.c.value),
            )
            .where(licensed.c.product.in_(SHARE_PRODUCTS))
            .group_by(licensed.c.exporter, licensed.c.currency)
            .order_by(licensed.c.exporter, licensed.c.currency)
        ).all()

        def shaped(found: Any, rate: float, key: str) -> list[dict[str, Any]]:
            return [
                {
                    "exporter": exporter,
                    "currency": currency,
                    "shipments": int(shipments),
                    "units": int(units or 0),
                    "value": money_text(value),
                    key: money_text((value or 0.0) * rate),
                }
                for exporter, currency, shipments, units, value in found
            ]

        return {
            "note": CHARGE_NOTE,
            "envelope_25": {
                "rate": f"{CHARGE_RATE:.2f}",
                "from": CHARGE_FROM.isoformat(),
                "by_exporter": shaped(rows, CHARGE_RATE, "charge"),
            },
            "h20_mi308_15": {
                "rate": f"{SHARE_RATE:.2f}",
                "from": SHARE_FROM.isoformat(),
                "products": list(SHARE_PRODUCTS),
                "by_exporter": shaped(shares, SHARE_RATE, "share"),
            },
        }

    def location_gaps(self, period: Period, days: int) -> dict[str, Any]:
        """Controlled serials exported by the period's end (ECCN 3A090/4A090 by their latest
        determination, destination outside the US) with no location measurement in the
        `days` days up to the period's end."""
        latest = self._latest()
        controlled = or_(*(DeterminationItemRow.eccn.like(f"{p}%") for p in CONTROLLED_PREFIXES))
        serials = (
            select(
                self.serial.serial.label("serial"),
                func.max(self.shipment.id).label("shipment"),
                func.max(self.shipment.destination).label("destination"),
            )
            .join(self.shipments, self.shipment.id == self.serial.shipment_id)
            .join(latest, latest.c.shipment_id == self.shipment.id)
            .join(
                DeterminationItemRow,
                and_(
                    DeterminationItemRow.seq == latest.c.seq,
                    DeterminationItemRow.line == self.serial.line,
                    # implied, and said: SQLite then looks serials up by shipment and
                    # line, not by line alone (which scans them all per item)
                    self.serial.shipment_id == latest.c.shipment_id,
                ),
            )
            .where(
                self._counted(),
                self.shipment.ship_date <= period.end,
                self.shipment.destination != "US",
                controlled,
            )
            .group_by(self.serial.serial)
            .subquery("controlled_serials")
        )
        since = dt.datetime.combine(period.end - dt.timedelta(days=days), dt.time(), dt.UTC)
        until = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time(), dt.UTC)
        recent = (
            select(literal(1))
            .select_from(LocationRow)
            .where(
                LocationRow.serial == serials.c.serial,
                LocationRow.seq < self.size,
                LocationRow.measured_at >= since,
                LocationRow.measured_at < until,
            )
        )
        last = (
            select(func.max(LocationRow.measured_at))
            .where(LocationRow.serial == serials.c.serial, LocationRow.seq < self.size)
            .scalar_subquery()
        )
        total = self.conn.execute(select(func.count()).select_from(serials)).scalar() or 0
        gaps = self.conn.execute(
            select(func.count()).select_from(serials).where(~exists(recent))
        ).scalar()
        listed = self.conn.execute(
            select(serials.c.serial, serials.c.shipment, serials.c.destination, last)
            .where(~exists(recent))
            .order_by(serials.c.serial)
            .limit(LIST_LIMIT)
        ).all()
        return {
            "days": days,
            "as_of": period.end.isoformat(),
            "controlled_serials": int(total),
            "without_evidence": int(gaps or 0),
            "listed": [
                {
                    "serial": serial,
                    "shipment": shipment,
                    "destination": destination,
                    "last_measured": _iso_day(measured),
                }
                for serial, shipment, destination, measured in listed
            ],
        }


def _iso_day(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value)[:10]
