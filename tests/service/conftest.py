"""A real server: `provenance serve` in its own process on 127.0.0.1, a free port,
waited for on /healthz; and a ledger with parties to drive it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from provenance.crypto.keys import SigningKey
from provenance.remote import signing
from provenance.remote.client import RemoteLedger, State
from provenance.statements.products import catalog_statements
from provenance.statements.signing import sign
from tests.conftest import World
from tests.ledger.test_custody import SERIALS, shipment_doc

ROOT = Path(__file__).resolve().parents[2]


def answers_health(
    process: subprocess.Popen[bytes], url: str, timeout: float, what: str, log: Callable[[], str]
) -> bool:
    """Wait until `url`/healthz answers 200 (True) or `timeout` passes (False); a process
    that exits first is a RuntimeError with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {what} exited: {log()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """One `provenance serve` process."""

    db: str
    checkpoint_key: Path
    dir: Path
    args: list[str] = field(default_factory=list)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> Server:
        self.port = self.port or free_port()
        log = open(self.dir / f"server-{self.port}.log", "ab")  # noqa: SIM115
        env = {**os.environ, **self.env}
        env.pop("PROVENANCE_CHECKPOINT_KEY", None)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "provenance",
                "serve",
                "--db",
                self.db,
                "--port",
                str(self.port),
                "--checkpoint-key",
                str(self.checkpoint_key),
                "--access-log",
                str(self.dir / f"access-{self.port}.jsonl"),
                *self.args,
            ],
            cwd=ROOT,
            stdout=log,
            stderr=log,
            env=env,
        )
        if not answers_health(self.process, self.url, timeout, "server", self.log):
            self.stop()
            raise RuntimeError(f"the server did not answer /healthz: {self.log()}")
        return self

    def log(self) -> str:
        path = self.dir / f"server-{self.port}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def signed_get(url: str, path: str, key: SigningKey, **params: Any) -> httpx.Response:
    request = httpx.Request("GET", url + path, params=params or None)
    signing.sign_request(request, key)
    with httpx.Client(timeout=30) as client:
        return client.send(request)


class Parties:
    """The catalog and six parties in a ledger, with helpers that sign as each."""

    def __init__(self, world: World) -> None:
        self.world = world
        world.ledger.append_many([sign(s, [world.operator]) for s in catalog_statements()])
        self.keys: dict[str, SigningKey] = {
            "operator": world.operator,
            "nvidia": world.register("nvidia", ["manufacturer"]),
            "meridian": world.register("meridian", ["exporter"]),
            "rival": world.register("rival", ["exporter"]),
            "lion": world.register("lion", ["consignee", "end_user"], country="SG"),
            "straits": world.register("straits", ["auditor"], country="SG"),
            "bis": world.register("bis", ["regulator"]),
        }
        world.append(
            {
                "kind": "manufacture",
                "product": "nvidia-h100-sxm5",
                "serials": SERIALS,
                "date": "2026-01-05",
                "site": "TW",
            },
            self.keys["nvidia"],
        )

    def shipment(self, shipment_id: str, exporter: str = "meridian", **extra: Any) -> Any:
        document = shipment_doc(shipment_id, SERIALS[:8], **extra)
        document["exporter"] = exporter
        return self.world.envelope(document, self.keys[exporter])


@pytest.fixture
def parties(world: World) -> Parties:
    return Parties(world)


@pytest.fixture
def server(world: World, parties: Parties, tmp_path: Path) -> Iterator[Server]:
    served = Server(world.db, tmp_path / "keys" / "ledger.pem", tmp_path).start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def client_for(server: Server, parties: Parties, tmp_path: Path) -> Iterator[Any]:
    """`client_for("meridian")`: a RemoteLedger with that party's key and its own state."""
    made: list[RemoteLedger] = []

    def make(party: str | None = None, url: str | None = None, **kwargs: Any) -> RemoteLedger:
        state = State(tmp_path / "state" / (party or "anonymous"))
        key = parties.keys[party] if party else None
        client = RemoteLedger(url or server.url, key=key, state=state, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
