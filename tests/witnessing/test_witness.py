"""`provenance witness serve` as C2SP tlog-witness v1.0.0 says, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from cli import main
from provenance.tlog import cosignature, merkle, note
from provenance.tlog import witness as protocol
from tests.witnessing.conftest import WitnessServer

ORIGIN = "example.com/test-log"
LEAVES = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(40)]


class Log:
    """A log in memory: leaves, its key, checkpoints signed on demand."""

    def __init__(self, origin: str = ORIGIN) -> None:
        self.origin = origin
        self.signer, self.vkey = note.generate(origin)

    def note(self, size: int, root: bytes | None = None, signer: str | None = None) -> str:
        body = note.Checkpoint(self.origin, size, root or merkle.root(LEAVES[:size])).body()
        return note.sign(body, signer or self.signer)

    @staticmethod
    def proof(old: int, new: int) -> list[bytes]:
        return merkle.consistency_proof(old, LEAVES[:new]) if old else []


@pytest.fixture(scope="module")
def log() -> Log:
    return Log()


@pytest.fixture(scope="module")
def other_log() -> Log:
    return Log("example.com/other-log")


@pytest.fixture(scope="module")
def witness(
    tmp_path_factory: pytest.TempPathFactory, log: Log, other_log: Log
) -> Iterator[WitnessServer]:
    server = WitnessServer(
        tmp_path_factory.mktemp("witness"),
        "witness.example/w1",
        [f"{log.origin}={log.vkey}", f"{other_log.origin}={other_log.vkey}"],
    ).start()
    yield server
    server.stop()


def add(witness: WitnessServer, old: int, proof: list[bytes], signed: str) -> httpx.Response:
    body = protocol.format_request(old, proof, signed)
    return httpx.post(witness.url + "/add-checkpoint", content=body, timeout=30)


def size_of(witness: WitnessServer, log: Log) -> int:
    answer = add(witness, 0, [], log.note(0, merkle.EMPTY_ROOT))
    if answer.status_code == 200:
        return 0
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "text/x.tlog.size"
    return protocol.parse_size(answer.content)


def test_init_writes_a_private_key_and_prints_its_vkey(tmp_path: Path) -> None:
    key = tmp_path / "w.key"
    args = ["witness", "init", "--name", "w.example/1", "--key", str(key)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    vkey = result.stdout.strip()
    parsed = cosignature.CosignerKey.parse(vkey)
    assert parsed.name == "w.example/1"
    assert vkey.split("+")[0] == "w.example/1"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert str(cosignature.Cosigner.parse(key.read_text()).key()) == vkey
    again = CliRunner().invoke(main, ["witness", "init", "--name", "x", "--key", str(key)])
    assert again.exit_code == 2
    assert "not overwriting" in again.stderr
    assert str(cosignature.Cosigner.parse(key.read_text()).key()) == vkey


def test_serve_refuses_a_key_others_can_read(tmp_path: Path, log: Log) -> None:
    key = tmp_path / "w.key"
    CliRunner().invoke(main, ["witness", "init", "--name", "w.example/1", "--key", str(key)])
    key.chmod(0o644)
    args = ["witness", "serve", "--db", str(tmp_path / "w.db"), "--key", str(key)]
    result = CliRunner().invoke(main, [*args, "--log", f"{log.origin}={log.vkey}"])
    assert result.exit_code == 2
    assert "readable by others" in result.stderr
    bad = CliRunner().invoke(main, [*args, "--log", "no-equals-sign"])
    assert bad.exit_code == 2


def test_the_add_checkpoint_answers(witness: WitnessServer, log: Log) -> None:
    # A first checkpoint: old 0, no proof; the answer is a cosignature that verifies.
    first = add(witness, 0, [], log.note(5))
    assert first.status_code == 200, first.text
    lines = protocol.parse_cosignatures(first.content)
    assert len(lines) == 1 and lines[0].startswith("— witness.example/w1 ")
    found = cosignature.verify(log.note(5) + lines[0], [witness.cosigner_key()])
    assert set(found) == {"witness.example/w1"}

    # 409: the old size is not the witness's; the body names its size.
    stale = add(witness, 3, log.proof(3, 8), log.note(8))
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "text/x.tlog.size"
    assert stale.content == b"5\n"

    # 200: from its size, with the proof.
    assert add(witness, 5, log.proof(5, 8), log.note(8)).status_code == 200
    assert size_of(witness, log) == 8

    # 422: a proof that does not verify; another root for the size it holds.
    wrong = [bytes(32)] * len(log.proof(8, 13))
    assert add(witness, 8, wrong, log.note(13)).status_code == 422
    forked = log.note(8, hashlib.sha256(b"another history").digest())
    assert add(witness, 8, [], forked).status_code == 422
    fork_13 = log.note(13, hashlib.sha256(b"a fork").digest())
    assert add(witness, 8, log.proof(8, 13), fork_13).status_code == 422

    # 400: an old size larger than the checkpoint's; a malformed body.
    assert add(witness, 9, [], log.note(8)).status_code == 400
    body = b"old 08\n\n" + log.note(8).encode()
    assert httpx.post(witness.url + "/add-checkpoint", content=body).status_code == 400
    assert httpx.post(witness.url + "/add-checkpoint", content=b"garbage").status_code == 400

    # 403: signed by a key the witness does not trust for this origin (same name).
    impostor, _ = note.generate(ORIGIN)
    assert add(witness, 8, log.proof(8, 13), log.note(13, signer=impostor)).status_code == 403
    # 403: a signature line with the trusted key's name and id that does not verify.
    text, [(name, blob)] = note.split(log.note(13))
    bad_blob = blob[:-1] + bytes([blob[-1] ^ 1])
    broken = f"{text}\n— {name} {base64.b64encode(bad_blob).decode()}\n"
    assert add(witness, 8, log.proof(8, 13), broken).status_code == 403

    # 404: an origin it does not witness.
    stranger = Log("example.com/unknown")
    assert add(witness, 0, [], stranger.note(3)).status_code == 404

    # Nothing refused moved its state; the checkpoints the log signed and the witness
    # refused as inconsistent are kept as evidence.
    assert size_of(witness, log) == 8
    from provenance.witnessing.store import WitnessStore

    kept = WitnessStore(str(witness.db))
    try:
        refused = kept.refusals(ORIGIN)
    finally:
        kept.close()
    assert [(old, size) for old, size, _, _ in refused] == [(8, 13), (8, 8), (8, 13)]
    assert refused[1][2] == forked and "two different roots" in refused[1][3]
    # The same checkpoint again is cosigned again; the monitoring read has it.
    assert add(witness, 8, [], log.note(8)).status_code == 200
    digest = hashlib.sha256(ORIGIN.encode()).hexdigest()
    served = httpx.get(f"{witness.url}/{digest}/checkpoint")
    assert served.status_code == 200
    assert note.open_checkpoint(served.text, [log.vkey]).size == 8
    assert cosignature.verify(served.text, [witness.cosigner_key()])
    assert httpx.get(f"{witness.url}/{'0' * 64}/checkpoint").status_code == 404


def test_size_zero_and_a_proof_from_zero(witness: WitnessServer, other_log: Log) -> None:
    assert add(witness, 0, [], other_log.note(0, bytes(32))).status_code == 422
    assert add(witness, 0, [bytes(32)], other_log.note(4)).status_code == 422
    assert add(witness, 0, [], other_log.note(0)).status_code == 200
    assert size_of(witness, other_log) == 0


@pytest.mark.slow
def test_racing_requests_from_one_size_cannot_roll_it_back(tmp_path: Path, log: Log) -> None:
    server = WitnessServer(tmp_path, "witness.example/race", [f"{log.origin}={log.vkey}"]).start()
    try:
        assert add(server, 0, [], log.note(10)).status_code == 200
        answers: dict[int, httpx.Response] = {}

        def submit(size: int) -> None:
            answers[size] = add(server, 10, log.proof(10, size), log.note(size))

        threads = [threading.Thread(target=submit, args=(s,)) for s in range(11, 31)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        won = [s for s, a in answers.items() if a.status_code == 200]
        assert len(won) == 1, {s: a.status_code for s, a in answers.items()}
        for size, answer in answers.items():
            if size not in won:
                assert answer.status_code == 409
                assert protocol.parse_size(answer.content) == won[0]
        assert size_of(server, log) == won[0]

        # Persisted before answering: a restarted witness holds the same size.
        server.stop()
        server.start()
        assert size_of(server, log) == won[0]
        assert add(server, won[0], log.proof(won[0], 40), log.note(40)).status_code == 200
    finally:
        server.stop()
