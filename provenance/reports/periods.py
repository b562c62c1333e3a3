"""Reporting periods: a quarter, a month, a year, or explicit dates."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from provenance.errors import InputError

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    label: str

    def to_json(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "label": self.label}


def _month_end(year: int, month: int) -> dt.date:
    first_next = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def parse_period(text: str) -> Period:
    """`2026-Q3`, `2026-07`, or `2026`."""
    try:
        return _parse(text)
    except ValueError as exc:  # year 0, or a period that ends past 9999-12-31
        raise InputError(f"--period {text!r} is out of range: {exc}") from None


def _parse(text: str) -> Period:
    value = text.strip()
    if m := _QUARTER.match(value):
        year, quarter = int(m.group(1)), int(m.group(2))
        first = 3 * quarter - 2
        return Period(dt.date(year, first, 1), _month_end(year, first + 2), value)
    if m := _MONTH.match(value):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise InputError(f"--period {text!r}: no month {month}")
        return Period(dt.date(year, month, 1), _month_end(year, month), value)
    if m := _YEAR.match(value):
        year = int(m.group(1))
        return Period(dt.date(year, 1, 1), dt.date(year, 12, 31), value)
    raise InputError(f"--period {text!r} is not a period", hint="e.g. 2026-Q3, 2026-07 or 2026")


def period_from(period: str | None, start: dt.date | None, end: dt.date | None) -> Period:
    """The period asked for: `--period`, or `--from` and `--to` (both required then)."""
    if period and (start or end):
        raise InputError("give --period, or --from and --to, not both")
    if period:
        return parse_period(period)
    if start is None or end is None:
        raise InputError("a report needs a period", hint="--period 2026-Q3, or --from and --to")
    if end < start:
        raise InputError(f"--to {end} is before --from {start}")
    return Period(start, end, f"{start.isoformat()}..{end.isoformat()}")
