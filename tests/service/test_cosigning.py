"""A served ledger with witnesses (`provenance serve --witness-policy`): two real
witnesses (`provenance witness serve`), 2-of-2 and 1-of-2, one down, one refusing, and a
split view refused by a client that requires the quorum. Every process on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from cli import main
from provenance.crypto import keys
from provenance.errors import ConfigError, IntegrityError
from provenance.ledger.log import Ledger
from provenance.remote.client import RemoteLedger, State
from provenance.tlog import cosignature, note
from provenance.tlog import policy as tlog_policy
from provenance.tlog import witness as protocol
from tests.conftest import World
from tests.service.conftest import Parties, Server, free_port
from tests.witnessing.conftest import WitnessServer


@pytest.fixture
def witnesses(world: World, tmp_path: Path) -> Iterator[list[WitnessServer]]:
    log = f"{world.ledger.origin}={world.ledger.verifier_key}"
    made = [
        WitnessServer(tmp_path, f"witness.example/w{i}", [log], port=free_port()) for i in (1, 2)
    ]
    yield made
    for w in made:
        w.stop()


def write_policy(path: Path, world: World, witnesses: list[WitnessServer], rule: str) -> Path:
    lines = [f"log {world.ledger.verifier_key}"]
    lines += [f"witness w{i + 1} {w.vkey} {w.url}" for i, w in enumerate(witnesses)]
    names = " ".join(f"w{i + 1}" for i in range(len(witnesses)))
    lines += [f"group all-of-them {rule} {names}", "quorum all-of-them", ""]
    path.write_text("\n".join(lines))
    return path


def served(world: World, tmp_path: Path, policy: Path, db: str | None = None) -> Server:
    args = ["--witness-policy", str(policy), "--witness-wait", "2"]
    return Server(db or world.db, tmp_path / "keys" / "ledger.pem", tmp_path, args=args).start()


def published(url: str, size: int | None = None, timeout: float = 20.0) -> str:
    """The served checkpoint once it is witnessed (and at least `size`, if given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = httpx.get(url + "/checkpoint", timeout=5)
        if answer.status_code == 200:
            text = answer.text
            if size is None or note.Checkpoint.parse(note.split(text)[0]).size >= size:
                return text
        time.sleep(0.2)
    raise AssertionError(f"no witnessed checkpoint at {url} ({answer.status_code})")


def client(url: str, tmp_path: Path, name: str, policy: Path | None, **kw: Any) -> RemoteLedger:
    loaded = tlog_policy.load(str(policy)) if policy else None
    state = State(tmp_path / "state" / name)
    return RemoteLedger(url, state=state, witness_policy=loaded, **kw)


@pytest.mark.slow
def test_two_witnesses_two_of_two_then_one_down(
    world: World, parties: Parties, witnesses: list[WitnessServer], tmp_path: Path
) -> None:
    for w in witnesses:
        w.start()
    policy = write_policy(tmp_path / "policy", world, witnesses, "all")
    server = served(world, tmp_path, policy)
    try:
        text = published(server.url, world.ledger.size())
        keys = [w.cosigner_key() for w in witnesses]
        assert set(cosignature.verify(text, keys)) == {w.name for w in witnesses}

        meridian = client(server.url, tmp_path, "meridian", policy, key=parties.keys["meridian"])
        answer = meridian.append(parties.shipment("SHP-W1"))
        receipt = answer["receipt"]
        assert set(tlog_policy.load(str(policy)).check(receipt.partition("\n\n")[2])) == {
            "w1",
            "w2",
        }
        # A bundle is against the witnessed checkpoint too (the client checks its quorum).
        bundled = meridian.bundle([answer["entry"]["seq"]])
        assert all(
            len(cosignature.verify(r.partition("\n\n")[2], keys)) == 2 for r in bundled["receipts"]
        )
        receipt_file = tmp_path / "receipt.txt"
        receipt_file.write_text(receipt)

        # Offline: the receipt's cosignatures meet the policy; a stricter one is exit 4.
        args = ["verify", str(receipt_file), "--ledger-key", world.ledger.verifier_key]
        ok = CliRunner().invoke(main, [*args, "--witness-policy", str(policy), "--json"])
        assert ok.exit_code == 0, ok.output
        assert '"witnessed_by": [\n    "w1",\n    "w2"\n  ]' in ok.stdout
        third = WitnessServer(tmp_path, "witness.example/w3", [])
        strict = write_policy(tmp_path / "strict", world, [*witnesses, third], "all")
        refused = CliRunner().invoke(main, [*args, "--witness-policy", str(strict)])
        assert refused.exit_code == 4
        assert "does not meet the witness quorum" in refused.stderr
        assert refused.stdout == ""

        # One witness down: 2-of-2 cannot be met. The entry is sequenced, not published:
        # the submission is 503, /checkpoint stays at the last witnessed size.
        before = note.Checkpoint.parse(note.split(published(server.url))[0]).size
        witnesses[1].stop()
        impatient = client(
            server.url, tmp_path, "meridian", policy, key=parties.keys["meridian"], retries=0
        )
        envelope = parties.shipment("SHP-W2")
        with pytest.raises(ConfigError, match="witness quorum"):
            impatient.append(envelope)
        assert Ledger.open(world.db).size() > before  # sequenced
        time.sleep(1.0)
        stale = published(server.url)
        assert note.Checkpoint.parse(note.split(stale)[0]).size == before
        health = httpx.get(server.url + "/healthz").json()
        assert health["witnessed_size"] == before < health["size"]
        assert "unreachable" in health["witnesses"]["w2"]
        assert health["witnesses"]["w1"].startswith("cosigned size")

        # The witness is back: the checkpoint is witnessed, the retry gets its receipt.
        witnesses[1].start()
        again = meridian.append(envelope)
        assert again["entry"]["duplicate"] is True
        assert len(cosignature.verify(again["receipt"].partition("\n\n")[2], keys)) == 2
        meridian.close()
        impatient.close()
    finally:
        server.stop()


@pytest.mark.slow
def test_one_of_two_with_one_witness_down(
    world: World, parties: Parties, witnesses: list[WitnessServer], tmp_path: Path
) -> None:
    witnesses[0].start()  # w2 is never started: its port answers nothing
    any_policy = write_policy(tmp_path / "any", world, witnesses, "any")
    both_policy = write_policy(tmp_path / "both", world, witnesses, "all")
    server = served(world, tmp_path, any_policy)
    try:
        text = published(server.url, world.ledger.size())
        keys = [w.cosigner_key() for w in witnesses]
        assert set(cosignature.verify(text, keys)) == {"witness.example/w1"}
        with client(server.url, tmp_path, "a", any_policy, key=parties.keys["meridian"]) as one:
            assert one.append(parties.shipment("SHP-A"))["entry"]["duplicate"] is False
        with (
            client(server.url, tmp_path, "b", both_policy) as strict,
            pytest.raises(IntegrityError, match="witness quorum") as caught,
        ):
            strict.checkpoint()
        assert caught.value.exit_code == 4
        # The CLI says the same: exit 4.
        result = CliRunner().invoke(
            main,
            ["ledger", "checkpoint", "--ledger", server.url, "--witness-policy", str(both_policy)],
            env={"PROVENANCE_STATE_DIR": str(tmp_path / "state" / "cli")},
        )
        assert result.exit_code == 4
        assert "witness quorum" in result.stderr
    finally:
        server.stop()


@pytest.mark.slow
def test_a_refusing_witness_and_the_split_view(
    world: World, parties: Parties, witnesses: list[WitnessServer], tmp_path: Path
) -> None:
    from provenance.ledger.setup import initialise

    w1 = witnesses[0].start()
    policy = write_policy(tmp_path / "one", world, [w1], "all")
    honest = served(world, tmp_path, policy)
    try:
        history_a = published(honest.url, world.ledger.size())
    finally:
        honest.stop()
    size_a = note.Checkpoint.parse(note.split(history_a)[0]).size

    # History B: the same origin and checkpoint key, other entries, a larger tree.
    fork_db = f"sqlite:///{tmp_path / 'fork.db'}"
    forked = initialise(
        fork_db, origin=world.ledger.origin, keys_dir=tmp_path / "keys", with_catalog=True
    )
    fork = forked.ledger
    other = World(fork_db, tmp_path, fork, keys.load_private(forked.operator_key))
    while fork.size() <= size_a:
        other.register(f"shadow-{fork.size()}", ["exporter"])
    signed_b = fork.checkpoint()
    # The witness refuses B: not consistent with the A it cosigned (422), nothing moves.
    proof = fork.consistency_proof(size_a, signed_b.checkpoint.size)
    body = protocol.format_request(size_a, proof, signed_b.note)
    answer = httpx.post(w1.url + "/add-checkpoint", content=body)
    assert answer.status_code == 422
    stale = httpx.post(
        w1.url + "/add-checkpoint", content=protocol.format_request(0, [], signed_b.note)
    )
    assert stale.status_code == 409 and protocol.parse_size(stale.content) == size_a
    fork.close()

    # The operator serves B with the same policy: B is never witnessed, never published.
    b_witnessed = served(world, tmp_path, policy, db=fork_db)
    try:
        time.sleep(2.0)
        assert httpx.get(b_witnessed.url + "/checkpoint").status_code == 503
    finally:
        b_witnessed.stop()

    # The operator shows B to a client without witnesses: a client that requires the
    # quorum refuses it, exit 4.
    b_plain = Server(fork_db, tmp_path / "keys" / "ledger.pem", tmp_path).start()
    try:
        result = CliRunner().invoke(
            main,
            [
                "ledger",
                "checkpoint",
                "--ledger",
                b_plain.url,
                "--ledger-key",
                world.ledger.verifier_key,
                "--witness-policy",
                str(policy),
            ],
            env={"PROVENANCE_STATE_DIR": str(tmp_path / "state" / "shown-b")},
        )
        assert result.exit_code == 4, result.output
        assert "does not meet the witness quorum" in result.stderr
        assert result.stdout == ""
        # And the witness still holds A.
        again = httpx.post(
            w1.url + "/add-checkpoint", content=protocol.format_request(0, [], signed_b.note)
        )
        assert protocol.parse_size(again.content) == size_a
    finally:
        b_plain.stop()
