"""Inline SVG plots for the HTML report: no scripts, no network, escaped text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = {
    "blocking": "#b3261e",
    "high": "#e46c0a",
    "warning": "#d4a106",
    "info": "#5c7cfa",
    "bar": "#2f6f9f",
    "limit": "#999999",
}


def bars(title: str, rows: Sequence[tuple[str, float]], unit: str = "", width: int = 640) -> str:
    """Horizontal bars, one per (label, value), largest first as given."""
    if not rows:
        return _empty(title, width)
    row_h, left, top = 22, 150, 30
    height = top + row_h * len(rows) + 10
    peak = max(value for _, value in rows) or 1.0
    span = width - left - 90
    parts = [_open(width, height, title), _title(title)]
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        w = max(1.0, span * value / peak)
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{escape(label)}</text>"
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
            f'fill="{PALETTE["bar"]}"><title>{escape(label)}: {value:,.2f} {escape(unit)}</title>'
            f"</rect>"
            f'<text x="{left + w + 4:.1f}" y="{y + 15}" font-size="11">{value:,.2f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def split_bars(
    title: str, rows: Sequence[tuple[str, float, float]], unit: str = "", width: int = 640
) -> str:
    """Horizontal bars, one per (label, exported, blocked): the exported part, then the
    blocked part in red, the total at the end; a legend below."""
    if not rows:
        return _empty(title, width)
    row_h, left, top = 22, 150, 30
    height = top + row_h * len(rows) + 28
    peak = max(exported + blocked for _, exported, blocked in rows) or 1.0
    span = width - left - 90
    parts = [_open(width, height, title), _title(title)]
    for i, (label, exported, blocked) in enumerate(rows):
        y = top + i * row_h
        x = float(left)
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{escape(label)}</text>"
        )
        for part, value, color in (
            ("exported", exported, PALETTE["bar"]),
            ("blocked", blocked, PALETTE["blocking"]),
        ):
            if not value and (part == "blocked" or blocked):
                continue
            w = max(1.0, span * value / peak)
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                f'fill="{color}"><title>{escape(label)}: {value:,.2f} {escape(unit)} {part}'
                f"</title></rect>"
            )
            x += w
        parts.append(
            f'<text x="{x + 4:.1f}" y="{y + 15}" font-size="11">{exported + blocked:,.2f}</text>'
        )
    legend_y = height - 14
    parts.append(
        f'<rect x="{left}" y="{legend_y}" width="10" height="10" fill="{PALETTE["bar"]}"/>'
        f'<text x="{left + 14}" y="{legend_y + 9}" font-size="11">exported</text>'
        f'<rect x="{left + 90}" y="{legend_y}" width="10" height="10" '
        f'fill="{PALETTE["blocking"]}"/><text x="{left + 104}" y="{legend_y + 9}" '
        f'font-size="11">blocked (the latest determination)</text></svg>'
    )
    return "".join(parts)


def stacked_months(title: str, months: Sequence[dict[str, object]], width: int = 640) -> str:
    """Vertical bars per month, stacked by severity."""
    if not months:
        return _empty(title, width)
    order = ["blocking", "high", "warning", "info"]
    height, top, bottom, left = 220, 30, 40, 40
    totals = [sum(int(m.get(s, 0) or 0) for s in order) for m in months]  # type: ignore[call-overload]
    peak = max(totals) or 1
    slot = min(60.0, (width - left - 10) / len(months))
    plot_h = height - top - bottom
    parts = [_open(width, height, title), _title(title)]
    for i, month in enumerate(months):
        x = left + i * slot + slot * 0.15
        y = height - bottom
        for severity in order:
            n = int(month.get(severity, 0) or 0)  # type: ignore[call-overload]
            if not n:
                continue
            h = plot_h * n / peak
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[severity]}"><title>{escape(str(month["month"]))}: '
                f"{n} {severity}</title></rect>"
            )
        parts.append(
            f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 14}" font-size="10" '
            f'text-anchor="middle">{escape(str(month["month"]))}</text>'
        )
    legend_x = left
    for severity in order:
        parts.append(
            f'<rect x="{legend_x}" y="{height - 14}" width="10" height="10" '
            f'fill="{PALETTE[severity]}"/><text x="{legend_x + 14}" y="{height - 5}" '
            f'font-size="11">{severity}</text>'
        )
        legend_x += 80
    parts.append("</svg>")
    return "".join(parts)


LIMIT_LINE = "dashed line: 100%, all of the license's tightest limit (units, value or TPP) drawn"


def drawdown(title: str, rows: Sequence[tuple[str, float, float]], width: int = 640) -> str:
    """Per license: share of its limit drawn (0-100%+), the limit marked at 100% by a
    dashed line that a note under the bars names."""
    if not rows:
        return _empty(title, width)
    row_h, left, top = 22, 150, 30
    height = top + row_h * len(rows) + 28
    span = width - left - 90
    parts = [_open(width, height, title), _title(title)]
    for i, (label, used, limit) in enumerate(rows):
        y = top + i * row_h
        share = used / limit if limit else 0.0
        w = max(1.0, span * min(share, 1.5) / 1.5)
        color = PALETTE["blocking"] if share > 1 else PALETTE["bar"]
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{escape(label)}</text>"
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{color}">'
            f"<title>{escape(label)}: {100 * share:.0f}% of the limit</title></rect>"
            f'<text x="{left + w + 4:.1f}" y="{y + 15}" font-size="11">{100 * share:.0f}%</text>'
        )
    limit_x = left + span / 1.5
    parts.append(
        f'<line x1="{limit_x:.1f}" y1="{top - 4}" x2="{limit_x:.1f}" y2="{height - 24}" '
        f'stroke="{PALETTE["limit"]}" stroke-dasharray="4 3"><title>{escape(LIMIT_LINE)}'
        f'</title></line><text x="{limit_x + 3:.1f}" y="{top - 6}" font-size="10">limit (100%)'
        f'</text><text x="{left}" y="{height - 6}" font-size="11" fill="#555">'
        f"{escape(LIMIT_LINE)}</text></svg>"
    )
    return "".join(parts)


LINES = ("#2f6f9f", "#e46c0a", "#2e7d32", "#6a1b9a", "#00838f", "#5d4037")


def ratio_months(
    title: str,
    series: Mapping[str, Sequence[Mapping[str, object]]],
    cap: float,
    width: int = 640,
) -> str:
    """Lines per product of the cumulative ratio by month (months with no US units are
    left out of a line), with the cap as a dashed line."""
    months = sorted({str(m["month"]) for rows in series.values() for m in rows})
    points = {
        product: [
            (months.index(str(m["month"])), float(str(m["ratio"])))
            for m in rows
            if m.get("ratio") is not None
        ]
        for product, rows in series.items()
    }
    if not months or not any(points.values()):
        return _empty(title, width)
    height, top, bottom, left, right = 240, 30, 50, 44, 12
    peak = max([cap * 1.5, *(r for pts in points.values() for _, r in pts)])
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(months) - 1)

    def x(i: int) -> float:
        return left + (i * step if len(months) > 1 else plot_w / 2)

    def y(r: float) -> float:
        return top + plot_h * (1 - r / peak)

    parts = [_open(width, height, title), _title(title)]
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        f'stroke="#333"/><line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" '
        f'stroke="#333"/>'
    )
    parts.extend(
        f'<text x="{left - 4}" y="{y(share) + 4:.1f}" font-size="10" '
        f'text-anchor="end">{share:.0%}</text>'
        for share in (0.0, cap, peak)
    )
    parts.append(
        f'<line x1="{left}" y1="{y(cap):.1f}" x2="{width - right}" y2="{y(cap):.1f}" '
        f'stroke="{PALETTE["blocking"]}" stroke-dasharray="5 3"><title>cap {cap:.0%}</title>'
        f'</line><text x="{width - right - 2}" y="{y(cap) - 4:.1f}" font-size="10" '
        f'text-anchor="end" fill="{PALETTE["blocking"]}">cap {cap:.0%}</text>'
    )
    for i, month in enumerate(months):
        parts.append(
            f'<text x="{x(i):.1f}" y="{top + plot_h + 14}" font-size="10" '
            f'text-anchor="middle">{escape(month)}</text>'
        )
    legend_x = left
    for n, (product, pts) in enumerate(points.items()):
        color = LINES[n % len(LINES)]
        if pts:
            path = " ".join(f"{x(i):.1f},{y(r):.1f}" for i, r in pts)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
            )
            for i, r in pts:
                parts.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(r):.1f}" r="3" fill="{color}">'
                    f"<title>{escape(product)} {escape(months[i])}: {r:.0%}</title></circle>"
                )
        parts.append(
            f'<rect x="{legend_x}" y="{height - 14}" width="10" height="10" fill="{color}"/>'
            f'<text x="{legend_x + 14}" y="{height - 5}" font-size="11">{escape(product)}</text>'
        )
        legend_x += 24 + 7 * len(product)
    parts.append("</svg>")
    return "".join(parts)


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-label="{escape(title)}" '
        f'font-family="sans-serif">'
    )


def _title(title: str) -> str:
    return f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>'


def _empty(title: str, width: int) -> str:
    return (
        _open(width, 50, title)
        + _title(title)
        + '<text x="4" y="38" font-size="12" fill="#666">nothing in this period</text></svg>'
    )
