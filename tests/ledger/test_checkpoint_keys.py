"""The checkpoint key's life: a new key announced by a signed entry, both keys signing
for the overlap, the old one retired after it; and the service's custody of the key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from provenance.crypto import keys
from provenance.errors import ConfigError, InputError
from provenance.ledger.audit import audit
from provenance.ledger.log import Ledger
from provenance.service.custody import check_rotation, load_checkpoint_key
from provenance.tlog import note
from tests.conftest import World


def _announce(world: World, new: keys.SigningKey, until: str = "2030-01-31") -> int:
    verifier = note.Signer.from_signing_key(world.ledger.origin, new).verifier()
    appended, _ = world.append(
        {
            "kind": "checkpoint-key",
            "verifier_key": str(verifier),
            "replaces": world.ledger.verifier_key,
            "overlap_until": until,
            "reason": "yearly rotation",
        },
        world.operator,
    )
    return appended.seq


def test_a_rotation_signs_with_both_keys_then_the_new_one(world: World, tmp_path: Path) -> None:
    old = keys.load_private(tmp_path / "keys" / "ledger.pem")
    new = keys.generate()
    new_verifier = str(note.Signer.from_signing_key(world.ledger.origin, new).verifier())
    _announce(world, new)
    assert world.ledger.verifier_keys == [world.ledger.verifier_key, new_verifier]
    with Ledger.open(world.db) as service:
        service.use_checkpoint_key(old, new)
        service.append(world.envelope(_party("p1"), world.operator))
        signed = service.checkpoint().note
        assert len(note.split(signed)[1]) == 2
        # each key alone verifies it: clients pinned to either follow the overlap
        note.open_checkpoint(signed, [world.ledger.verifier_key])
        note.open_checkpoint(signed, [new_verifier])
    with Ledger.open(world.db) as after:
        after.use_checkpoint_key(new)
        after.append(world.envelope(_party("p2"), world.operator))
        only_new = after.checkpoint().note
        assert [n for n, _ in note.split(only_new)[1]] == [world.ledger.origin]
        with pytest.raises(Exception, match="no signature by a known key"):
            note.open_checkpoint(only_new, [world.ledger.verifier_key])
        assert audit(after).checkpoints >= 3  # every checkpoint verifies with the ledger's keys


def _party(party_id: str) -> dict[str, object]:
    return {
        "kind": "party",
        "id": party_id,
        "name": party_id,
        "roles": ["consignee"],
        "country": "SG",
        "headquarters": "SG",
        "keys": [],
    }


def test_the_overlap_decides_which_keys_the_service_must_hold(world: World, tmp_path: Path) -> None:
    old = str(world.ledger.verifier_key)
    check_rotation(world.ledger, [old])
    new = keys.generate()
    new_verifier = str(note.Signer.from_signing_key(world.ledger.origin, new).verifier())
    _announce(world, new, until="2030-01-31")
    during = dt.date(2030, 1, 31)
    check_rotation(world.ledger, [old, new_verifier], today=during)
    with pytest.raises(ConfigError, match="announced but not loaded"):
        check_rotation(world.ledger, [old], today=during)
    after = dt.date(2030, 2, 1)
    with pytest.raises(ConfigError, match="overlap has ended"):
        check_rotation(world.ledger, [old, new_verifier], today=after)
    check_rotation(world.ledger, [new_verifier], today=after)


def test_announcements_that_do_not_fit_the_ledger_are_refused(world: World) -> None:
    size = world.ledger.size()
    other = note.Signer.from_signing_key("elsewhere.example/log", keys.generate()).verifier()
    mine = note.Signer.from_signing_key(world.ledger.origin, keys.generate()).verifier()
    stranger = note.Signer.from_signing_key(world.ledger.origin, keys.generate()).verifier()
    cases = [
        {"verifier_key": str(other), "replaces": world.ledger.verifier_key},
        {"verifier_key": str(mine), "replaces": str(stranger)},
        {"verifier_key": world.ledger.verifier_key, "replaces": world.ledger.verifier_key},
        {"verifier_key": "not a key", "replaces": world.ledger.verifier_key},
    ]
    for case in cases:
        with pytest.raises(InputError):
            world.append(
                {"kind": "checkpoint-key", "overlap_until": "2030-01-01", **case}, world.operator
            )
    assert world.ledger.size() == size


def test_the_service_holds_its_key_only_if_nobody_else_can_read_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger.pem"
    keys.save_private(path, keys.generate())
    assert load_checkpoint_key(path).algorithm == "ed25519"
    path.chmod(0o640)
    with pytest.raises(ConfigError, match="readable by others"):
        load_checkpoint_key(path)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="not there"):
        load_checkpoint_key(tmp_path / "missing.pem")


def test_an_encrypted_key_needs_its_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.pem"
    keys.save_private(path, keys.generate(), passphrase="s3cret")
    assert b"ENCRYPTED" in path.read_bytes()
    monkeypatch.delenv("PROVENANCE_KEY_PASSPHRASE", raising=False)
    with pytest.raises(InputError, match="encrypted"):
        load_checkpoint_key(path)
    monkeypatch.setenv("PROVENANCE_KEY_PASSPHRASE", "s3cret")
    assert load_checkpoint_key(path).algorithm == "ed25519"
