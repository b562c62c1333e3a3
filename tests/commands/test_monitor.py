"""`provenance monitor`'s options and its readable line (the served uses are in
tests/remote/test_monitor.py)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cli import main
from provenance.commands.monitor import _line


def test_the_readable_line() -> None:
    report = {
        "seq": 42,
        "kind": "shipment",
        "integrated_at": "2026-02-01T00:00:00.000000Z",
        "reasons": ["serial 1654923000001", "names party lion"],
        "signers": [{"keyid": "ab" * 32, "party": None}, {"keyid": "cd" * 32, "party": "rival"}],
    }
    assert _line(report) == (
        "entry 42 (shipment, 2026-02-01T00:00:00.000000Z) signed by abababababababab, rival: "
        "serial 1654923000001; names party lion"
    )


def test_nothing_to_watch_is_bad_usage(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    args = ["monitor", "http://127.0.0.1:9", "--key", str(key), "--state", str(tmp_path / "s")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "nothing to watch" in result.stderr
    assert result.stdout == ""
