"""The HTML report: one self-contained page (no script, nothing loaded from anywhere), three
inline SVG plots, every text escaped; and rendered in headless Chromium.

Chromium is Debian's package (`/usr/bin/chromium`; `.ci/run` installs it). Without it the
rendering tests skip, except under CI, where they fail. With `PROVENANCE_SCREENSHOT` set
the screenshot is kept: at that path when it ends in `.png`, else at
/tmp/provenance-report-screenshot.png.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from provenance.reports import build, charts, render, schema
from provenance.reports.periods import parse_period
from provenance.screening import snapshots
from tests.conftest import DATA
from tests.reports import scenario
from tests.reports.scenario import Trade

TITLE = "Export compliance report, 2026-Q3"
NAME = "Zhenhua Qixing Microelectronics <b>& Co., Ltd."
ESCAPED = "Zhenhua Qixing Microelectronics &lt;b&gt;&amp; Co., Ltd."
SCREENSHOT = Path("/tmp/provenance-report-screenshot.png")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trade(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trade]:
    """The scenario with HK's consignee named like an Entity List entry (and with markup in
    its name), and the screening list imported in the quarter: its flag quotes the name.
    On SQLite only: the page does not depend on the database (the figures are tested on
    both in test_figures.py)."""
    with scenario.module_world("sqlite", tmp_path_factory.mktemp("trade")) as world:
        built = scenario.build(world, kowloon=NAME)
        csl = DATA / "csl" / "consolidated.csv"
        snapshots.import_list(
            world.ledger,
            csl.read_bytes(),
            name=csl.name,
            signers=[world.operator],
            date=dt.date(2026, 9, 15),
        )
        yield built


@pytest.fixture(scope="module")
def report(trade: Trade) -> dict[str, Any]:
    made = build.regulator(trade.ledger, parse_period("2026-Q3"), verify=True)
    schema.validate(made)
    return made


@pytest.fixture(scope="module")
def html(report: dict[str, Any]) -> str:
    return render.render(report, "html")


def svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)


# --- the page itself ---------------------------------------------------------------------------


def test_the_page_is_self_contained(html: str) -> None:
    lowered = html.lower()
    assert lowered.startswith("<!doctype html>")
    assert '<meta charset="utf-8">' in lowered
    for tag in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "<base"):
        assert tag not in lowered, tag
    assert not re.search(r"\b(src|href|srcset|action)\s*=", lowered)
    assert "@import" not in lowered and "url(" not in lowered
    # The only URL is the SVG namespace, which loads nothing.
    urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}


def test_four_inline_plots(html: str, report: dict[str, Any]) -> None:
    plots = svgs(html)
    assert len(plots) == 4 and html.count("<svg") == 4
    labels = [re.search(r'aria-label="([^"]*)"', p).group(1) for p in plots]  # type: ignore[union-attr]
    assert labels == [
        "Compute by destination, exported and blocked (H100-equivalents)",
        "License drawdown (share of the tightest limit)",
        "Red flags per month of their shipment&#x27;s ship date (last 12 months)",
        "China/Macau units as a share of US end-user units (cumulative), per product",
    ]
    destination, drawdown, flags, _cap = plots
    # One bar per destination, largest first, with its total; SG's split: SH-SG's four
    # H100s and SH-RELABEL's two are blocked, SH-HARBOR's one is not.
    assert re.findall(r'text-anchor="end" font-size="12">([^<]*)</text>', destination) == [
        "SG",
        "AE",
        "HK",
    ]
    assert "SG: 1.00 H100-eq. exported" in destination
    assert "SG: 6.00 H100-eq. blocked" in destination and ">7.00</text>" in destination
    assert "HK: 0.60 H100-eq. exported" in destination and "HK: 0.00" not in destination
    assert ">exported</text>" in destination and ">blocked (the latest determination)<" in (
        destination
    )
    # L-AE-1 drew 5 of 10 units, 150000 of 400000 USD and 79160 of 158320 TPP: 50%; the
    # plot says what its dashed line is.
    assert "L-AE-1: 50% of the limit" in drawdown and ">limit (100%)</text>" in drawdown
    assert (
        ">dashed line: 100%, all of the license&#x27;s tightest limit (units, value or TPP) "
        "drawn</text>" in drawdown
    )
    # Flags by the month their shipment shipped, stacked by severity; the screening flag
    # on kowloon (a party) by the day the list was imported, 2026-09-15.
    assert re.findall(r'text-anchor="middle">([^<]*)</text>', flags) == [
        "2026-05",
        "2026-07",
        "2026-08",
        "2026-09",
    ]
    assert "2026-07: 1 blocking" in flags and "2026-08: 5 high" in flags
    assert report["flags"]["by_month"][-1] == {"month": "2026-09", "blocking": 1, "high": 5}


def test_the_figures_are_on_the_page(html: str, report: dict[str, Any]) -> None:
    assert f"<title>{TITLE}</title>" in html and f"<h1>{TITLE}</h1>" in html
    assert "<b>199,456</b>" in html and "12.6 H100-eq." in html
    assert '<span class="ok">passed</span>' in html
    assert f"<code>{report['screening_list']['digest'][:16]}</code>" in html
    assert "<td>L-AE-1</td>" in html and "5 / 10" in html
    assert f"size {report['checkpoint']['size']}" in html


def test_text_is_escaped(html: str, report: dict[str, Any]) -> None:
    """The consignee's name, quoted by its screening flag, is markup: it must stay text."""
    quoted = [f for f in report["flags"]["oldest_open"] if f["subject"] == "party/kowloon"]
    assert quoted and NAME in quoted[0]["message"]
    assert ESCAPED in html
    assert "<b>&" not in html and NAME not in html


def test_the_plots_escape_their_labels(report: dict[str, Any]) -> None:
    hostile = copy.deepcopy(report)
    hostile["by_destination"][0]["destination"] = "<b>&"
    hostile["licenses"][0]["id"] = 'L"<i>'
    hostile["flags"]["by_month"][0]["month"] = "<script>"
    page = render.html(hostile)
    assert "<b>&" not in page and "<script" not in page and 'L"<i>' not in page
    assert page.count("&lt;b&gt;&amp;") >= 2  # the bar's label and its tooltip (and the table)
    assert "L&#34;&lt;i&gt;" in page or "L&quot;&lt;i&gt;" in page
    assert "&lt;script&gt;" in page
    assert len(svgs(page)) == 4


def test_the_plots_of_an_empty_period() -> None:
    for svg in (
        charts.bars("Compute <&>", []),
        charts.stacked_months("Flags", []),
        charts.drawdown("Licenses", []),
        charts.ratio_months("Cap", {}, 0.5),
        charts.ratio_months("Cap", {"h200": [{"month": "2026-01", "ratio": None}]}, 0.5),
    ):
        assert svg.startswith("<svg") and svg.endswith("</svg>")
        assert "nothing in this period" in svg
    assert 'aria-label="Compute &lt;&amp;&gt;"' in charts.bars("Compute <&>", [])


def test_an_empty_quarter_still_has_four_plots(trade: Trade) -> None:
    empty = build.regulator(trade.ledger, parse_period("2025-Q1"), verify=False)
    page = render.html(empty)
    assert len(svgs(page)) == 4 and page.count("nothing in this period") == 4
    assert "no license valid in the period" in page


def test_a_dossier_is_a_page_too(trade: Trade) -> None:
    dossier = build.dossier(trade.ledger, "shipment", "SH-HK")
    page = render.html(dossier)
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "<title>Dossier of shipment SH-HK</title>" in page


# --- rendered in Chromium ------------------------------------------------------------------------


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        message = "chromium is not installed (Debian's package `chromium`)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: under CI the HTML report must be rendered")
        pytest.skip(message)
    return found


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    command = [
        chromium(),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *args,
    ]
    try:
        done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"chromium did not finish in 60 s: {exc}")
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG, data[:8]
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def png_ink(data: bytes) -> float:
    """The share of the decompressed image bytes that are not white (0xFF)."""
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return sum(1 for b in raw[::7] if b not in (0, 255)) / max(1, len(raw[::7]))


def test_chromium_renders_the_report(html: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "report.png"
    run_chromium(
        tmp_path, "--window-size=1100,2600", f"--screenshot={shot}", page.resolve().as_uri()
    )
    assert shot.is_file()
    data = shot.read_bytes()
    assert png_size(data) == (1100, 2600)
    assert len(data) > 20_000, len(data)
    assert png_ink(data) > 0.001  # not a blank page

    dom = run_chromium(tmp_path, "--dump-dom", page.resolve().as_uri()).stdout.decode()
    assert dom.count("<svg") == 4
    assert f"<title>{TITLE}</title>" in dom and TITLE in dom
    assert ESCAPED in dom and "<b>&amp;" not in dom  # still text after parsing
    assert "<script" not in dom

    wanted = os.environ.get("PROVENANCE_SCREENSHOT")
    if wanted:
        target = Path(wanted) if wanted.endswith(".png") else SCREENSHOT
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
