"""A PostgreSQL deployment where the service's role does not own the ledger's tables
(issue 18 item 14): it appends, but cannot UPDATE, DELETE or DISABLE TRIGGER."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from provenance.crypto import keys
from provenance.errors import ConfigError
from provenance.ledger.audit import audit
from provenance.ledger.log import Ledger
from provenance.ledger.setup import grant, grant_statements
from provenance.statements import kinds
from provenance.statements.signing import sign
from tests.conftest import World
from tests.ledger.test_log import party_doc


def test_the_service_role_may_insert_and_select_only(world: World) -> None:
    if world.ledger.store.engine.dialect.name != "postgresql":
        with pytest.raises(ConfigError, match="PostgreSQL"):
            grant_statements(world.db, "service")
        return
    role = f"svc_{uuid.uuid4().hex[:8]}"
    owner = world.ledger.store.engine
    with owner.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
    try:
        done = grant(world.db, role)
        assert any("ON" in s and '"entries"' in s and "SELECT, INSERT " in s + " " for s in done)
        url = world.db.replace("://postgres@", f"://{role}@", 1)
        assert role in url
        service = Ledger.open(url, ledger_key=keys.load_private(world.dir / "keys" / "ledger.pem"))
        with service:
            statement = kinds.from_document(party_doc("acme", ["exporter"], keys.generate()))
            appended, _ = service.append(sign(statement, [world.operator]))
            assert appended.seq == 1
        engine = create_engine(url)
        try:
            for statement in (
                "UPDATE entries SET kind = 'x' WHERE seq = 0",
                "DELETE FROM checkpoints",
                "ALTER TABLE entries DISABLE TRIGGER ALL",
                "SET session_replication_role = replica",
                "TRUNCATE tree_nodes",
                "DROP TRIGGER entries_append_only ON entries",
            ):
                with pytest.raises(DBAPIError, match=r"permission denied|must be owner"):  # noqa: SIM117
                    with engine.begin() as conn:
                        conn.execute(text(statement))
        finally:
            engine.dispose()
        assert audit(world.ledger, workers=1).size == 2
    finally:
        with owner.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
