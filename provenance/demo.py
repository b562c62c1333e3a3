"""The demo: a small, true-to-life story run against an embedded SQLite ledger.

Everything here goes through the same library calls the CLI makes, and every
file it signs is written to the demo folder, so a reader can re-run each step
by hand with the command shown beside it. The library never prints: the demo
reports each step to a `narrate` callback (the CLI prints it).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from provenance import bundle, keys, payloads
from provenance.audit import audit
from provenance.errors import InputError, ProvenanceError
from provenance.keys import SigningKey
from provenance.ledger import Ledger, Receipt
from provenance.operator import initialise, sign

Narrate = Callable[[str, str], None]
"""narrate(kind, text): kind is "step" (a heading), "cmd" (the equivalent command),
"info" (what happened) or "warn" (what the checks caught)."""

ORIGIN = "demo.provenance.dev/ledger"

PARTIES: list[dict[str, Any]] = [
    {
        "id": "nvidia",
        "name": "NVIDIA Corporation",
        "roles": ["manufacturer"],
        "country": "US",
        "headquarters": "US",
        "address": "2788 San Tomas Expressway, Santa Clara, CA",
    },
    {
        "id": "meridian-exports",
        "name": "Meridian Compute Exports Inc.",
        "roles": ["exporter"],
        "country": "US",
        "headquarters": "US",
    },
    {
        "id": "lionsgate-cloud",
        "name": "Lion Gate Cloud Pte. Ltd.",
        "roles": ["consignee", "end_user"],
        "country": "SG",
        "headquarters": "SG",
    },
    {
        "id": "straits-audit",
        "name": "Straits Assurance LLP",
        "roles": ["auditor"],
        "country": "SG",
        "headquarters": "SG",
    },
    {
        "id": "bis",
        "name": "Bureau of Industry and Security",
        "roles": ["regulator"],
        "country": "US",
        "headquarters": "US",
    },
]


@dataclass
class DemoResult:
    directory: Path
    db: str
    verifier_key: str
    size: int
    root: str
    receipts: dict[str, str] = field(default_factory=dict)
    caught: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "db": self.db,
            "verifier_key": self.verifier_key,
            "size": self.size,
            "root": self.root,
            "receipts": self.receipts,
            "caught": self.caught,
        }


class Demo:
    """One run of the story; each step is a method, in order."""

    def __init__(self, directory: Path, narrate: Narrate) -> None:
        self.dir = directory
        self.say = narrate
        self.db = str(directory / "ledger.db")
        self.keys: dict[str, SigningKey] = {}
        self.key_files: dict[str, str] = {}
        self.caught: list[str] = []
        self.receipts: dict[str, str] = {}
        self.ledger: Ledger | None = None

    # --- plumbing ---------------------------------------------------------------------

    def _write(self, name: str, document: dict[str, Any]) -> Path:
        path = self.dir / "statements" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".json":
            path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return path

    def _rel(self, path: Path) -> str:
        return str(path.relative_to(self.dir))

    def _append(self, name: str, document: dict[str, Any], *signers: str) -> Receipt:
        assert self.ledger is not None
        path = self._write(name, document)
        statement = payloads.from_document(document)
        envelope = sign(statement, [self.keys[s] for s in signers])
        key_args = " ".join(f"--key {self.key_files[s]}" for s in signers)
        command = f"provenance sign {self._rel(path)} {key_args} | provenance ledger append -"
        self.say("cmd", command)
        appended, receipt = self.ledger.append(envelope)
        self.say("info", f"entry {appended.seq}: {appended.kind}, signed by {appended.signer}")
        return receipt

    def _new_key(self, name: str, algorithm: str = "ed25519") -> SigningKey:
        key = keys.generate(algorithm)
        keys.save_private(self.dir / "keys" / f"{name}.pem", key)
        keys.save_public(self.dir / "keys" / f"{name}.pub", key.verifying)
        self.keys[name] = key
        self.key_files[name] = f"keys/{name}.pem"
        self.say("cmd", f"provenance keys generate {name} --dir keys --algorithm {algorithm}")
        return key

    def _expect_refusal(self, what: str, action: Callable[[], object]) -> None:
        assert self.ledger is not None
        size = self.ledger.size()
        try:
            action()
        except ProvenanceError as exc:
            if self.ledger.size() != size:
                raise AssertionError("a refused entry changed the ledger") from exc
            self.caught.append(f"{what}: {exc.message}")
            self.say("warn", f"refused, exit {exc.exit_code}: {exc.message}")
            return
        raise AssertionError(f"the ledger accepted {what}")

    # --- the story ----------------------------------------------------------------------

    def run(self) -> DemoResult:
        self.create_ledger()
        self.register_parties()
        self.refuse_bad_signers()
        self.rotate_a_key()
        return self.verify()

    def create_ledger(self) -> None:
        self.say("step", "1. The operator creates the ledger and its two keys")
        self.say("cmd", f"cd {self.dir} && export PROVENANCE_DB=ledger.db")
        self.say("cmd", f"provenance init --origin {ORIGIN} --keys keys")
        done = initialise(self.db, origin=ORIGIN, keys_dir=self.dir / "keys")
        self.ledger = done.ledger
        self.keys["operator"] = keys.load_private(done.operator_key)
        self.key_files["operator"] = "keys/operator.pem"
        self.say("info", "keys/operator.pem signs registrations; keys/ledger.pem signs checkpoints")
        self.say("info", f"ledger verifier key: {done.ledger.verifier_key}")

    def register_parties(self) -> None:
        self.say("step", "2. The operator registers the parties and their keys")
        for party in PARTIES:
            algorithm = "p256" if party["id"] == "bis" else "ed25519"
            key = self._new_key(party["id"], algorithm)
            document = {"kind": "party", **party, "keys": [key.verifying.pem()]}
            self._append(f"party-{party['id']}.yaml", document, "operator")

    def refuse_bad_signers(self) -> None:
        self.say("step", "3. The ledger refuses what the wrong key signs")
        impostor = {
            "kind": "party",
            "id": "shell-trading",
            "name": "Shell Trading Co.",
            "roles": ["exporter"],
            "country": "HK",
            "headquarters": "HK",
            "keys": [keys.generate().verifying.pem()],
        }
        self.say("info", "an exporter tries to register a party of its own")
        self._expect_refusal(
            "a party registered by an exporter",
            lambda: self._append("party-shell.yaml", impostor, "meridian-exports"),
        )
        self.say("info", "someone signs with a key the ledger never registered")
        self._new_key("stranger")
        self._expect_refusal(
            "a statement signed by an unregistered key",
            lambda: self._append("party-shell.yaml", impostor, "stranger"),
        )

    def rotate_a_key(self) -> None:
        self.say("step", "4. The exporter rotates its key; the old one stops working")
        old = self.keys["meridian-exports"]
        new = self._new_key("meridian-exports-2026")
        rotation = {
            "kind": "key-rotation",
            "party": "meridian-exports",
            "old_key": old.keyid,
            "public_key": new.verifying.pem(),
            "reason": "annual rotation",
        }
        self.receipts["rotation"] = self._append(
            "rotate-meridian.yaml", rotation, "meridian-exports"
        ).text()
        revoke = {"kind": "key-revocation", "key": new.keyid, "reason": "demo"}
        self.say("info", "the retired key tries to sign again")
        self._expect_refusal(
            "a statement signed by a rotated-out key",
            lambda: self._append("revoke.yaml", revoke, "meridian-exports"),
        )
        self.keys["meridian-exports"] = new
        self.key_files["meridian-exports"] = self.key_files["meridian-exports-2026"]

    def verify(self) -> DemoResult:
        assert self.ledger is not None
        ledger = self.ledger
        self.say("step", "5. An auditor verifies the whole ledger, then one receipt offline")
        self.say("cmd", "provenance ledger verify")
        report = audit(ledger)
        self.say(
            "info",
            f"verified {report.entries} entries, {report.checkpoints} checkpoints, "
            f"{report.keys} keys; root {report.root.hex()[:16]}...",
        )
        receipt = ledger.receipt(1)
        path = self.dir / "receipt-1.txt"
        path.write_text(receipt.text(), encoding="utf-8")
        self.say("cmd", "provenance ledger proof 1 > receipt-1.txt")
        self.say(
            "cmd",
            'provenance verify receipt-1.txt --ledger-key "$(provenance ledger key | tail -1)"',
        )
        checked = bundle.verify_receipt(receipt.text(), [ledger.verifier_key])
        self.say(
            "info",
            f"receipt verified offline: entry {checked.entry.seq} ({checked.entry.kind}) is in "
            f"{checked.checkpoint.origin} at size {checked.checkpoint.size}",
        )
        self.receipts["party-nvidia"] = receipt.text()
        export = ledger.export([1])
        (self.dir / "bundle.json").write_text(json.dumps(export, indent=1), encoding="utf-8")
        self.say("cmd", "provenance ledger export --seq 1 -o bundle.json")
        bundle.verify_bundle(export, [ledger.verifier_key])
        self.say("info", "bundle verified offline: every signature against its key's history")
        cp = ledger.checkpoint()
        return DemoResult(
            self.dir,
            self.db,
            ledger.verifier_key,
            cp.checkpoint.size,
            cp.checkpoint.root.hex(),
            self.receipts,
            self.caught,
        )

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()


def run(directory: Path, narrate: Narrate, *, fresh: bool = False) -> DemoResult:
    """Run the demo in `directory` (it must be new or empty, or `fresh` to wipe it)."""
    if directory.exists() and any(directory.iterdir()):
        if not fresh:
            raise InputError(
                f"{directory} is not empty",
                hint="pass --fresh to start the demo over, or choose another --dir",
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    demo = Demo(directory, narrate)
    try:
        return demo.run()
    finally:
        demo.close()
