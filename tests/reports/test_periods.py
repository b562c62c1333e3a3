"""Reporting periods: `--period` (quarter, month, year) and `--from/--to`."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.errors import InputError
from provenance.reports.periods import Period, parse_period, period_from

D = dt.date


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-Q1", D(2026, 1, 1), D(2026, 3, 31)),
        ("2026-Q2", D(2026, 4, 1), D(2026, 6, 30)),
        ("2026-Q3", D(2026, 7, 1), D(2026, 9, 30)),
        ("2026-Q4", D(2026, 10, 1), D(2026, 12, 31)),
        ("2024-Q1", D(2024, 1, 1), D(2024, 3, 31)),
        ("2026-01", D(2026, 1, 1), D(2026, 1, 31)),
        ("2026-02", D(2026, 2, 1), D(2026, 2, 28)),
        ("2028-02", D(2028, 2, 1), D(2028, 2, 29)),
        ("2000-02", D(2000, 2, 1), D(2000, 2, 29)),
        ("2100-02", D(2100, 2, 1), D(2100, 2, 28)),
        ("2026-04", D(2026, 4, 1), D(2026, 4, 30)),
        ("2026-12", D(2026, 12, 1), D(2026, 12, 31)),
        ("2026", D(2026, 1, 1), D(2026, 12, 31)),
        ("2028", D(2028, 1, 1), D(2028, 12, 31)),
    ],
)
def test_parse_period(text: str, start: dt.date, end: dt.date) -> None:
    period = parse_period(text)
    assert (period.start, period.end, period.label) == (start, end, text)
    assert period.to_json() == {"from": start.isoformat(), "to": end.isoformat(), "label": text}


def test_surrounding_space_is_ignored_and_the_label_is_the_period() -> None:
    assert parse_period(" 2026-Q3\n") == Period(D(2026, 7, 1), D(2026, 9, 30), "2026-Q3")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2026-Q5", "is not a period"),
        ("2026-Q0", "is not a period"),
        ("2026-q3", "is not a period"),
        ("2026-13", "no month 13"),
        ("2026-00", "no month 0"),
        ("2026-7", "is not a period"),
        ("26", "is not a period"),
        ("", "is not a period"),
        ("Q3-2026", "is not a period"),
        ("2026-07-01", "is not a period"),
        ("last quarter", "is not a period"),
    ],
)
def test_bad_periods_are_input_errors(text: str, words: str) -> None:
    with pytest.raises(InputError, match=words) as refused:
        parse_period(text)
    assert refused.value.exit_code == 2


def test_the_hint_shows_the_forms() -> None:
    with pytest.raises(InputError) as refused:
        parse_period("soon")
    assert refused.value.hint and "2026-Q3" in refused.value.hint


def test_period_from_a_period_or_explicit_dates() -> None:
    assert period_from("2026-Q3", None, None) == parse_period("2026-Q3")
    explicit = period_from(None, D(2026, 7, 15), D(2026, 8, 14))
    assert explicit == Period(D(2026, 7, 15), D(2026, 8, 14), "2026-07-15..2026-08-14")
    assert period_from(None, D(2026, 7, 15), D(2026, 7, 15)).start == D(2026, 7, 15)


@pytest.mark.parametrize(
    ("period", "start", "end", "words"),
    [
        ("2026-Q3", D(2026, 7, 1), None, "not both"),
        ("2026-Q3", None, D(2026, 9, 30), "not both"),
        ("2026-Q3", D(2026, 7, 1), D(2026, 9, 30), "not both"),
        (None, None, None, "needs a period"),
        (None, D(2026, 7, 1), None, "needs a period"),
        (None, None, D(2026, 9, 30), "needs a period"),
        (None, D(2026, 9, 30), D(2026, 7, 1), "--to 2026-07-01 is before --from 2026-09-30"),
    ],
)
def test_period_from_refuses(
    period: str | None, start: dt.date | None, end: dt.date | None, words: str
) -> None:
    with pytest.raises(InputError, match=words) as refused:
        period_from(period, start, end)
    assert refused.value.exit_code == 2


def _next(kind: str, year: int, n: int) -> str:
    """The label of the period after `n` (a month or a quarter) of `year`."""
    last = 12 if kind == "month" else 4
    year, n = (year + 1, 1) if n == last else (year, n + 1)
    return f"{year}-{n:02d}" if kind == "month" else f"{year}-Q{n}"


@given(
    kind=st.sampled_from(["month", "quarter"]),
    year=st.integers(1900, 2998),
    n=st.integers(1, 12),
)
def test_each_period_ends_the_day_before_the_next_begins(kind: str, year: int, n: int) -> None:
    if kind == "quarter":
        n = (n - 1) // 3 + 1
    label = f"{year}-{n:02d}" if kind == "month" else f"{year}-Q{n}"
    period, following = parse_period(label), parse_period(_next(kind, year, n))
    assert period.start <= period.end
    assert following.start == period.end + dt.timedelta(days=1)
    assert period.start.day == 1 and period.start.year == year
    days = (period.end - period.start).days + 1
    assert days in ((28, 29, 30, 31) if kind == "month" else (90, 91, 92))


@given(year=st.integers(1900, 2998))
def test_the_quarters_and_months_of_a_year_tile_it(year: int) -> None:
    whole = parse_period(str(year))
    quarters = [parse_period(f"{year}-Q{q}") for q in range(1, 5)]
    months = [parse_period(f"{year}-{m:02d}") for m in range(1, 13)]
    for parts in (quarters, months):
        assert parts[0].start == whole.start and parts[-1].end == whole.end
        assert sum((p.end - p.start).days + 1 for p in parts) == (whole.end - whole.start).days + 1


@pytest.mark.parametrize("text", ["0000", "0000-Q1", "0000-01", "9999-Q4", "9999-12"])
def test_years_out_of_the_calendar_are_input_errors(text: str) -> None:
    with pytest.raises(InputError):
        parse_period(text)
