"""The database's guards beyond append-only (migration 0010), and the append path's
re-check of the projections it trusts (issue 18 items 11 and 14)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from provenance.crypto import keys
from provenance.errors import IntegrityError
from tests.conftest import World, tamper
from tests.ledger.test_log import party_doc


@pytest.mark.parametrize(
    ("table", "where"),
    [
        ("entries", "seq = 1"),
        ("tree_nodes", "level = 0 AND idx = 1"),
        ("checkpoints", "size = 2"),
        ("ledger_info", "id = 1"),
        ("parties", "id = 'acme'"),
        ("party_keys", "party_id = 'acme'"),
    ],
)
def test_insert_or_replace_is_refused(world: World, table: str, where: str) -> None:
    """SQLite's REPLACE deletes the row it conflicts with without a DELETE trigger."""
    world.register("acme", ["exporter"])
    if world.ledger.store.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL has no REPLACE; ON CONFLICT DO UPDATE fires the UPDATE trigger")
    with world.ledger.store.read() as conn:
        before = conn.execute(text(f"SELECT * FROM {table} WHERE {where}")).all()
    with pytest.raises(IntegrityError, match="REPLACE refused"), world.ledger.store.write() as c:
        c.execute(text(f"INSERT OR REPLACE INTO {table} SELECT * FROM {table} WHERE {where}"))
    with world.ledger.store.read() as conn:
        assert conn.execute(text(f"SELECT * FROM {table} WHERE {where}")).all() == before


def test_on_conflict_update_is_refused_on_postgresql(world: World) -> None:
    if world.ledger.store.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with pytest.raises(IntegrityError, match="append-only"), world.ledger.store.write() as c:
        c.execute(
            text(
                "INSERT INTO entries SELECT * FROM entries WHERE seq = 0 "
                "ON CONFLICT (seq) DO UPDATE SET kind = 'x'"
            )
        )


def test_the_projections_of_parties_and_keys_change_only_as_the_entries_do(
    world: World,
) -> None:
    key = world.register("acme", ["exporter"])
    store = world.ledger.store
    for statement in (
        "DELETE FROM party_keys",
        "DELETE FROM parties WHERE id = 'acme'",
        "UPDATE parties SET roles = 'exporter operator' WHERE id = 'acme'",
        f"UPDATE party_keys SET party_id = 'operator' WHERE keyid = '{key.keyid}'",
    ):
        with pytest.raises(IntegrityError, match="derived from the entries"), store.write() as c:
            c.execute(text(statement))
    world.append({"kind": "key-revocation", "key": key.keyid, "reason": "lost"}, world.operator)
    with pytest.raises(IntegrityError, match="derived from the entries"), store.write() as c:
        c.execute(text(f"UPDATE party_keys SET revoked_seq = NULL WHERE keyid = '{key.keyid}'"))
    assert world.ledger.replay() == world.ledger.size()  # replay still rebuilds them


def test_a_key_inserted_by_hand_is_refused(world: World) -> None:
    """Issue 18 item 11: a key row added to `party_keys` (no trigger refuses a new row)
    claims the operator's registration; the append path re-checks it against that entry."""
    intruder = keys.generate()
    size = world.ledger.size()
    with world.ledger.store.write() as conn:
        conn.execute(
            text(
                "INSERT INTO party_keys (keyid, party_id, algorithm, public_key, registered_seq) "
                "VALUES (:k, 'operator', 'ed25519', :der, 0)"
            ),
            {"k": intruder.keyid, "der": intruder.verifying.der()},
        )
    with pytest.raises(IntegrityError, match="not the key entry 0 registered"):
        world.append(party_doc("rogue", ["operator"], keys.generate()), intruder)
    assert world.ledger.size() == size


def test_roles_edited_by_hand_are_refused(world: World) -> None:
    """With the triggers out of the way, a party's roles changed in the projection do not
    authorise: the row must say what the entry it names says."""
    exporter = world.register("acme", ["exporter"])
    size = world.ledger.size()
    tamper(
        world.ledger.store.engine,
        "UPDATE parties SET roles = 'exporter operator' WHERE id = 'acme'",
    )
    with pytest.raises(IntegrityError, match="parties row acme does not say"):
        world.append(party_doc("rogue", ["operator"], keys.generate()), exporter)
    assert world.ledger.size() == size
