"""The regulator report's built-in verification: incremental against the auditor's state."""

from __future__ import annotations

from pathlib import Path

from provenance.crypto import keys
from provenance.ledger.audit_state import AuditState
from provenance.reports import build, schema
from tests.conftest import World
from tests.ledger.test_log import party_doc
from tests.reports.scenario import Q3, Trade


def test_the_report_verifies_only_what_was_appended_since(
    fresh: Trade, world: World, tmp_path: Path
) -> None:
    state = AuditState(tmp_path / "auditor" / "audits.json")
    first = build.regulator(fresh.ledger, Q3, audit_state=state)
    schema.validate(first)
    size = fresh.ledger.size()
    assert first["verification"]["ok"] and first["verification"]["incremental_from"] is None
    assert first["verification"]["audited"] == size
    world.append(party_doc("late", ["auditor"], keys.generate()), world.operator)
    second = build.regulator(fresh.ledger, Q3, audit_state=state)
    schema.validate(second)
    verification = second["verification"]
    assert verification["ok"], verification
    assert (verification["incremental_from"], verification["audited"]) == (size, 1)
    assert verification["size"] == size + 1
    # without a state the report audits everything, as before
    assert build.regulator(fresh.ledger, Q3)["verification"]["audited"] == size + 1
