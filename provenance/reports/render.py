"""Reports for people: Markdown, CSV and a single self-contained HTML page."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from provenance.reports import charts

FORMATS = ("md", "html", "json", "csv")


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        return markdown(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "html":
        return html(report)
    raise ValueError(fmt)


def _title(report: dict[str, Any]) -> str:
    params = report["parameters"]
    if report["kind"] == "regulator":
        return f"Export compliance report, {params['period']['label']}"
    if report["kind"] == "exporter":
        return f"Exporter report: {params['party']}, {params['period']['label']}"
    return f"Dossier of {report['kind']} {params['subject']}"


_DECIMAL = re.compile(r"-?[0-9]+\.[0-9]+")


def number(value: Any) -> Any:
    """A figure as a person reads it: thousands separators, no trailing `.0` (a decimal
    string of the report, such as TPP "126656.0", or an integer); anything else as is."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        whole, _, fraction = value.partition(".")
        fraction = fraction.rstrip("0")
        grouped = f"{int(whole):,}" if whole not in ("-0",) else "-0"
        return f"{grouped}.{fraction}" if fraction else grouped
    return value


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out.extend("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in rows)
    return out


_COMPUTE = ("shipments", "units", "tpp", "h100_equivalents", "cumulative_tpp")


def _picked(rows: list[dict[str, Any]], *keys: str) -> list[list[Any]]:
    """The table cells: these keys of each row, in order."""
    return [[row[k] if k in _TEXT else number(row[k]) for k in keys] for row in rows]


_TEXT = frozenset({"destination", "eccn", "end_user", "license", "exporter", "currency"})


def markdown(report: dict[str, Any]) -> str:
    cp = report["checkpoint"]
    lines = [f"# {_title(report)}", ""]
    lines.append(
        f"Computed at checkpoint `{cp['origin']}` size {cp['size']}, root `{cp['root']}`; "
        f"generated {report['generated_at']}."
    )
    if report["kind"] in ("chip", "shipment"):
        lines += ["", "## Entries", ""]
        lines += _table(
            ["seq", "date", "kind", "signer", "summary", "proof"],
            [
                [
                    e["seq"],
                    e.get("date") or "",
                    e["kind"],
                    e["signer"],
                    e["summary"],
                    "verified" if e["proof"]["verified"] else "NOT verified",
                ]
                for e in report["entries"]
            ],
        )
        return "\n".join(lines) + "\n"
    packs = ", ".join(f"{p['id']} (`{p['digest'][:16]}`)" for p in report["rule_packs"])
    screening = report.get("screening_list")
    lines.append(
        f"Rule packs: {packs or 'none'}. Screening list: "
        + (f"`{screening['digest'][:16]}` of {screening['date']}." if screening else "none.")
    )
    verification = report.get("verification")
    if verification:
        lines.append(
            "Ledger verification: "
            + (
                f"passed ({verification['entries']} entries)."
                if verification["ok"]
                else f"FAILED: {verification['error']}"
            )
        )
    t = report["totals"]
    v = report["verdicts"]
    lines += [
        "",
        f"**{number(t['shipments'])} shipments, {number(t['units'])} units, TPP "
        f"{number(t['tpp'])} ({number(t['h100_equivalents'])} H100-equivalents)**; since "
        f"the first entry TPP {number(t['cumulative_tpp'])} "
        f"({number(t['cumulative_h100_equivalents'])} H100-eq.). "
        f"Verdicts: {v['blocked']} blocked, {v['license_required']} license required, "
        f"{v.get('hold', 0)} hold, {v['clear']} clear, {v['unchecked']} unchecked.",
        "",
        "## Compute by destination",
        "",
    ]
    lines += _table(
        ["destination", "shipments", "units", "TPP", "H100-eq.", "cumulative TPP"],
        _picked(report["by_destination"], "destination", *_COMPUTE),
    )
    lines += ["", "## Units by ECCN", ""]
    lines += _table(
        ["ECCN", "shipments", "units", "TPP"],
        _picked(report["by_eccn"], "eccn", "shipments", "units", "tpp"),
    )
    lines += ["", "## Compute by end user", ""]
    lines += _table(
        ["end user", "shipments", "units", "TPP", "H100-eq.", "cumulative TPP"],
        _picked(report["by_end_user"], "end_user", *_COMPUTE),
    )
    lines += ["", "## Licenses", ""]
    lines += _table(
        [
            "license",
            "exporter",
            "destination",
            "valid",
            "units drawn / max",
            "value drawn / max",
            "TPP drawn / max",
        ],
        [
            [
                lic["id"],
                lic["exporter"],
                lic["destination"],
                f"{lic['valid_from']}..{lic['valid_until']}",
                f"{lic['quantity_drawn']} / {lic['max_quantity'] or '-'}",
                f"{lic['value_drawn']} / {lic['max_value'] or '-'}",
                f"{lic['tpp_drawn']} / {lic['max_tpp'] or '-'}",
            ]
            for lic in report["licenses"]
        ],
    )
    flags = report["flags"]
    lines += ["", "## Red flags", ""]
    lines += _table(
        ["rule", "severity", "open", "cleared", "confirmed", "escalated", "closed"],
        _picked(
            flags["by_rule"],
            *("rule", "severity", "open", "cleared", "confirmed", "escalated", "closed"),
        ),
    )
    lines += ["", f"Oldest open flags ({flags['open_total']} open):", ""]
    lines += _table(
        ["flag", "raised", "severity", "about", "message"],
        _picked(flags["oldest_open"], "id", "raised_on", "severity", "subject", "message"),
    )
    c = report["custody"]
    lines += [
        "",
        "## Custody",
        "",
        f"- Serials not received: {c['not_received']['serials']} in "
        f"{c['not_received']['shipments']} shipments.",
        f"- Shipments with no end-use statement valid on the ship date: "
        f"{c['end_use_missing']['shipments']}.",
        f"- End-use statements that expired in the period: {len(c['end_use_expired'])}.",
        f"- Serials missing at inspection: {c['missing_at_inspection']['serials']}.",
    ]
    lines += _evidence_markdown(report)
    lines += [
        "",
        f"Check it: `provenance report verify REPORT.json` recomputes every figure at size "
        f"{cp['size']}.",
    ]
    return "\n".join(lines) + "\n"


def _evidence_markdown(report: dict[str, Any]) -> list[str]:
    """The 2026 conditions and location evidence (regulator reports)."""
    lines: list[str] = []
    cap = report.get("china_cap")
    if cap is not None:
        lines += [
            "",
            "## The 50% cap (FR 2026-00789)",
            "",
            f"Units exported from the US to China/Macau against units shipped to US end "
            f"users, per product, cumulative from {cap['from']}, every exporter; the cap is "
            f"{float(cap['share']):.0%}.",
            "",
        ]
        lines += _table(
            ["product", "China/Macau", "US end users", "ratio", "within cap", "in period"],
            [
                [
                    p["product"],
                    p["china_units"],
                    p["us_units"],
                    p["ratio"] or "no US units",
                    "yes" if p["within_cap"] else "NO",
                    f"{p['period_china_units']} / {p['period_us_units']}",
                ]
                for p in cap["products"]
            ],
        )
    charges = report.get("charges")
    if charges is not None:
        lines += ["", "## The 25% charge and the 15% share", "", charges["note"], ""]
        for key, label, field in (
            ("envelope_25", "25% of envelope chips to China/Macau", "charge"),
            ("h20_mi308_15", "15% of licensed H20/MI308 to China/Macau", "share"),
        ):
            block = charges[key]
            lines += [f"{label} (from {block['from']}):", ""]
            lines += _table(
                ["exporter", "currency", "shipments", "units", "declared value", field],
                _picked(
                    block["by_exporter"], "exporter", "currency", "shipments", "units", "value",
                    field,
                ),
            )  # fmt: skip
            lines.append("")
    location = report.get("location_evidence")
    if location is not None:
        lines += [
            "## Location evidence",
            "",
            f"{location['without_evidence']} of {location['controlled_serials']} controlled "
            f"serials exported have no location measurement in the {location['days']} days "
            f"to {location['as_of']}.",
            "",
        ]
        lines += _table(
            ["serial", "shipment", "destination", "last measured"],
            [
                [g["serial"], g["shipment"], g["destination"], g["last_measured"] or "never"]
                for g in location["listed"]
            ],
        )
    return lines


def to_csv(report: dict[str, Any]) -> str:
    """Every table of the report, one row per line, the first column naming the table."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["table", "key", "field", "value"])
    cp = report["checkpoint"]
    for key in ("origin", "size", "root"):
        writer.writerow(["checkpoint", "", key, cp[key]])
    if report["kind"] in ("chip", "shipment"):
        for e in report["entries"]:
            for field in ("kind", "signer", "date", "summary"):
                writer.writerow(["entries", e["seq"], field, e.get(field) or ""])
        return out.getvalue()
    for field, value in report["totals"].items():
        writer.writerow(["totals", "", field, value])
    for field, value in report["verdicts"].items():
        writer.writerow(["verdicts", "", field, value])
    tables = {
        "by_destination": "destination",
        "by_eccn": "eccn",
        "by_end_user": "end_user",
        "licenses": "id",
    }
    for table, key in tables.items():
        for row in report[table]:
            for field, value in row.items():
                if field != key:
                    writer.writerow([table, row[key], field, _cell(value)])
    for row in report["flags"]["by_rule"]:
        for field, value in row.items():
            if field != "rule":
                writer.writerow(["flags", row["rule"], field, value])
    for table in ("not_received", "end_use_missing", "missing_at_inspection"):
        block = report["custody"][table]
        for field, value in block.items():
            if field != "listed":
                writer.writerow([f"custody.{table}", "", field, value])
    cap = report.get("china_cap")
    if cap is not None:
        for p in cap["products"]:
            for field, value in p.items():
                if field not in ("product", "by_month"):
                    writer.writerow(["china_cap", p["product"], field, _cell(value)])
            for m in p["by_month"]:
                for field in ("china_units", "us_units", "ratio"):
                    key = f"{p['product']} {m['month']}"
                    writer.writerow(["china_cap.by_month", key, field, _cell(m[field])])
    charges = report.get("charges")
    if charges is not None:
        writer.writerow(["charges", "", "note", charges["note"]])
        for table in ("envelope_25", "h20_mi308_15"):
            for row in charges[table]["by_exporter"]:
                key = f"{row['exporter']} {row['currency']}"
                for field, value in row.items():
                    if field not in ("exporter", "currency"):
                        writer.writerow([f"charges.{table}", key, field, value])
    location = report.get("location_evidence")
    if location is not None:
        for field in ("days", "as_of", "controlled_serials", "without_evidence"):
            writer.writerow(["location_evidence", "", field, location[field]])
        for g in location["listed"]:
            writer.writerow(["location_evidence.listed", g["serial"], "last_measured",
                             _cell(g["last_measured"])])  # fmt: skip
    return out.getvalue()


def _cell(value: Any) -> Any:
    return " ".join(value) if isinstance(value, list) else ("" if value is None else value)


_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
)
_ENV.filters["num"] = number


def html(report: dict[str, Any]) -> str:
    if report["kind"] in ("chip", "shipment"):
        body = markdown(report)
        from html import escape

        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>"
            f"{escape(_title(report))}</title></head><body><pre>{escape(body)}</pre></body></html>"
        )
    plots = {
        "destination": charts.split_bars(
            "Compute by destination, exported and blocked (H100-equivalents)",
            [
                (
                    d["destination"],
                    float(d["h100_equivalents"]) - float(d["blocked_h100_equivalents"]),
                    float(d["blocked_h100_equivalents"]),
                )
                for d in report["by_destination"]
            ],
            "H100-eq.",
        ),
        "flags": charts.stacked_months(
            "Red flags per month of their shipment's ship date (last 12 months)",
            report["flags"]["by_month"],
        ),
        "drawdown": charts.drawdown(
            "License drawdown (share of the tightest limit)",
            [_tightest(lic) for lic in report["licenses"] if _tightest(lic)[2]],
        ),
    }
    cap = report.get("china_cap")
    if cap is not None:
        plots["china_cap"] = charts.ratio_months(
            "China/Macau units as a share of US end-user units (cumulative), per product",
            {p["product"]: p["by_month"] for p in cap["products"]},
            float(cap["share"]),
        )
    template = _ENV.get_template("report.html.j2")
    return template.render(r=report, title=_title(report), charts=plots)


def _tightest(lic: dict[str, Any]) -> tuple[str, float, float]:
    """(license, used, limit) of its most-drawn limit (0 limit when it has none)."""
    pairs = [
        (float(lic["quantity_drawn"]), float(lic["max_quantity"] or 0)),
        (float(lic["value_drawn"]), float(lic["max_value"] or 0)),
        (float(lic["tpp_drawn"]), float(lic["max_tpp"] or 0)),
    ]
    best = max(
        ((used, limit) for used, limit in pairs if limit), key=lambda p: p[0] / p[1], default=None
    )
    if best is None:
        return (lic["id"], 0.0, 0.0)
    return (lic["id"], best[0], best[1])
