"""The figures of the regulator's and exporters' reports, and the auditor's dossiers, on a
small trade with known numbers (tests/reports/scenario.py), on both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from provenance.errors import InputError, NotFoundError
from provenance.reports import build, schema
from provenance.reports.build import NOT_RECOMPUTED
from provenance.reports.figures import Figures
from provenance.reports.periods import parse_period
from provenance.screening import snapshots
from tests.conftest import DATA, World
from tests.ledger.test_custody import END_USE
from tests.reports import scenario
from tests.reports.scenario import H20_TPP, H100_TPP, H100S, Q3, Trade

CSL = DATA / "csl" / "consolidated.csv"
BY_RULE_Q3 = [  # (rule, severity, open); nothing resolved yet
    ("diversion.missing-at-inspection", "blocking", 1),
    ("relabel.serial-registered-to-other-product", "blocking", 1),
    ("diversion.no-end-use-statement", "high", 6),
    ("diversion.restricted-headquarters", "high", 1),
    # SH-HK: meridian's H20s to Hong Kong; the April 2025 letter informed NVIDIA, not
    # meridian (issue 15), so no license is required but the flag asks BIS.
    ("licensing.informed-product-other-exporter", "high", 1),
    ("relabel.undervalued", "high", 1),
    ("relabel.unknown-product-priced-or-coded-as-accelerator", "high", 1),
]


def regulator(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """build.regulator, every report checked against the published schema."""
    report = build.regulator(*args, **kwargs)
    schema.validate(report)
    return report


def exporter(*args: Any, **kwargs: Any) -> dict[str, Any]:
    report = build.exporter(*args, **kwargs)
    schema.validate(report)
    return report


def dossier_report(*args: Any, **kwargs: Any) -> dict[str, Any]:
    report = build.dossier(*args, **kwargs)
    schema.validate(report)
    return report


def tpp(units: int, unit: int = H100_TPP) -> str:
    return f"{units * unit:.1f}"


def recomputed(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in NOT_RECOMPUTED}


def by_rule(report: dict[str, Any]) -> list[tuple[str, str, int, int, int, int, int]]:
    return [
        (
            r["rule"],
            r["severity"],
            r["open"],
            r["cleared"],
            r["confirmed"],
            r["escalated"],
            r["total"],
        )
        for r in report["flags"]["by_rule"]
    ]


# --- the regulator's report for 2026-Q3 --------------------------------------------------------


def test_the_report_names_its_checkpoint_period_and_rule_packs(
    trade: Trade, q3: dict[str, Any]
) -> None:
    signed = trade.ledger.checkpoint().checkpoint
    assert q3["schema"] == build.SCHEMA and q3["kind"] == "regulator"
    assert q3["parameters"] == {
        "kind": "regulator",
        "period": {"from": "2026-07-01", "to": "2026-09-30", "label": "2026-Q3"},
        "location_days": 30,
    }
    assert q3["checkpoint"] == {
        "origin": "test.example/ledger",
        "size": trade.ledger.size(),
        "root": signed.root.hex(),
    }
    assert [p["id"] for p in q3["rule_packs"]] == ["ear-2026-01"]
    assert q3["screening_list"] is None
    assert dt.datetime.fromisoformat(q3["generated_at"]).tzinfo is not None


def test_totals(q3: dict[str, Any]) -> None:
    # SH-SG 4, SH-HK 4 H20, SH-HARBOR 1, SH-AE1 3, SH-AE2 2, SH-RELABEL 2 (H100s, as determined)
    assert q3["totals"] == {
        "shipments": 6,
        "units": 16,
        "tpp": f"{12 * H100_TPP + 4 * H20_TPP:.1f}",
        "h100_equivalents": "12.60",
        "cumulative_tpp": f"{14 * H100_TPP + 4 * H20_TPP:.1f}",  # with SH-Q2's two
        "cumulative_h100_equivalents": "14.60",
    }
    assert q3["totals"]["tpp"] == "199456.0"
    assert q3["totals"]["cumulative_tpp"] == "231120.0"


def test_compute_by_destination_eccn_and_end_user(trade: Trade, q3: dict[str, Any]) -> None:
    blocked = {s for s, d in trade.determinations.items() if d.verdict == "blocked"}
    assert blocked == {"SH-SG", "SH-RELABEL"}
    assert q3["by_destination"] == [
        {
            "destination": "SG",
            "shipments": 3,
            "units": 7,
            "tpp": tpp(7),
            "h100_equivalents": "7.00",
            "cumulative_tpp": tpp(9),
            "cumulative_h100_equivalents": "9.00",
            "blocked_tpp": tpp(6),  # SH-SG's 4 and SH-RELABEL's 2: blocked
            "blocked_h100_equivalents": "6.00",
        },
        {
            "destination": "AE",
            "shipments": 2,
            "units": 5,
            "tpp": tpp(5),
            "h100_equivalents": "5.00",
            "cumulative_tpp": tpp(5),
            "cumulative_h100_equivalents": "5.00",
            "blocked_tpp": "0.0",
            "blocked_h100_equivalents": "0.00",
        },
        {
            "destination": "HK",
            "shipments": 1,
            "units": 4,
            "tpp": tpp(4, H20_TPP),
            "h100_equivalents": "0.60",
            "cumulative_tpp": tpp(4, H20_TPP),
            "cumulative_h100_equivalents": "0.60",
            "blocked_tpp": "0.0",
            "blocked_h100_equivalents": "0.00",
        },
    ]
    assert q3["by_eccn"] == [
        {"eccn": "3A090.a", "shipments": 5, "units": 12, "tpp": tpp(12)},
        {"eccn": "EAR99", "shipments": 1, "units": 4, "tpp": tpp(4, H20_TPP)},
    ]
    assert [
        (
            e["end_user"],
            e["shipments"],
            e["units"],
            e["tpp"],
            e["h100_equivalents"],
            e["cumulative_tpp"],
        )
        for e in q3["by_end_user"]
    ] == [
        ("lion", 3, 7, tpp(7), "7.00", tpp(9)),
        ("falcon", 2, 5, tpp(5), "5.00", tpp(5)),
        ("kowloon", 1, 4, tpp(4, H20_TPP), "0.60", tpp(4, H20_TPP)),
    ]


def test_verdicts_are_the_latest_determinations(trade: Trade, q3: dict[str, Any]) -> None:
    # The shipments without an end-use statement, and SH-HK, are on hold (a high red flag
    # awaits a signed resolution, issue 15).
    assert q3["verdicts"] == {
        "clear": 0,
        "hold": 4,
        "license_required": 0,
        "blocked": 2,
        "unchecked": 0,
    }
    in_q3 = [d for s, d in trade.determinations.items() if s != "SH-Q2"]
    for verdict in ("clear", "hold", "license_required", "blocked"):
        assert q3["verdicts"][verdict] == sum(d.verdict == verdict for d in in_q3)
    assert trade.determinations["SH-RELABEL"].verdict == "blocked"


def test_license_drawdown(q3: dict[str, Any]) -> None:
    assert q3["licenses"] == [
        {
            "id": "L-AE-1",
            "exporter": "meridian",
            "consignee": "falcon",
            "end_user": "falcon",
            "destination": "AE",
            "eccns": ["3A090.a"],
            "valid_from": "2026-07-01",
            "valid_until": "2027-06-30",
            "issued_in_period": True,
            "shipments": 2,
            "quantity_drawn": 5,
            "max_quantity": 10,
            "value_drawn": "150000.00",
            "max_value": "400000.00",
            "currency": "USD",
            "tpp_drawn": tpp(5),
            "max_tpp": "158320",
        }
    ]


def test_flags_by_rule_and_the_oldest_open(trade: Trade, q3: dict[str, Any]) -> None:
    flags = q3["flags"]
    assert by_rule(q3) == [(r, s, n, 0, 0, 0, n) for r, s, n in BY_RULE_Q3]
    assert flags["open_total"] == 12  # SH-HK raises one flag fewer since issue 15
    oldest = flags["oldest_open"]
    assert len(oldest) == 12
    # Oldest first: the flags raised on 2026-08-31, then those of 2026-09-30; by entry within a day.
    assert [f["raised_on"] for f in oldest] == ["2026-08-31"] * 7 + ["2026-09-30"] * 5
    first, second = trade.appended["SH-Q2"].seq, trade.appended["SH-RELABEL"].seq
    assert oldest[0]["id"] == f"F-{first}-0" and oldest[0]["subject"] == "shipment/SH-Q2"
    assert oldest[-1]["id"] == f"F-{second}-3"
    keys = [(f["raised_on"], *map(int, f["id"].split("-")[1:])) for f in oldest]
    assert keys == sorted(keys)
    assert {f["subject"] for f in oldest[7:]} == {"shipment/SH-AE2", "shipment/SH-RELABEL"}
    # By ship date, not by the day the check ran (all of them on 2026-08-31 and 2026-09-30):
    # SH-Q2's in May, SH-SG's in July, SH-HK's, SH-HARBOR's and SH-AE1's in August.
    assert flags["by_month"] == [
        {"month": "2026-05", "high": 1},
        {"month": "2026-07", "blocking": 1},
        {"month": "2026-08", "high": 5},
        {"month": "2026-09", "blocking": 1, "high": 4},
    ]


def test_custody(q3: dict[str, Any]) -> None:
    custody = q3["custody"]
    assert custody["not_received"] == {
        "serials": 10,
        "shipments": 5,
        "listed": [
            {"shipment": "SH-HK", "ship_date": "2026-08-03", "destination": "HK", "serials": 4},
            {"shipment": "SH-HARBOR", "ship_date": "2026-08-05", "destination": "SG", "serials": 1},
            {"shipment": "SH-AE1", "ship_date": "2026-08-20", "destination": "AE", "serials": 1},
            {"shipment": "SH-AE2", "ship_date": "2026-09-10", "destination": "AE", "serials": 2},
            {
                "shipment": "SH-RELABEL",
                "ship_date": "2026-09-18",
                "destination": "SG",
                "serials": 2,
            },
        ],
    }
    assert custody["end_use_missing"]["shipments"] == 5  # all but SH-SG
    assert [s["shipment"] for s in custody["end_use_missing"]["listed"]] == [
        "SH-HK",
        "SH-HARBOR",
        "SH-AE1",
        "SH-AE2",
        "SH-RELABEL",
    ]
    assert custody["end_use_expired"] == []
    assert custody["missing_at_inspection"]["serials"] == 1
    assert [s["serial"] for s in custody["missing_at_inspection"]["listed"]] == [H100S[5]]


def test_the_ledger_was_verified_when_the_report_was_made(trade: Trade, q3: dict[str, Any]) -> None:
    verification = q3["verification"]
    assert verification["ok"] is True
    assert verification["entries"] == verification["size"] == trade.ledger.size()
    assert verification["root"] == q3["checkpoint"]["root"]
    assert "verification" not in regulator(trade.ledger, Q3, verify=False)


def test_the_schema_refuses_what_is_not_a_report(q3: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        schema.validate({**q3, "extra": 1})
    with pytest.raises(ValidationError):
        schema.validate({**q3, "totals": {**q3["totals"], "units": "many"}})
    with pytest.raises(ValidationError):
        schema.validate({**q3, "checkpoint": {**q3["checkpoint"], "root": "zz"}})
    printed = schema.json_schema()
    assert printed["$schema"].startswith("https://json-schema.org/") and len(printed["oneOf"]) == 2


# --- other periods, older tree sizes ----------------------------------------------------------


def test_the_second_quarter_and_a_year_and_a_month(trade: Trade) -> None:
    q2 = regulator(trade.ledger, parse_period("2026-Q2"), verify=False)
    schema.validate(q2)
    assert q2["totals"] == {
        "shipments": 1,
        "units": 2,
        "tpp": tpp(2),
        "h100_equivalents": "2.00",
        "cumulative_tpp": tpp(2),
        "cumulative_h100_equivalents": "2.00",
    }
    assert q2["verdicts"] == {
        "clear": 0,
        "hold": 1,
        "license_required": 0,
        "blocked": 0,
        "unchecked": 0,
    }
    assert q2["licenses"] == []  # L-AE-1 is valid from 2026-07-01
    assert q2["flags"]["by_rule"] == [] and q2["flags"]["open_total"] == 0  # raised in Q3
    assert q2["custody"]["not_received"]["serials"] == 0
    assert [s["shipment"] for s in q2["custody"]["end_use_missing"]["listed"]] == ["SH-Q2"]

    year = regulator(trade.ledger, parse_period("2026"), verify=False)
    schema.validate(year)
    assert (year["totals"]["shipments"], year["totals"]["units"]) == (7, 18)
    assert year["totals"]["tpp"] == year["totals"]["cumulative_tpp"] == "231120.0"
    assert year["licenses"][0]["issued_in_period"] is True

    september = regulator(trade.ledger, parse_period("2026-09"), verify=False)
    assert september["totals"]["shipments"] == 2 and september["totals"]["units"] == 4
    assert september["licenses"][0]["issued_in_period"] is False
    assert september["licenses"][0]["quantity_drawn"] == 5  # drawn since it was issued
    assert [(r[0], r[2]) for r in by_rule(september)] == [
        ("relabel.serial-registered-to-other-product", 1),
        ("diversion.no-end-use-statement", 2),
        ("relabel.undervalued", 1),
        ("relabel.unknown-product-priced-or-coded-as-accelerator", 1),
    ]
    assert september["flags"]["open_total"] == 12  # open flags raised up to the period's end

    before = regulator(trade.ledger, parse_period("2025"), verify=False)
    assert before["totals"]["shipments"] == 0 and before["totals"]["tpp"] == "0.0"
    assert before["by_destination"] == [] and before["licenses"] == []


def test_a_report_at_an_older_size_has_the_figures_of_that_time(trade: Trade) -> None:
    """At the checkpoint before the second check, SH-AE2 and SH-RELABEL were unchecked and
    SH-RELABEL's declared product (not in the catalog) had no TPP."""
    size = trade.appended["SH-AE2"].seq
    older = regulator(trade.ledger, Q3, size=size, verify=False)
    schema.validate(older)
    assert older["checkpoint"]["size"] == size
    assert older["checkpoint"]["root"] == trade.ledger.checkpoint(size).checkpoint.root.hex()
    assert older["totals"]["shipments"] == 6 and older["totals"]["units"] == 16
    assert older["totals"]["tpp"] == f"{10 * H100_TPP + 4 * H20_TPP:.1f}"
    assert older["verdicts"] == {
        "clear": 0,
        "hold": 3,
        "license_required": 0,
        "blocked": 1,
        "unchecked": 2,
    }
    assert older["by_eccn"] == [
        {"eccn": "3A090.a", "shipments": 3, "units": 8, "tpp": tpp(8)},
        {"eccn": "EAR99", "shipments": 1, "units": 4, "tpp": tpp(4, H20_TPP)},
        {"eccn": "unchecked", "shipments": 2, "units": 4, "tpp": tpp(2)},  # the relabeled: 0
    ]
    assert older["flags"]["open_total"] == 7
    assert older["flags"]["by_month"] == [
        {"month": "2026-05", "high": 1},
        {"month": "2026-07", "blocking": 1},
        {"month": "2026-08", "high": 5},
    ]
    # The same report at the same size, computed again, is the same.
    again = regulator(trade.ledger, Q3, size=size, verify=False)
    assert recomputed(again) == recomputed(older)


def test_a_size_with_no_signed_checkpoint_is_refused(trade: Trade) -> None:
    with pytest.raises(NotFoundError, match="no checkpoint was signed at tree size"):
        regulator(trade.ledger, Q3, size=trade.ledger.size() + 5, verify=False)
    inside_a_batch = trade.appended["SH-Q2"].seq + 1  # the checks are appended all at once
    with pytest.raises(NotFoundError):
        regulator(trade.ledger, Q3, size=inside_a_batch, verify=False)


def test_appending_does_not_change_a_report_at_its_size(fresh: Trade) -> None:
    ledger = fresh.ledger
    first = regulator(ledger, Q3, verify=False)
    size = first["checkpoint"]["size"]
    fresh.story.manufacture(["LATE-1", "LATE-2", "LATE-3"])
    fresh.sign_as(
        "meridian",
        scenario.shipment(
            "SH-LATE", "2026-09-25", "HK", "kowloon", scenario.line(["LATE-1", "LATE-2", "LATE-3"])
        ),
    )
    fresh.check(["SH-LATE"], scenario.SECOND_CHECK)
    pinned = regulator(ledger, Q3, size=size, verify=False)
    assert recomputed(pinned) == recomputed(first)
    latest = regulator(ledger, Q3, verify=False)
    assert latest["checkpoint"]["size"] == ledger.size() > size
    assert latest["totals"]["shipments"] == 7 and latest["totals"]["units"] == 19
    assert latest["totals"]["tpp"] == f"{15 * H100_TPP + 4 * H20_TPP:.1f}"
    hk = next(d for d in latest["by_destination"] if d["destination"] == "HK")
    assert (hk["shipments"], hk["units"]) == (2, 7)
    assert latest["flags"]["open_total"] > first["flags"]["open_total"]

    # The screening list in force: none at first, then the one imported (in the quarter).
    assert first["screening_list"] is None
    imported = snapshots.import_list(
        ledger,
        CSL.read_bytes(),
        name=CSL.name,
        signers=[fresh.world.operator],
        date=dt.date(2026, 9, 15),
    )
    listed = regulator(ledger, Q3, verify=True)
    schema.validate(listed)
    assert listed["screening_list"] == {
        "seq": imported.seq,
        "digest": imported.digest,
        "date": "2026-09-15",
        "entries": imported.total,
    }
    assert listed["verification"]["ok"] is True
    assert regulator(ledger, Q3, size=size, verify=False)["screening_list"] is None


def test_a_resolved_flag_moves_from_open_to_its_status(fresh: Trade) -> None:
    relabel = fresh.appended["SH-RELABEL"].seq
    missing = fresh.appended["SH-SG"].seq
    before = regulator(fresh.ledger, Q3, verify=False)
    fresh.sign_as(
        "bis",
        {
            "kind": "resolution",
            "flag": f"F-{relabel}-0",
            "status": "confirmed",
            "reason": "relabeled",
        },
    )
    fresh.sign_as(
        "bis",
        {"kind": "resolution", "flag": f"F-{missing}-0", "status": "cleared", "reason": "found it"},
    )
    after = regulator(fresh.ledger, Q3, verify=True)
    schema.validate(after)
    rows = {r[0]: r for r in by_rule(after)}
    assert rows["relabel.serial-registered-to-other-product"] == (
        "relabel.serial-registered-to-other-product",
        "blocking",
        0,
        0,
        1,
        0,
        1,
    )
    assert rows["diversion.missing-at-inspection"] == (
        "diversion.missing-at-inspection",
        "blocking",
        0,
        1,
        0,
        0,
        1,
    )
    assert after["flags"]["open_total"] == before["flags"]["open_total"] - 2 == 10
    assert {f"F-{relabel}-0", f"F-{missing}-0"}.isdisjoint(
        f["id"] for f in after["flags"]["oldest_open"]
    )
    # At the size before the resolutions, both are still open.
    pinned = regulator(fresh.ledger, Q3, size=before["checkpoint"]["size"], verify=False)
    assert pinned["flags"] == before["flags"]


# --- the exporter's report --------------------------------------------------------------------


def test_an_exporter_report_counts_only_that_exporter(trade: Trade, q3: dict[str, Any]) -> None:
    harbor = exporter(trade.ledger, "harbor", Q3)
    schema.validate(harbor)
    assert harbor["parameters"] == {"kind": "exporter", "party": "harbor", "period": Q3.to_json()}
    assert harbor["totals"] == {
        "shipments": 1,
        "units": 1,
        "tpp": tpp(1),
        "h100_equivalents": "1.00",
        "cumulative_tpp": tpp(1),
        "cumulative_h100_equivalents": "1.00",
    }
    assert [s["id"] for s in harbor["shipments"]] == ["SH-HARBOR"]
    assert harbor["shipments"][0]["verdict"] == "hold"  # no end-use statement
    assert harbor["shipments"][0]["determination"] == trade.appended["SH-HARBOR"].seq
    assert harbor["licenses"] == []
    assert [(r[0], r[2]) for r in by_rule(harbor)] == [("diversion.no-end-use-statement", 1)]
    assert harbor["custody"]["not_received"]["serials"] == 1
    assert "verification" not in harbor

    meridian = exporter(trade.ledger, "meridian", parse_period("2026"))
    schema.validate(meridian)
    assert meridian["totals"]["shipments"] == 6 and meridian["totals"]["units"] == 17
    assert [s["id"] for s in meridian["shipments"]] == [
        "SH-Q2",
        "SH-SG",
        "SH-HK",
        "SH-AE1",
        "SH-AE2",
        "SH-RELABEL",
    ]
    assert [lic["id"] for lic in meridian["licenses"]] == ["L-AE-1"]
    assert meridian["flags"]["open_total"] == q3["flags"]["open_total"] - 1
    # The two exporters' Q3 figures add up to the regulator's.
    meridian_q3 = exporter(trade.ledger, "meridian", Q3)
    assert meridian_q3["totals"]["units"] + harbor["totals"]["units"] == q3["totals"]["units"]
    assert {k: meridian_q3["verdicts"][k] + harbor["verdicts"][k] for k in q3["verdicts"]} == q3[
        "verdicts"
    ]


def test_an_exporter_report_of_an_unknown_party_is_not_found(trade: Trade) -> None:
    with pytest.raises(NotFoundError, match="no party 'ghost'"):
        exporter(trade.ledger, "ghost", Q3)


def test_an_exporter_report_shows_only_its_own_serials_missing_at_inspection(
    trade: Trade,
) -> None:
    harbor = exporter(trade.ledger, "harbor", Q3)
    assert harbor["custody"]["missing_at_inspection"] == {"serials": 0, "listed": []}
    meridian = exporter(trade.ledger, "meridian", Q3)  # SH-SG's serial
    assert [s["serial"] for s in meridian["custody"]["missing_at_inspection"]["listed"]] == [
        H100S[5]
    ]


def test_a_report_counts_the_inspections_of_its_period(trade: Trade) -> None:
    q2 = regulator(trade.ledger, parse_period("2026-Q2"), verify=False)
    # The only inspection was on 2026-09-01.
    assert q2["custody"]["missing_at_inspection"]["serials"] == 0


def test_an_exporter_report_lists_only_its_own_expired_end_use_statements(fresh: Trade) -> None:
    fresh.sign_as(
        "falcon",
        {**END_USE, "shipments": ["SH-AE1"], "date": "2026-08-01", "valid_until": "2026-09-15"},
    )
    whole = regulator(fresh.ledger, Q3, verify=False)
    assert [e["end_user"] for e in whole["custody"]["end_use_expired"]] == ["falcon"]
    harbor = exporter(fresh.ledger, "harbor", Q3)  # harbor shipped nothing to falcon
    assert harbor["custody"]["end_use_expired"] == []


def test_an_end_use_statement_naming_the_serials_covers_the_shipment(world: World) -> None:
    trade = scenario.build(world, check=False)
    trade.sign_as(
        "lion",
        {
            **END_USE,
            "shipments": [],
            "serials": scenario.SHIPPED["SH-HARBOR"],
            "date": "2026-08-01",
            "valid_until": "2027-08-01",
        },
    )
    trade.check(["SH-HARBOR"], scenario.FIRST_CHECK)
    rules = {f["rule"] for f in trade.determinations["SH-HARBOR"].flags}
    assert "diversion.no-end-use-statement" not in rules  # the rules see it covered
    report = regulator(trade.ledger, Q3, verify=False)
    assert "SH-HARBOR" not in [
        s["shipment"] for s in report["custody"]["end_use_missing"]["listed"]
    ]


def test_verdicts_are_counted_on_every_database(trade: Trade) -> None:
    """Figures.verdicts alone: on PostgreSQL its GROUP BY must be the selected expression."""
    with trade.ledger.store.read() as conn:
        counted = Figures(conn, trade.ledger.size()).verdicts(Q3)
    assert counted == {"clear": 0, "hold": 4, "license_required": 0, "blocked": 2, "unchecked": 0}


# --- dossiers ---------------------------------------------------------------------------------


def test_the_dossier_of_a_chip(trade: Trade) -> None:
    dossier = dossier_report(trade.ledger, "chip", H100S[5])
    schema.validate(dossier)
    assert dossier["kind"] == "chip"
    assert dossier["parameters"] == {"kind": "chip", "subject": H100S[5]}
    assert dossier["checkpoint"]["size"] == trade.ledger.size()
    assert dossier["subject"]["serial"] == H100S[5]
    assert dossier["subject"]["product"] == "nvidia-h100-sxm5"
    assert dossier["subject"]["state"] == "missing"
    kinds = [e["kind"] for e in dossier["entries"]]
    assert kinds == ["manufacture", "end-use", "shipment", "receipt", "inspection"]
    assert [e["signer"] for e in dossier["entries"]] == [
        "nvidia",
        "lion",
        "meridian",
        "lion",
        "straits",
    ]
    size, root = dossier["checkpoint"]["size"], dossier["checkpoint"]["root"]
    for entry in dossier["entries"]:
        assert entry["proof"]["verified"] is True and entry["proof"]["signature"] is True
        assert (entry["proof"]["tree_size"], entry["proof"]["root"]) == (size, root)
        assert entry["seq"] < size


def test_the_dossier_of_a_shipment(trade: Trade) -> None:
    dossier = dossier_report(trade.ledger, "shipment", "SH-AE1")
    schema.validate(dossier)
    assert dossier["subject"]["id"] == "SH-AE1" and dossier["subject"]["units"] == 3
    kinds = [e["kind"] for e in dossier["entries"]]
    assert kinds == ["shipment", "receipt", "determination"]
    assert [e["signer"] for e in dossier["entries"]] == ["meridian", "falcon", "operator"]
    assert dossier["entries"][-1]["seq"] == trade.appended["SH-AE1"].seq
    assert all(e["proof"]["verified"] for e in dossier["entries"])
    assert [e["seq"] for e in dossier["entries"]] == sorted(e["seq"] for e in dossier["entries"])


def test_a_dossier_at_an_older_size_lists_only_what_was_there(trade: Trade) -> None:
    size = trade.appended["SH-Q2"].seq  # the checkpoint before the first checks
    dossier = dossier_report(trade.ledger, "shipment", "SH-AE1", size=size)
    assert [e["kind"] for e in dossier["entries"]] == ["shipment", "receipt"]
    assert all(e["proof"]["tree_size"] == size for e in dossier["entries"])
    chip = dossier_report(trade.ledger, "chip", H100S[6], size=size)
    assert [e["kind"] for e in chip["entries"]] == ["manufacture", "shipment", "receipt"]


def test_dossiers_of_what_is_not_there(trade: Trade) -> None:
    with pytest.raises(NotFoundError):
        dossier_report(trade.ledger, "chip", "NO-SUCH-SERIAL")
    with pytest.raises(NotFoundError):
        dossier_report(trade.ledger, "shipment", "SH-404")
    with pytest.raises(InputError, match="no dossier of kind"):
        dossier_report(trade.ledger, "party", "meridian")


def test_a_report_written_to_a_file_is_the_same_json(tmp_path: Path, q3: dict[str, Any]) -> None:
    import json

    from provenance.reports import render

    path = tmp_path / "q3.json"
    path.write_text(render.render(q3, "json"), encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == q3
