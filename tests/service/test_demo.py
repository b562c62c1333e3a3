"""`provenance demo --service`: the parties as separate clients of a served ledger."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli import main
from provenance.ledger.audit import audit
from provenance.ledger.log import Ledger


def test_the_service_demo_plays_every_party_over_http(tmp_path: Path, monkeypatch: object) -> None:
    result = CliRunner().invoke(
        main, ["demo", "--service", "--dir", str(tmp_path / "run"), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    done = json.loads(result.stdout)
    assert done["url"].startswith("http://127.0.0.1:")
    assert done["refused"] and "not a party to shipment MX-1" in done["refused"][0]
    assert done["report_totals"]["shipments"] == 2
    with Ledger.open(done["db"]) as source, Ledger.open(done["replica"]) as replica:
        assert replica.checkpoint().note == source.checkpoint().note
        assert audit(replica).entries == done["size"] == source.size()
    access = [
        json.loads(line) for line in (tmp_path / "run" / "access.jsonl").read_text().splitlines()
    ]
    assert {r["status"] for r in access} >= {200, 201, 403}
