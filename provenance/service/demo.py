"""`provenance demo --service`: the ledger as a service, the parties as separate clients.

The operator creates a ledger and starts `provenance serve` on a free loopback port
(uvicorn, in this process); then each party is its own client (`RemoteLedger`) with its
own key and its own remembered checkpoint: NVIDIA registers serials, two exporters ship
them, the consignee signs for them, one exporter tries to read the other's shipment and
is refused, and the regulator mirrors the ledger into a replica of its own, audits it
and reports from it. Narrated step by step to a `narrate` callback.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance.crypto import keys
from provenance.crypto.keys import SigningKey
from provenance.errors import AuthorizationError, ConfigError
from provenance.remote.client import RemoteLedger, State
from provenance.service.config import ServiceConfig
from provenance.statements import kinds
from provenance.statements.signing import sign

Narrate = Callable[[str, str], None]
SERIALS = [f"1654925{n:06d}" for n in range(12)]
PARTIES = {
    "nvidia": (["manufacturer"], "TW"),
    "meridian": (["exporter"], "US"),
    "harbor": (["exporter"], "US"),
    "lion": (["consignee", "end_user"], "SG"),
    "bis": (["regulator"], "US"),
}


@dataclass
class ServiceDemo:
    url: str
    db: str
    replica: str
    size: int
    refused: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "db": self.db,
            "replica": self.replica,
            "size": self.size,
            "refused": self.refused,
            "report_totals": self.report.get("totals"),
        }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(config: ServiceConfig) -> Iterator[str]:
    """`provenance serve` on a free loopback port, in a thread of this process."""
    import uvicorn

    from provenance.service.app import create_app
    from provenance.service.server import GuardedH11

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host="127.0.0.1",
            port=port,
            http=GuardedH11,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise ConfigError("the demo's server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _shipment(shipment_id: str, exporter: str, serials: list[str]) -> dict[str, Any]:
    return {
        "kind": "shipment",
        "id": shipment_id,
        "exporter": exporter,
        "consignee": "lion",
        "end_user": "lion",
        "ship_date": "2026-10-02",
        "destination": "SG",
        "route": ["US", "SG"],
        "license": "NLR",
        "items": [
            {
                "product": "nvidia-h100-sxm5",
                "description": "NVIDIA H100 SXM5 80GB HBM3 GPU module",
                "hs_code": "8473.30.1180",
                "quantity": len(serials),
                "serials": serials,
                "unit_value": {"amount": "30000.00", "currency": "USD"},
            }
        ],
    }


def run(directory: Path, narrate: Narrate, *, fresh: bool = False) -> ServiceDemo:
    """Play the story against a served ledger in `directory`."""
    from provenance.ledger.audit import audit
    from provenance.ledger.log import Ledger
    from provenance.ledger.setup import initialise
    from provenance.remote.mirror import mirror
    from provenance.reports import build
    from provenance.reports.periods import parse_period

    if fresh and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    db = str(directory / "ledger.db")
    replica = str(directory / "regulator-replica.db")
    narrate("step", "1. The operator creates the ledger; only the service holds its key")
    done = initialise(db, origin="demo.provenance.local/service", keys_dir=directory / "keys")
    operator = keys.load_private(done.operator_key)
    done.ledger.close()
    narrate("cmd", "provenance serve --db ledger.db --checkpoint-key keys/ledger.pem")
    config = ServiceConfig(
        db=db,
        checkpoint_keys=[str(done.checkpoint_key)],
        operator_key=str(done.operator_key),
        access_log=str(directory / "access.jsonl"),
    )
    party_keys: dict[str, SigningKey] = {name: keys.generate() for name in PARTIES}
    refused: list[str] = []
    with serving(config) as url:
        narrate("info", f"serving on {url} (tlog-tiles at {url}/checkpoint, {url}/tile/...)")

        def client(name: str | None) -> RemoteLedger:
            key = party_keys[name] if name else operator
            return RemoteLedger(url, key=key, state=State(directory / "clients" / (name or "op")))

        narrate("step", "2. The operator registers five parties over HTTP, each with its own key")
        with client(None) as op:
            for name, (roles, country) in PARTIES.items():
                statement = kinds.from_document(
                    {
                        "kind": "party",
                        "id": name,
                        "name": name.title(),
                        "roles": roles,
                        "country": country,
                        "headquarters": country,
                        "keys": [party_keys[name].verifying.pem()],
                    }
                )
                answer = op.append(sign(statement, [operator]))
                narrate("info", f"{name}: entry {answer['entry']['seq']}, receipt verified")
            narrate("info", f"the operator pinned the ledger key {op.verifier_key}")

        narrate("step", "3. NVIDIA registers twelve serials, from its own machine")
        with client("nvidia") as nvidia:
            document = {
                "kind": "manufacture",
                "product": "nvidia-h100-sxm5",
                "serials": SERIALS,
                "date": "2026-09-14",
                "site": "TW",
            }
            answer = nvidia.append(sign(kinds.from_document(document), [party_keys["nvidia"]]))
            narrate(
                "cmd", f"provenance attest manufacture serials.yaml --key nvidia.pem --ledger {url}"
            )
            narrate("info", f"entry {answer['entry']['seq']}")

        narrate("step", "4. Two exporters ship; the service checks each shipment as it appends it")
        for exporter, shipment_id, serials in (
            ("meridian", "MX-1", SERIALS[:6]),
            ("harbor", "HB-1", SERIALS[6:]),
        ):
            with client(exporter) as party:
                statement = kinds.from_document(_shipment(shipment_id, exporter, serials))
                answer = party.append(sign(statement, [party_keys[exporter]]))
                verdict = (answer.get("determination") or {}).get("verdict", "not checked")
                narrate(
                    "info", f"{exporter}: {shipment_id} is entry {answer['entry']['seq']}; "
                    f"the rules say {verdict}"
                )  # fmt: skip

        narrate("step", "5. Lion Gate signs for both shipments")
        with client("lion") as lion:
            for shipment_id, serials in (("MX-1", SERIALS[:6]), ("HB-1", SERIALS[6:])):
                receipt = {
                    "kind": "receipt",
                    "shipment": shipment_id,
                    "serials": serials,
                    "date": "2026-10-12",
                    "country": "SG",
                    "site": "Jurong West DC",
                }
                lion.append(sign(kinds.from_document(receipt), [party_keys["lion"]]))
            narrate("info", f"the consignee reads MX-1: {lion.shipment('MX-1')['exporter']}")

        narrate("step", "6. Harbor tries to read Meridian's shipment")
        with client("harbor") as harbor:
            try:
                harbor.shipment("MX-1")
            except AuthorizationError as exc:
                refused.append(exc.message)
                narrate("warn", f"refused: {exc.message}")

        narrate("step", "7. The regulator mirrors the ledger, verifies it, and reports from it")
        with client("bis") as regulator:
            mirrored = mirror(regulator, replica)
            narrate("cmd", f"provenance mirror {url} --db regulator-replica.db --key bis.pem")
            narrate("info", f"{mirrored.pulled} entries pulled, every signature and root verified")
        with Ledger.open(replica) as copy:
            audited = audit(copy)
            narrate("info", f"ledger verify on the replica: {audited.entries} entries verified")
            report = build.regulator(copy, parse_period("2026-Q4"))
            narrate("cmd", "provenance report regulator --period 2026-Q4 --db regulator-replica.db")
            narrate("info", f"2026-Q4 totals: {report['totals']}")
        size = mirrored.size
    return ServiceDemo(url, db, replica, size, refused, report)
