"""The audit against what the auditor trusts: a pinned key, the state it remembers
(rollbacks, forks, removed checkpoints), and the incremental audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from provenance.crypto import keys
from provenance.errors import IntegrityError
from provenance.ledger.audit import audit
from provenance.ledger.audit_state import AuditState, Seen
from provenance.ledger.log import Ledger
from provenance.tlog import note
from tests.conftest import World, flip_payload_byte, tamper
from tests.ledger.test_log import party_doc


def grow(world: World, n: int, prefix: str = "p") -> None:
    for i in range(n):
        world.append(party_doc(f"{prefix}{i}", ["auditor"], keys.generate()), world.operator)


def seen_now(world: World) -> Seen:
    report = audit(world.ledger, workers=1)
    assert report.seen is not None
    return report.seen


def test_a_rebuilt_ledger_with_another_key_fails_against_the_pinned_key(
    world: World, tmp_path: Path
) -> None:
    """Issue 18 item 10: the ledger rebuilt from its own envelopes, entries left out, with a
    new checkpoint key: it audits on its own (the database's key), but not against the
    key pinned or remembered."""
    grow(world, 8)
    pinned = world.ledger.verifier_key
    seen = seen_now(world)
    with world.ledger.store.read() as conn:
        leaves = [bytes(r[0]) for r in conn.execute(text("SELECT leaf FROM entries ORDER BY seq"))]
    from provenance.offline.entries import ParsedEntry

    envelopes = [ParsedEntry.from_leaf(leaf).envelope for leaf in leaves]
    forger = keys.generate()
    rebuilt, _ = Ledger.create(
        f"sqlite:///{tmp_path / 'rebuilt.db'}",
        origin=world.ledger.origin,
        ledger_key=forger,
        genesis=envelopes[0],
    )
    with rebuilt:
        rebuilt.append_many([e for i, e in enumerate(envelopes[1:], 1) if i not in (3, 4, 5, 6)])
        assert audit(rebuilt, workers=1).trusted_on_first_use  # alone, it looks fine
        with pytest.raises(IntegrityError, match="not signed by the pinned key"):
            audit(rebuilt, workers=1, pinned=pinned)
        for full in (False, True):
            with pytest.raises(IntegrityError, match="the database names checkpoint key") as err:
                audit(rebuilt, workers=1, seen=seen, full=full)
            assert err.value.hint is not None and "rebuilt with another key" in err.value.hint


def test_a_key_for_another_ledger_or_unknown_is_refused(world: World) -> None:
    grow(world, 2)
    other = str(note.Signer.from_signing_key(world.ledger.origin, keys.generate()).verifier())
    with pytest.raises(IntegrityError, match="not signed by the pinned key"):
        audit(world.ledger, workers=1, pinned=other)
    elsewhere = str(note.Signer.from_signing_key("other.example/log", keys.generate()).verifier())
    with pytest.raises(IntegrityError, match=r"pinned key is for 'other\.example/log'"):
        audit(world.ledger, workers=1, pinned=elsewhere)
    seen = seen_now(world)
    with pytest.raises(IntegrityError, match="not one the auditor saw"):
        audit(world.ledger, workers=1, pinned=other, seen=seen)
    assert audit(world.ledger, workers=1, pinned=world.ledger.verifier_key, seen=seen).size == 3


def _remove_from(world: World, size: int) -> None:
    """What a rollback leaves: the ledger as it stood at `size`, every later row removed."""
    engine = world.ledger.store.engine
    tamper(engine, "DELETE FROM entries WHERE seq >= :n", {"n": size})
    tamper(engine, "DELETE FROM checkpoints WHERE size > :n", {"n": size})
    tamper(engine, "DELETE FROM tree_nodes WHERE ((idx + 1) << level) > :n", {"n": size})


@pytest.mark.parametrize("removed", [1, 50])
def test_a_rollback_is_caught_against_what_the_auditor_saw(world: World, removed: int) -> None:
    grow(world, 55)
    size = world.ledger.size()
    seen = seen_now(world)
    _remove_from(world, size - removed)
    assert audit(world.ledger, workers=1).size == size - removed  # consistent on its own
    for full in (False, True):
        said = "1 entry was" if removed == 1 else f"{removed} entries were"
        with pytest.raises(IntegrityError, match=f"{said} removed"):
            audit(world.ledger, workers=1, seen=seen, full=full)


def test_a_deleted_middle_checkpoint_is_caught(world: World) -> None:
    grow(world, 6)
    seen = seen_now(world)
    grow(world, 2, "q")
    tamper(world.ledger.store.engine, "DELETE FROM checkpoints WHERE size = 4")
    assert audit(world.ledger, workers=1).size == 9  # nothing else says it existed
    for full in (False, True):
        with pytest.raises(IntegrityError, match="a checkpoint was deleted"):
            audit(world.ledger, workers=1, seen=seen, full=full)


def test_a_fork_is_not_consistent_with_the_remembered_checkpoint(world: World) -> None:
    """The operator rewrites the last entries (same key, every row consistent on its own):
    the tree no longer extends the one the auditor verified."""
    grow(world, 6)
    seen = seen_now(world)
    _remove_from(world, seen.size - 2)
    grow(world, 5, "fork")
    assert audit(world.ledger, workers=1).size == seen.size + 3
    with pytest.raises(IntegrityError, match=r"gone or changed|not consistent"):
        audit(world.ledger, workers=1, seen=seen)
    # and if the fork also forged the remembered size's checkpoint row away, the proof fails
    tamper(world.ledger.store.engine, "DELETE FROM checkpoints WHERE size = :n", {"n": seen.size})
    with pytest.raises(IntegrityError):
        audit(world.ledger, workers=1, seen=seen)


def test_incremental_audit_checks_only_what_was_appended(world: World) -> None:
    grow(world, 10)
    seen = seen_now(world)
    grow(world, 4, "new")
    report = audit(world.ledger, workers=1, seen=seen)
    assert (report.since, report.audited, report.size) == (seen.size, 4, seen.size + 4)
    assert report.root == world.ledger.checkpoint().checkpoint.root
    assert report.seen is not None and report.seen.size == report.size
    again = audit(world.ledger, workers=1, seen=report.seen)
    assert again.audited == 0 and again.size == report.size


def _flip_leaf(world: World, seq: int) -> None:
    with world.ledger.store.read() as conn:
        leaf = bytes(
            conn.execute(text("SELECT leaf FROM entries WHERE seq = :s"), {"s": seq}).scalar_one()
        )
    tamper(
        world.ledger.store.engine,
        "UPDATE entries SET leaf = :l WHERE seq = :s",
        {"l": flip_payload_byte(leaf, 25, 1), "s": seq},
    )


def test_incremental_audit_catches_new_damage_and_full_catches_old(world: World) -> None:
    grow(world, 6)
    seen = seen_now(world)
    grow(world, 3, "new")
    _flip_leaf(world, seen.size + 1)
    with pytest.raises(IntegrityError, match=f"entry {seen.size + 1}"):
        audit(world.ledger, workers=1, seen=seen)


def test_an_old_key_entry_altered_is_caught_incrementally(world: World) -> None:
    """Entry 2 registers a party: the incremental audit rebuilds the key history from the
    remembered key entries, each proved against the signed root."""
    grow(world, 6)
    seen = seen_now(world)
    grow(world, 2, "new")
    _flip_leaf(world, 2)
    for full in (False, True):
        with pytest.raises(IntegrityError, match="entry 2"):
            audit(world.ledger, workers=1, seen=seen, full=full)


def test_an_old_entry_altered_is_left_to_the_full_audit(world: World) -> None:
    """What the incremental audit does not read again (an old license) only --full finds."""
    regulator = world.register("bis", ["regulator"])
    world.register("acme", ["exporter"])
    appended, _ = world.append(
        {
            "kind": "license",
            "id": "L-1",
            "exporter": "acme",
            "destination": "SG",
            "eccns": ["3A090.a"],
            "valid_from": "2026-01-01",
            "valid_until": "2026-12-31",
        },
        regulator,
    )
    seen = seen_now(world)
    grow(world, 2, "new")
    _flip_leaf(world, appended.seq)
    assert audit(world.ledger, workers=1, seen=seen).audited == 2
    with pytest.raises(IntegrityError, match=f"entry {appended.seq}"):
        audit(world.ledger, workers=1, seen=seen, full=True)


def test_state_file_round_trip(tmp_path: Path, world: World) -> None:
    state = AuditState(tmp_path / "s" / "audits.json")
    assert state.get(world.db) is None
    seen = seen_now(world)
    state.put(world.db, seen)
    assert state.get(world.db) == seen
    assert state.pinned_for(world.ledger.origin) == world.ledger.verifier_key
    assert (state.path.stat().st_mode & 0o777) == 0o600
