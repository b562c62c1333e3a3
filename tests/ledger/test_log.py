"""The ledger on SQLite and PostgreSQL: append, authority, proofs, checkpoints."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from provenance.crypto import keys
from provenance.crypto.envelope import Envelope, Signature, add_signature
from provenance.errors import (
    AuthorizationError,
    InputError,
    IntegrityError,
    NotFoundError,
    SignatureError,
)
from provenance.ledger.audit import audit
from provenance.ledger.log import Ledger
from provenance.offline import bundles as bundle
from provenance.offline import receipts
from provenance.statements import kinds, payloads
from provenance.statements.signing import sign
from provenance.tlog import merkle, note
from tests.conftest import World, flip_payload_byte, tamper


def party_doc(party_id: str, roles: list[str], key: keys.SigningKey) -> dict[str, object]:
    return {
        "kind": "party",
        "id": party_id,
        "name": f"{party_id} Ltd.",
        "roles": roles,
        "country": "SG",
        "headquarters": "SG",
        "keys": [key.verifying.pem()],
    }


def test_init_writes_a_signed_genesis(world: World) -> None:
    ledger = world.ledger
    assert ledger.size() == 1
    signed = ledger.checkpoint()
    assert signed.checkpoint.origin == "test.example/ledger"
    assert note.open_checkpoint(signed.note, [ledger.verifier_key]) == signed.checkpoint
    genesis = ledger.entry(0)
    assert genesis.kind == "party"
    assert genesis.statement["predicate"]["roles"] == ["operator"]


def test_append_returns_a_receipt_that_verifies_offline(world: World) -> None:
    world.register("acme", ["exporter"])
    appended, receipt = world.append(
        party_doc("beta", ["consignee"], keys.generate()), world.operator
    )
    assert appended.seq == 2 and not appended.duplicate
    assert appended.signer == "operator"
    checked = receipts.verify_receipt(receipt.text(), [world.ledger.verifier_key])
    assert checked.entry.seq == 2
    assert checked.checkpoint.size == 3


def test_same_envelope_twice_returns_the_first_entry(world: World) -> None:
    env = world.envelope(party_doc("acme", ["exporter"], keys.generate()), world.operator)
    first, _ = world.ledger.append(env)
    again, _ = world.ledger.append(env)
    assert again.seq == first.seq and again.duplicate
    assert world.ledger.size() == 2
    results = world.ledger.append_many([env, env])
    assert [r.seq for r in results] == [first.seq, first.seq]
    assert world.ledger.size() == 2


def test_wrong_role_unknown_key_and_forged_signature_are_refused(world: World) -> None:
    exporter = world.register("acme", ["exporter"])
    size = world.ledger.size()
    with pytest.raises(AuthorizationError, match="may not sign"):
        world.append(party_doc("rogue", ["operator"], keys.generate()), exporter)
    stranger = keys.generate()
    with pytest.raises(AuthorizationError):
        world.append(party_doc("rogue", ["exporter"], stranger), stranger)
    env = world.envelope(party_doc("rogue", ["exporter"], keys.generate()), world.operator)
    forged = Envelope(
        env.payload_type, env.payload, (Signature(world.operator.keyid, b"\x00" * 64),)
    )
    with pytest.raises(SignatureError):
        world.ledger.append(forged)
    assert world.ledger.size() == size


def test_invalid_payloads_are_refused(world: World) -> None:
    size = world.ledger.size()
    bad_country = party_doc("acme", ["exporter"], keys.generate()) | {"country": "XX"}
    with pytest.raises(InputError, match="country"):
        world.append(bad_country, world.operator)
    with pytest.raises(InputError):
        kinds.from_document({"kind": "party", "id": "x"})
    # a statement whose subjects do not match its predicate
    statement = kinds.from_document(party_doc("acme", ["exporter"], keys.generate()))
    from provenance.crypto.envelope import sign_statement

    env = sign_statement(
        [("party/other", "00" * 32)],
        kinds.predicate_type("party"),
        statement.predicate(),
        [world.operator],
    )
    with pytest.raises(InputError, match="subjects"):
        world.ledger.append(env)
    wrong_type = Envelope("text/plain", env.payload, env.signatures)
    with pytest.raises(InputError, match="payloadType"):
        world.ledger.append(wrong_type)
    assert world.ledger.size() == size


def test_key_rotation_and_revocation(world: World) -> None:
    old = world.register("acme", ["exporter", "operator"])
    new = keys.generate("p256")
    rotation = {
        "kind": "key-rotation",
        "party": "acme",
        "old_key": old.keyid,
        "public_key": new.verifying.pem(),
        "reason": "scheduled",
    }
    world.append(rotation, world.operator)
    # the old key is now revoked: what it signs is refused
    with pytest.raises(AuthorizationError, match="revoked"):
        world.append(party_doc("x1", ["auditor"], keys.generate()), old)
    appended, _ = world.append(party_doc("x2", ["auditor"], keys.generate()), new)
    assert appended.signer == "acme"
    revoke = {"kind": "key-revocation", "key": new.keyid, "reason": "laptop stolen"}
    world.append(revoke, new)  # a key may revoke itself
    with pytest.raises(AuthorizationError, match="revoked"):
        world.append(party_doc("x3", ["auditor"], keys.generate()), new)
    report = audit(world.ledger, workers=1)
    assert report.size == world.ledger.size()


def test_several_signers_one_must_be_authorised(world: World) -> None:
    exporter = world.register("acme", ["exporter"])
    env = add_signature(
        world.envelope(party_doc("x", ["auditor"], keys.generate()), exporter), world.operator
    )
    appended, _ = world.ledger.append(env)
    assert appended.signer == "operator"


@pytest.mark.parametrize("table", ["entries", "tree_nodes", "checkpoints", "ledger_info"])
def test_database_refuses_update_and_delete(world: World, table: str) -> None:
    world.register("acme", ["exporter"])
    size = world.ledger.size()
    column = {
        "entries": "kind",
        "tree_nodes": "hash",
        "checkpoints": "note",
        "ledger_info": "origin",
    }[table]
    value = "'x'" if column in ("kind", "note", "origin") else "hash"
    for statement in (f"UPDATE {table} SET {column} = {value}", f"DELETE FROM {table}"):
        with pytest.raises(IntegrityError, match="append-only"), world.ledger.store.write() as c:
            c.execute(text(statement))
    assert world.ledger.size() == size
    audit(world.ledger, workers=1)


def small_world(world: World, n: int = 6) -> None:
    world.register("acme", ["exporter"])
    for i in range(n):
        world.append(party_doc(f"p{i}", ["auditor"], keys.generate()), world.operator)


def test_audit_passes_on_an_honest_ledger(world: World) -> None:
    small_world(world)
    report = audit(world.ledger, workers=1)
    assert report.size == world.ledger.size() == 8
    assert report.root == world.ledger.checkpoint().checkpoint.root


@pytest.mark.parametrize("where", ["leaf", "kind", "signer"])
def test_audit_names_a_changed_entry(world: World, where: str) -> None:
    small_world(world)
    size = world.ledger.size()
    engine = world.ledger.store.engine
    if where == "leaf":
        with world.ledger.store.read() as conn:
            leaf = bytes(conn.execute(text("SELECT leaf FROM entries WHERE seq = 4")).scalar_one())
        changed = flip_payload_byte(leaf, 20, 1)
        tamper(engine, "UPDATE entries SET leaf = :l WHERE seq = 4", {"l": changed})
    elif where == "kind":
        tamper(engine, "UPDATE entries SET kind = 'key' WHERE seq = 4")
    else:
        tamper(engine, "UPDATE entries SET signer_party = 'acme' WHERE seq = 4")
    with pytest.raises(IntegrityError, match="entry 4"):
        audit(world.ledger, workers=1)
    assert world.ledger.size() == size


def test_deleted_rows_are_caught_by_audit_and_append(world: World) -> None:
    small_world(world)
    tamper(world.ledger.store.engine, "DELETE FROM entries WHERE seq = 7")
    with pytest.raises(IntegrityError):
        audit(world.ledger, workers=1)
    with pytest.raises(IntegrityError, match="altered"):
        world.append(party_doc("late", ["auditor"], keys.generate()), world.operator)


def test_changed_tree_node_is_caught(world: World) -> None:
    small_world(world)
    tamper(
        world.ledger.store.engine,
        "UPDATE tree_nodes SET hash = (SELECT hash FROM tree_nodes "
        "WHERE level = 0 AND idx = 0) WHERE level = 1 AND idx = 1",
    )
    with pytest.raises(IntegrityError):
        audit(world.ledger, workers=1)


def test_audit_flags_a_signature_after_revocation(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator that skipped the checks at append is caught by the audit."""
    key = world.register("acme", ["exporter", "operator"])
    world.append({"kind": "key-revocation", "key": key.keyid, "reason": "lost"}, world.operator)
    import provenance.ledger.admission as ledger_module
    from provenance.statements.authority import Signer

    monkeypatch.setattr(ledger_module, "authorize", lambda *a, **k: Signer("acme", (key.keyid,)))
    world.append(party_doc("sneaky", ["auditor"], keys.generate()), key)
    monkeypatch.undo()
    with pytest.raises(IntegrityError, match="entry 3"):
        audit(world.ledger, workers=1)


def test_stored_proofs_equal_the_reference_and_read_log_n_nodes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = world.ledger
    envs = [
        world.envelope(party_doc(f"p{i}", ["auditor"], keys.generate()), world.operator)
        for i in range(70)
    ]
    for chunk in (envs[:5], envs[5:6], envs[6:33], envs[33:]):
        ledger.append_many(chunk)
    size = ledger.size()
    assert size == 71
    leaves = [merkle.leaf_hash(ledger.entry(i).leaf) for i in range(size)]
    assert ledger.root(size) == merkle.root(leaves) == ledger.checkpoint().checkpoint.root

    from provenance.ledger import tree

    fetched: list[int] = []
    original = tree.TileCache.nodes

    def counting(self: tree.TileCache, engine: object, ids: object) -> dict[merkle.NodeId, bytes]:
        found = original(self, engine, ids)  # type: ignore[arg-type]
        fetched.append(len(found))
        return found

    monkeypatch.setattr(tree.TileCache, "nodes", counting)
    for seq in (0, 1, 37, 64, 70):
        fetched.clear()
        proof = ledger.inclusion_proof(seq, size)
        assert proof == merkle.inclusion_proof(seq, leaves)
        assert sum(fetched) <= 2 * size.bit_length()
    for old in (1, 6, 33, 64, 70):
        fetched.clear()
        proof = ledger.consistency_proof(old, size)
        assert proof == merkle.consistency_proof(old, leaves)
        assert sum(fetched) <= 3 * size.bit_length()
        merkle.verify_consistency(old, size, proof, merkle.root(leaves[:old]), merkle.root(leaves))
    # the root and the checks before signing read the stored nodes through SQLAlchemy
    statements: list[tuple[str, object]] = []
    event.listen(ledger.store.engine, "before_cursor_execute", _recorder(statements))
    assert ledger.root(size) == merkle.root(leaves)
    assert not any("FROM entries" in s for s, _ in statements), "roots must not read leaves"
    if ledger.store.dialect == "sqlite":
        with ledger.store.read() as conn:
            for statement, parameters in statements:
                if statement.lstrip().startswith("SELECT") and "tree_nodes" in statement:
                    plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                    details = " ".join(str(row[-1]) for row in plan)
                    assert "SCAN tree_nodes" not in details, details


def _recorder(statements: list[tuple[str, object]]):  # type: ignore[no-untyped-def]
    def record(_conn, _cursor, statement, parameters, *_rest):  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    return record


def test_every_checkpoint_is_consistent_with_the_next(world: World) -> None:
    small_world(world, 5)
    ledger = world.ledger
    with ledger.store.read() as conn:
        rows = conn.execute(text("SELECT size, root FROM checkpoints ORDER BY size")).all()
    assert [r.size for r in rows] == list(range(1, ledger.size() + 1))
    for (a, ra), (b, rb) in itertools.pairwise(rows):
        merkle.verify_consistency(a, b, ledger.consistency_proof(a, b), bytes(ra), bytes(rb))


def test_bulk_import_is_all_or_nothing(world: World) -> None:
    good = [
        world.envelope(party_doc(f"p{i}", ["auditor"], keys.generate()), world.operator)
        for i in range(5)
    ]
    stranger = keys.generate()
    bad = world.envelope(party_doc("bad", ["auditor"], keys.generate()), stranger)
    with pytest.raises(AuthorizationError, match="envelope 4"):
        world.ledger.import_envelopes([*good[:3], bad, *good[3:]], workers=1)
    assert world.ledger.size() == 1
    results = world.ledger.import_envelopes(good, workers=1)
    assert [r.seq for r in results] == [1, 2, 3, 4, 5]


def test_import_verifies_in_parallel_and_admits_keys_registered_in_the_batch(
    world: World,
) -> None:
    """Keys registered earlier in the same file sign later lines."""
    exporter_key = keys.generate()
    batch = [world.envelope(party_doc("acme", ["operator"], exporter_key), world.operator)]
    batch += [
        world.envelope(party_doc(f"q{i}", ["auditor"], keys.generate()), exporter_key)
        for i in range(600)
    ]
    results = world.ledger.import_envelopes(batch, workers=2)
    assert len(results) == 601 and results[-1].signer == "acme"
    assert audit(world.ledger, workers=2).size == 602


def test_replay_rebuilds_exactly_what_append_wrote(world: World) -> None:
    key = world.register("acme", ["exporter", "operator"])
    world.append(
        {"kind": "key", "party": "acme", "public_key": keys.generate().verifying.pem()},
        world.operator,
    )
    world.append({"kind": "key-revocation", "key": key.keyid, "reason": "lost"}, world.operator)
    updated = party_doc("acme", ["exporter"], keys.generate()) | {"address": "1 Main St"}
    world.append(updated, world.operator)
    before = snapshot(world)
    assert world.ledger.replay() == world.ledger.size()
    assert snapshot(world) == before


def snapshot(world: World) -> dict[str, list[tuple[object, ...]]]:
    from provenance.ledger.projections.tables import PROJECTION_TABLES

    out = {}
    with world.ledger.store.read() as conn:
        for table in PROJECTION_TABLES:
            rows = conn.execute(text(f"SELECT * FROM {table}")).all()
            out[table] = sorted(tuple(r) for r in rows)
    return out


def test_export_bundle_verifies_offline_and_fails_when_altered(world: World) -> None:
    exporter = world.register("acme", ["exporter", "operator"])
    appended, _ = world.append(party_doc("z", ["auditor"], keys.generate()), exporter)
    data = world.ledger.export([appended.seq])
    report = bundle.verify_bundle(json.loads(json.dumps(data)), [world.ledger.verifier_key])
    seqs = [e["seq"] for e in report.entries]
    assert appended.seq in seqs and 0 in seqs and 1 in seqs  # genesis, acme's registration
    missing = dict(data, receipts=[r for r in data["receipts"] if "index 1\n" not in r])
    with pytest.raises(AuthorizationError):
        bundle.verify_bundle(missing, [world.ledger.verifier_key])
    tampered = dict(data, receipts=[r.replace("index 2", "index 1") for r in data["receipts"]])
    with pytest.raises(IntegrityError):
        bundle.verify_bundle(tampered, [world.ledger.verifier_key])
    _, other_verifier = note.generate("test.example/ledger")
    with pytest.raises(IntegrityError):
        bundle.verify_bundle(data, [other_verifier])


def test_reading_outside_the_tree(world: World) -> None:
    with pytest.raises(NotFoundError):
        world.ledger.entry(5)
    with pytest.raises(NotFoundError):
        world.ledger.inclusion_proof(0, 9)
    with pytest.raises(NotFoundError):
        world.ledger.receipt(3)


def test_appending_needs_the_ledger_key(world: World) -> None:
    reader = Ledger.open(world.db)
    try:
        from provenance.errors import ConfigError

        env = world.envelope(party_doc("p", ["auditor"], keys.generate()), world.operator)
        with pytest.raises(ConfigError, match="checkpoint key"):
            reader.append(env)
        with pytest.raises(ConfigError, match="not this ledger"):
            reader.use_checkpoint_key(keys.generate())
    finally:
        reader.close()


def test_a_file_that_is_not_a_ledger_is_refused(tmp_path: Path) -> None:
    text_file = tmp_path / "notes.db"
    text_file.write_text("hello, this is not a database" * 100)
    with pytest.raises(InputError, match="not a provenance ledger"):
        Ledger.open(str(text_file))
    other = tmp_path / "other.db"
    import sqlite3

    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(InputError, match="not a provenance ledger"):
        Ledger.open(str(other))
    with pytest.raises(NotFoundError):
        Ledger.open(str(tmp_path / "missing.db"))


def test_schema_matches_the_models(world: World) -> None:
    """The migrations create exactly what the SQLAlchemy models describe."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import provenance.ledger.projections.tables  # noqa: F401 (the projection tables too)
    from provenance.ledger.tables import metadata

    with world.ledger.store.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_statement_kinds_all_have_a_signer_policy() -> None:
    from provenance.statements import kinds

    models = {m for m in vars(payloads).values() if isinstance(m, type)}
    statements = {
        m for m in models if issubclass(m, payloads.Statement) and m is not payloads.Statement
    }
    assert statements == {k.model for k in kinds.KINDS.values()}
    for name, kind in kinds.KINDS.items():
        assert kind.model.kind == name
        assert kind.signers, name


def test_sign_produces_the_envelope_append_accepts(world: World) -> None:
    statement = kinds.from_document(party_doc("acme", ["exporter"], keys.generate()))
    env = sign(statement, [world.operator])
    again = Envelope.from_bytes(json.dumps(env.to_json()).encode())
    appended, _ = world.ledger.append(again)
    assert appended.kind == "party"


def test_a_party_registered_and_updated_in_one_import(world: World) -> None:
    key = keys.generate()
    first = party_doc("acme", ["exporter"], key)
    second = first | {"address": "2 New Road", "keys": []}
    world.ledger.import_envelopes(
        [world.envelope(first, world.operator), world.envelope(second, world.operator)],
        workers=1,
    )
    with world.ledger.store.read() as conn:
        row = conn.execute(
            text("SELECT address, registered_seq, updated_seq FROM parties WHERE id = 'acme'")
        ).one()
    assert tuple(row) == ("2 New Road", 1, 2)
    before = snapshot(world)
    world.ledger.replay()
    assert snapshot(world) == before


def test_a_bulk_import_refreshes_the_planners_statistics(world: World) -> None:
    """On PostgreSQL a write of BULK_ANALYZE new entries or more ANALYZEs the ledger's
    tables (the planner otherwise joins them as if empty); on SQLite there is nothing to
    refresh. A smaller write, or one of duplicates, leaves them alone."""
    from provenance.ledger.log import BULK_ANALYZE

    def consignees(prefix: str) -> list[Envelope]:
        return [
            world.envelope(
                {"kind": "party", "id": f"{prefix}{i}", "name": f"{prefix} {i}",
                 "roles": ["consignee"], "country": "SG", "headquarters": "SG", "keys": []},
                world.operator,
            )
            for i in range(BULK_ANALYZE)
        ]  # fmt: skip

    envelopes = consignees("bulk")
    store = world.ledger.store

    def analysed() -> dict[str, Any]:
        with store.read() as conn:
            return dict(
                conn.execute(
                    text(
                        "SELECT relname, last_analyze FROM pg_stat_user_tables "
                        "WHERE schemaname = current_schema()"
                    )
                ).all()
            )

    world.ledger.import_envelopes(envelopes[:10])  # a small write: no analysis
    if store.dialect != "postgresql":
        world.ledger.import_envelopes(envelopes[10:])
        assert store.refresh_statistics(["entries"]) == []
        return
    assert analysed()["entries"] is None
    world.ledger.import_envelopes(envelopes[10:])  # 990 new: below BULK_ANALYZE
    assert analysed()["entries"] is None
    world.ledger.import_envelopes(envelopes)  # every one a duplicate now: no analysis
    assert analysed()["entries"] is None
    world.ledger.import_envelopes(consignees("more"))
    after = analysed()
    assert after["entries"] and after["parties"] and after["subjects"], after
