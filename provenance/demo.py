"""The demo: a small, true-to-life story run against an embedded SQLite ledger.

Everything here goes through the same library calls the CLI makes, and every
file it signs is written to the demo folder, so a reader can re-run each step
by hand with the command shown beside it: pasted in order into an empty folder,
the commands shown build the same ledger with the reader's own keys (the party
files name no keys; the commands give them as key files) and exit as the demo
says (`DemoResult.commands`). The library never prints: the demo reports each
step to a `narrate` callback (the CLI prints it).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shlex
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from provenance.compliance.checks import Checker
from provenance.crypto import keys
from provenance.crypto.keys import SigningKey
from provenance.errors import InputError, ProvenanceError
from provenance.ledger import queries
from provenance.ledger.audit import audit
from provenance.ledger.log import Ledger
from provenance.ledger.setup import initialise
from provenance.offline import bundles as bundle
from provenance.offline import receipts
from provenance.offline.entries import Receipt
from provenance.screening import CSV_COLUMNS, snapshots
from provenance.statements import inspection, kinds
from provenance.statements.signing import sign

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


SERIALS = [f"16549230{n:05d}" for n in range(101, 117)]
"""Sixteen H100 serials, in the 13-digit form nvidia-smi prints."""
SHIPPED = SERIALS[:8]

SHIPMENT: dict[str, Any] = {
    "kind": "shipment",
    "id": "MX-2026-0042",
    "exporter": "meridian-exports",
    "consignee": "lionsgate-cloud",
    "end_user": "lionsgate-cloud",
    "ship_date": "2026-10-02",
    "destination": "SG",
    "route": ["US", "SG"],
    "license": "NLR",
    "items": [
        {
            "product": "nvidia-h100-sxm5",
            "description": "NVIDIA H100 SXM5 80GB HBM3 GPU module",
            "hs_code": "8473.30.1180",
            "quantity": len(SHIPPED),
            "serials": SHIPPED,
            "unit_value": {"amount": "30000.00", "currency": "USD"},
        }
    ],
}

END_USE: dict[str, Any] = {
    "kind": "end-use",
    "shipments": [SHIPMENT["id"]],
    "date": "2026-09-28",
    "end_use": "Training and serving language models for cloud customers in Singapore",
    "sector": "commercial cloud computing",
    "site": {
        "country": "SG",
        "facility": "Jurong West data centre",
        "address": "2 Jurong West Avenue 9, Singapore",
    },
    "facility_power_mw": "24",
    "certifications": {
        "no_military": True,
        "no_wmd": True,
        "no_reexport": True,
        "no_restricted_hq_access": True,
    },
    "valid_until": "2027-10-12",
}


AS_OF = dt.date(2026, 11, 30)
"""The date the demo's checks are evaluated on (receipt deadlines count from it)."""

ROGUES: list[dict[str, Any]] = [
    {
        "id": "harbor-bridge",
        "name": "Harbor Bridge Trading LLC",
        "roles": ["exporter"],
        "country": "US",
        "headquarters": "US",
    },
    {
        "id": "swift-cargo-my",
        "name": "Swift Cargo Forwarding Sdn. Bhd.",
        "roles": ["consignee", "forwarder"],
        "country": "MY",
        "headquarters": "MY",
    },
    {
        "id": "lotus-star-hk",
        "name": "Lotus Star Technology Trading Limited",
        "roles": ["end_user"],
        "country": "HK",
        "headquarters": "CN",
    },
]

RELABELED: dict[str, Any] = {
    "kind": "shipment",
    "id": "HB-7731",
    "exporter": "harbor-bridge",
    "consignee": "swift-cargo-my",
    "end_user": "lotus-star-hk",
    "ship_date": "2026-11-03",
    "destination": "HK",
    "route": ["US", "MY", "HK"],
    "items": [
        {
            "product": "sandkyan-ad-100",
            "description": "Power adapters, generic computer parts",
            "hs_code": "8504.40.9580",
            "quantity": 8,
            "serials": SERIALS[8:],
            "unit_value": {"amount": "2500.00", "currency": "USD"},
        }
    ],
}


H200S = [f"1655123{n:06d}" for n in range(201, 209)]
"""Eight H200 serials for the Chinese cloud (the 2026 chapter)."""
US_H200S = [f"1655123{n:06d}" for n in range(301, 317)]
"""Sixteen H200 serials shipped to a US end user first: the 50% cap counts them."""

CHINA_PARTIES: list[dict[str, Any]] = [
    {
        "id": "dragon-cloud",
        "name": "Dragon Cloud Computing Co., Ltd.",
        "roles": ["consignee", "end_user"],
        "country": "CN",
        "headquarters": "CN",
    },
    {
        "id": "acme-ai",
        "name": "Acme AI Inc.",
        "roles": ["consignee", "end_user"],
        "country": "US",
        "headquarters": "US",
    },
    {
        "id": "bay-labs",
        "name": "Bay Test Laboratories Inc.",
        "roles": ["lab"],
        "country": "US",
        "headquarters": "US",
    },
    {
        "id": "lm-chengdu",
        "name": "Landmark server, Chengdu",
        "roles": ["landmark"],
        "country": "CN",
        "headquarters": "US",
        "location": {"latitude": "30.5728", "longitude": "104.0668"},
    },
    {
        "id": "lm-frankfurt",
        "name": "Landmark server, Frankfurt",
        "roles": ["landmark"],
        "country": "DE",
        "headquarters": "US",
        "location": {"latitude": "50.1109", "longitude": "8.6821"},
    },
]

GUIYANG = {"latitude": "26.6470", "longitude": "106.6302"}
"""The Chinese cloud's declared site (Guiyang, Guizhou)."""


def h200_line(serials: list[str]) -> dict[str, Any]:
    return {
        "product": "nvidia-h200-sxm",
        "description": "NVIDIA H200 SXM 141GB GPU module",
        "hs_code": "8473.30.1180",
        "quantity": len(serials),
        "serials": serials,
        "unit_value": {"amount": "35000.00", "currency": "USD"},
    }


def screening_list_csv() -> str:
    """A small screening list in the CSL's CSV form (entries invented for the demo)."""
    rows = [
        {
            "_id": "d3m0" + "0" * 52,
            "source": "Entity List (EL) - Bureau of Industry and Security",
            "name": "Lotus Star Technology Trading Co., Limited",
            "addresses": "Unit 1208, 12/F, 88 Hennessy Road, Wan Chai, Hong Kong, HK",
            "federal_register_notice": "91 FR 0000 (demo)",
            "start_date": "2026-06-01",
            "license_requirement": "For all items subject to the EAR.",
            "license_policy": "Presumption of denial.",
            "alt_names": "Lotus Star Tech; and 莲星科技贸易有限公司",
        },
        {
            "_id": "d3m1" + "0" * 52,
            "source": "Unverified List (UVL) - Bureau of Industry and Security",
            "name": "Northwind Compute Brokers Pte. Ltd.",
            "addresses": "30 Cecil Street, Singapore, 049712, SG",
        },
        {
            "_id": "d3m2" + "0" * 52,
            "source": "Military End User (MEU) List - Bureau of Industry and Security",
            "name": "Aerospace Kestrel Design Bureau",
            "addresses": "Moscow, RU",
        },
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), quoting=csv.QUOTE_ALL)
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "") for column in CSV_COLUMNS})
    return out.getvalue()


def nvidia_smi_xml(
    serials: list[str], name: str = "NVIDIA H100 80GB HBM3", pci: str = "233010DE"
) -> bytes:
    """An `nvidia-smi -q -x` log of one 8-GPU node (H100 SXM5 by default), trimmed to the
    fields the inspection reads (generated for the demo: real logs carry many more)."""
    gpus = []
    for n, serial in enumerate(serials):
        bus = f"00000000:{0x18 + 0x12 * n:02X}:00.0"
        gpus.append(
            f"""  <gpu id="{bus}">
    <product_name>{name}</product_name>
    <product_brand>NVIDIA</product_brand>
    <product_architecture>Hopper</product_architecture>
    <serial>{serial}</serial>
    <uuid>GPU-6d1c{n:04x}-5a3e-41b0-9c7e-{serial[-12:]}</uuid>
    <board_part_number>692-2G520-0200-000</board_part_number>
    <pci>
      <pci_device_id>{pci}</pci_device_id>
      <pci_bus_id>{bus}</pci_bus_id>
      <pci_sub_system_id>16C110DE</pci_sub_system_id>
    </pci>
    <fb_memory_usage><total>81559 MiB</total></fb_memory_usage>
  </gpu>"""
        )
    body = "\n".join(gpus)
    return (
        f"""<?xml version="1.0" ?>
<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">
<nvidia_smi_log>
  <timestamp>Mon Nov 16 09:12:40 2026</timestamp>
  <driver_version>565.57.01</driver_version>
  <cuda_version>12.7</cuda_version>
  <attached_gpus>{len(serials)}</attached_gpus>
{body}
</nvidia_smi_log>
"""
    ).encode()


@dataclass
class DemoResult:
    directory: Path
    db: str
    verifier_key: str
    size: int
    root: str
    receipts: dict[str, str] = field(default_factory=dict)
    caught: list[str] = field(default_factory=list)
    chip: dict[str, Any] | None = None
    determinations: dict[str, dict[str, Any]] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    """The commands shown, in order, each with the exit code it has when replayed."""

    def to_json(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "db": self.db,
            "verifier_key": self.verifier_key,
            "size": self.size,
            "root": self.root,
            "receipts": self.receipts,
            "caught": self.caught,
            "chip": self.chip,
            "determinations": self.determinations,
            "reports": self.reports,
            "commands": self.commands,
        }


class Demo:
    """One run of the story; each step is a method, in order."""

    def __init__(self, directory: Path, narrate: Narrate, setup: Sequence[str] = ()) -> None:
        self.dir = directory
        self.say = narrate
        self.setup = list(setup)
        self.commands: list[dict[str, Any]] = []
        self.db = str(directory / "ledger.db")
        self.keys: dict[str, SigningKey] = {}
        self.key_files: dict[str, str] = {}
        self.caught: list[str] = []
        self.receipts: dict[str, str] = {}
        self.ledger: Ledger | None = None
        self.chip: dict[str, Any] | None = None
        self.determinations: dict[str, dict[str, Any]] = {}
        self.reports: dict[str, str] = {}

    # --- plumbing ---------------------------------------------------------------------

    def _write(self, name: str, document: dict[str, Any]) -> Path:
        path = self.dir / "statements" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".json":
            path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return path

    def _cmd(self, command: str) -> None:
        """Show `command`, the one a reader runs to do the same (exit 0 unless a refusal
        or a verdict says otherwise)."""
        self.commands.append({"command": command, "exit": 0})
        self.say("cmd", command)

    def _rel(self, path: Path) -> str:
        return str(path.relative_to(self.dir))

    def _append(
        self,
        name: str,
        document: dict[str, Any],
        *signers: str,
        command: str | None = None,
        written: dict[str, Any] | None = None,
    ) -> Receipt:
        """Sign and append; `command` is the CLI command that does the same (FILE and
        KEYS are filled in), by default `provenance sign | provenance ledger append`.
        `written` is what that command reads from FILE, when it adds to it."""
        assert self.ledger is not None
        path = self._write(name, written or document)
        statement = kinds.from_document(document)
        envelope = sign(statement, [self.keys[s] for s in signers])
        key_args = " ".join(f"--key {self.key_files[s]}" for s in signers)
        shown = command or "provenance sign FILE KEYS | provenance ledger append -"
        self._cmd(shown.replace("FILE", self._rel(path)).replace("KEYS", key_args))
        appended, receipt = self.ledger.append(envelope)
        self.say("info", f"entry {appended.seq}: {appended.kind}, signed by {appended.signer}")
        return receipt

    def _new_key(self, name: str, algorithm: str = "ed25519") -> SigningKey:
        key = keys.generate(algorithm)
        keys.save_private(self.dir / "keys" / f"{name}.pem", key)
        keys.save_public(self.dir / "keys" / f"{name}.pub", key.verifying)
        self.keys[name] = key
        self.key_files[name] = f"keys/{name}.pem"
        self._cmd(f"provenance keys generate {name} --dir keys --algorithm {algorithm}")
        return key

    def _register(self, party: dict[str, Any], algorithm: str = "ed25519") -> None:
        """A new key for `party`, and its registration by the operator: the party file
        names no key, the command gives it (`--public-key`), so that a reader's replay
        registers the reader's own key."""
        key = self._new_key(party["id"], algorithm)
        self._append(
            f"party-{party['id']}.yaml",
            {"kind": "party", **party, "keys": [key.verifying.pem()]},
            "operator",
            command=f"provenance party register FILE --public-key keys/{party['id']}.pub KEYS",
            written={"kind": "party", **party},
        )

    def _expect_refusal(self, what: str, action: Callable[[], object]) -> None:
        assert self.ledger is not None
        size = self.ledger.size()
        shown = len(self.commands)
        try:
            action()
        except ProvenanceError as exc:
            if self.ledger.size() != size:
                raise AssertionError("a refused entry changed the ledger") from exc
            for command in self.commands[shown:]:
                command["exit"] = exc.exit_code
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
        self.manufacture()
        self.ship()
        self.receive_and_declare_end_use()
        self.inspect()
        self.show_chip()
        self.screen_parties()
        self.check_clean_shipment()
        self.catch_relabeled_shipment()
        self.china_h200()
        self.report()
        return self.verify()

    def create_ledger(self) -> None:
        self.say("step", "1. The operator creates the ledger and its two keys")
        self.say(
            "info",
            "to do it by hand: in an empty folder, paste each $ line in order (the same "
            "ledger, with your own keys)",
        )
        here = self.dir.resolve()
        inputs = " ".join(
            shlex.quote(str(here / name)) for name in ("statements", "evidence", "csl")
        )
        self._cmd(f"cp -r {inputs} .")
        for command in self.setup:
            self._cmd(command)
        self._cmd("export PROVENANCE_DB=ledger.db")
        self._cmd(f"provenance init --origin {ORIGIN} --keys keys")
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
            self._register(party, algorithm)

    def refuse_bad_signers(self) -> None:
        self.say("step", "3. The ledger refuses what the wrong key signs")
        stranger = self._new_key("stranger")
        shell = {
            "kind": "party",
            "id": "shell-trading",
            "name": "Shell Trading Co.",
            "roles": ["exporter"],
            "country": "HK",
            "headquarters": "HK",
        }
        impostor = {**shell, "keys": [stranger.verifying.pem()]}
        command = "provenance party register FILE --public-key keys/stranger.pub KEYS"
        self.say("info", "an exporter tries to register a party of its own")
        self._expect_refusal(
            "a party registered by an exporter",
            lambda: self._append(
                "party-shell.yaml", impostor, "meridian-exports", command=command, written=shell
            ),
        )
        self.say("info", "someone signs with a key the ledger never registered")
        self._expect_refusal(
            "a statement signed by an unregistered key",
            lambda: self._append(
                "party-shell.yaml", impostor, "stranger", command=command, written=shell
            ),
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
            "rotate-meridian.yaml",
            rotation,
            "meridian-exports",
            command="provenance keys rotate meridian-exports --old keys/meridian-exports.pub "
            "--new-public-key keys/meridian-exports-2026.pub --reason 'annual rotation' KEYS",
        ).text()
        revoke = {"kind": "key-revocation", "key": new.keyid, "reason": "demo"}
        self.say("info", "the retired key tries to sign again")
        self._expect_refusal(
            "a statement signed by a rotated-out key",
            lambda: self._append(
                "revoke.yaml",
                revoke,
                "meridian-exports",
                command="provenance keys revoke keys/meridian-exports-2026.pub --reason demo KEYS",
            ),
        )
        self.keys["meridian-exports"] = new
        self.key_files["meridian-exports"] = self.key_files["meridian-exports-2026"]

    # --- the chips' story -------------------------------------------------------------------

    def manufacture(self) -> None:
        self.say(
            "step", "5. NVIDIA registers sixteen H100 serials: each belongs to the H100 for life"
        )
        document = {
            "kind": "manufacture",
            "product": "nvidia-h100-sxm5",
            "serials": SERIALS,
            "date": "2026-09-14",
            "site": "TW",
        }
        self._append(
            "manufacture-h100.yaml",
            document,
            "nvidia",
            command="provenance attest manufacture FILE KEYS",
        )
        again = {**document, "product": "nvidia-h20", "serials": SERIALS[:1]}
        self.say("info", "the same serial registered again, as an H20")
        self._expect_refusal(
            "a serial registered twice",
            lambda: self._append(
                "manufacture-again.yaml",
                again,
                "nvidia",
                command="provenance attest manufacture FILE KEYS",
            ),
        )

    def ship(self) -> None:
        self.say("step", "6. Meridian ships eight of them to Lion Gate Cloud in Singapore")
        self.receipts["shipment"] = self._append(
            "shipment-mx-2026-0042.yaml",
            SHIPMENT,
            "meridian-exports",
            command="provenance shipment register FILE --no-check KEYS",
        ).text()

    def receive_and_declare_end_use(self) -> None:
        self.say("step", "7. Lion Gate Cloud signs for the chips and states their end use")
        receipt = {
            "kind": "receipt",
            "shipment": SHIPMENT["id"],
            "serials": SHIPPED,
            "date": "2026-10-12",
            "country": "SG",
            "site": "Jurong West data centre, hall B",
        }
        early = {**receipt, "date": "2026-09-30"}
        self.say("info", "a receipt dated before the ship date")
        self._expect_refusal(
            "a receipt before the ship date",
            lambda: self._append(
                "receipt-early.yaml",
                early,
                "lionsgate-cloud",
                command="provenance attest receipt FILE KEYS",
            ),
        )
        self._append(
            "receipt-mx-2026-0042.yaml",
            receipt,
            "lionsgate-cloud",
            command="provenance attest receipt FILE KEYS",
        )
        self._append(
            "end-use-lionsgate.yaml",
            END_USE,
            "lionsgate-cloud",
            command="provenance attest end-use FILE KEYS",
        )

    def inspect(self) -> None:
        self.say("step", "8. Straits Assurance inspects the site with nvidia-smi evidence")
        xml = self.dir / "evidence" / "sg-jw-b-node07.xml"
        xml.parent.mkdir(parents=True, exist_ok=True)
        xml.write_bytes(nvidia_smi_xml(SHIPPED))
        report = inspection.read_nvidia_smi(xml)
        self.say(
            "info",
            f"{self._rel(xml)}: {len(report.devices)} GPUs, "
            f"{report.devices[0].product_name} (PCI {report.devices[0].pci_device_id})",
        )
        document = {
            "kind": "inspection",
            "site": END_USE["site"],
            "date": "2026-11-16",
            "serials_seen": SHIPPED,
            "findings": ["eight H100 SXM5 GPUs in node sg-jw-b-07, as declared"],
        }
        evidence = [inspection.evidence(report, xml.name)]
        self._append(
            "inspection-sg-jw.yaml",
            {**document, "evidence": evidence},
            "straits-audit",
            command=f"provenance attest inspection FILE --nvidia-smi {self._rel(xml)} KEYS",
            written=document,
        )

    def show_chip(self) -> None:
        assert self.ledger is not None
        serial = SHIPPED[0]
        self.say("step", f"9. The auditor's first command: the whole history of chip {serial}")
        self._cmd(f"provenance chip {serial}")
        found = queries.chip(self.ledger, serial)
        self.say(
            "info",
            f"{serial}: {found['product']}, state {found['state']} in {found['country']}; "
            f"{len(found['history'])} entries, each signature and inclusion proof verified",
        )
        for h in found["history"]:
            self.say("info", f"  {h['date']}  entry {h['seq']:<3} {h['kind']:<11} {h['signer']}")
        self.chip = found

    # --- screening and the rules ------------------------------------------------------------

    def screen_parties(self) -> None:
        self.say(
            "step", "10. New customers; the restricted-party list arrives; every party re-screened"
        )
        for party in ROGUES:
            self._register(party)
        path = self.dir / "csl" / "consolidated.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(screening_list_csv(), encoding="utf-8")
        self._cmd(
            f"provenance screening import {self._rel(path)} --date 2026-11-20 "
            "--key keys/operator.pem"
        )
        assert self.ledger is not None
        done = snapshots.import_list(
            self.ledger,
            path.read_bytes(),
            name=path.name,
            signers=[self.keys["operator"]],
            date=dt.date(2026, 11, 20),
        )
        self.say(
            "info",
            f"snapshot {done.digest[:16]} ({done.total} entries) is entry {done.seq}; "
            f"{done.parties_screened} trade parties re-screened",
        )
        for hit in done.hits:
            self.say(
                "warn",
                f"{hit.party} matches {hit.source} entry {hit.matched_name!r} "
                f"(score {hit.score}): flag raised ({hit.severity})",
            )

    def _check(self, shipment_id: str) -> dict[str, Any]:
        assert self.ledger is not None
        checker = Checker.open(self.ledger, as_of=AS_OF)
        [determination] = checker.determine([shipment_id])
        appended = checker.record([determination], [self.keys["operator"]])
        [data] = checker.described([determination], appended)
        self._cmd(f"provenance check {shipment_id} --as-of {AS_OF}")
        self.commands[-1]["exit"] = {"clear": 0, "hold": 6}.get(data["verdict"], 1)
        item = data["items"][0]
        self.say(
            "info",
            f"{shipment_id} under {data['pack']['id']}: {item['quantity']} x {item['product']} "
            f"(declared {item['declared_product']}) is {item['eccn']}, TPP {item['tpp']}; "
            + (
                f"license required ({item['policy']})"
                if item["license_required"]
                else "no license required"
            ),
        )
        for flag in data["flags"]:
            self.say("warn", f"{flag['severity'].upper()} {flag['rule']}: {flag['message']}")
        self.say(
            "warn" if data["verdict"] != "clear" else "info",
            f"verdict: {data['verdict'].upper()} (determination entry {data['seq']})",
        )
        return data

    def check_clean_shipment(self) -> None:
        self.say("step", "11. The rules check Meridian's shipment to Singapore")
        self.determinations["clean"] = self._check(SHIPMENT["id"])

    def catch_relabeled_shipment(self) -> None:
        self.say(
            "step",
            "12. Harbor Bridge ships the other eight H100s as 'adapters' at a twelfth of the "
            "price, via Malaysia to Hong Kong",
        )
        self._append(
            "shipment-hb-7731.yaml",
            RELABELED,
            "harbor-bridge",
            command="provenance shipment register FILE --no-check KEYS",
        )
        data = self._check(RELABELED["id"])
        self.determinations["relabeled"] = data
        relabel = next(f for f in data["flags"] if f["rule"].startswith("relabel.serial"))
        self.say("step", "13. The regulator confirms the relabeling flag")
        resolution = {
            "kind": "resolution",
            "flag": relabel["id"],
            "status": "confirmed",
            "reason": "serials registered by NVIDIA as H100 SXM5; referred for enforcement",
        }
        self._append(
            "resolution.yaml",
            resolution,
            "bis",
            command=f"provenance flag resolve {relabel['id']} --status confirmed "
            "--reason '...' KEYS",
        )

    # --- the 2026 path: H200s to a licensed Chinese cloud ----------------------------------

    def china_h200(self) -> None:
        from provenance.statements import evidence_input

        assert self.ledger is not None
        self.say(
            "step",
            "14. The 2026 path: H200s to a licensed Chinese cloud, lab-tested in the US, "
            "KYC'd, inside the 50% cap, located by landmarks",
        )
        for party in CHINA_PARTIES:
            self._register(party)
        self._append(
            "manufacture-h200.yaml",
            {"kind": "manufacture", "product": "nvidia-h200-sxm", "serials": US_H200S + H200S,
             "date": "2026-09-20", "site": "TW"},
            "nvidia",
            command="provenance attest manufacture FILE KEYS",
        )  # fmt: skip
        self.say("info", "US end-user volume first: 16 H200s to Acme AI (destination US)")
        us = {
            "kind": "shipment", "id": "US-2026-0107", "exporter": "meridian-exports",
            "consignee": "acme-ai", "end_user": "acme-ai", "ship_date": "2026-10-20",
            "destination": "US", "route": ["US"], "items": [h200_line(US_H200S)],
        }  # fmt: skip
        self._append(
            "shipment-us-2026-0107.yaml", us, "meridian-exports",
            command="provenance shipment register FILE --no-check KEYS",
        )  # fmt: skip
        license = {
            "kind": "license", "id": "BIS-2026-H200-7", "exporter": "meridian-exports",
            "consignee": "dragon-cloud", "end_user": "dragon-cloud", "destination": "CN",
            "eccns": ["3A090.a"], "products": ["nvidia-h200-sxm"], "max_quantity": 100,
            "valid_from": "2026-10-01", "valid_until": "2027-09-30",
            "conditions": ["US third-party lab test of every unit", "KYC against remote access"],
        }  # fmt: skip
        self._append(
            "license-h200.yaml", license, "bis",
            command="provenance license issue FILE KEYS",
        )  # fmt: skip
        xml = self.dir / "evidence" / "bay-labs-h200-node01.xml"
        xml.parent.mkdir(parents=True, exist_ok=True)
        xml.write_bytes(nvidia_smi_xml(H200S, "NVIDIA H200", "233510DE"))
        lab = {
            "kind": "lab-test", "product": "nvidia-h200-sxm", "date": "2026-10-28",
            "country": "US", "facility": "Bay Test Laboratories, San Jose",
            "measured": {"performance": [{"dtype": "fp16", "bits": 16, "tops": "989.4"}],
                         "memory_bandwidth_gbps": 4780},
        }  # fmt: skip
        completed = evidence_input.lab_test_document(
            lab, [(xml.name, inspection.read_nvidia_smi(xml))]
        )
        self.say("info", "a lab test signed by the exporter's key")
        self._expect_refusal(
            "a lab test signed by a key that is not a lab's",
            lambda: self._append("lab-test-forged.yaml", completed, "meridian-exports"),
        )
        self._append(
            "lab-test-h200.yaml", completed, "bay-labs",
            command=f"provenance attest lab-test FILE --nvidia-smi {self._rel(xml)} KEYS",
            written=lab,
        )  # fmt: skip
        kyc = {
            "kind": "kyc", "party": "dragon-cloud", "date": "2026-10-15",
            "valid_from": "2026-10-15", "valid_until": "2027-10-14",
            "authorised_users": "Dragon Cloud staff and tenants screened against the CSL",
            "remote_access": "per-user hardware tokens, no shared accounts; sessions logged",
            "controls": {"users_identified": True, "remote_access_authenticated": True,
                         "access_logged": True, "no_d5_hq_training": True},
        }  # fmt: skip
        self._append(
            "kyc-dragon.yaml", kyc, "dragon-cloud", command="provenance attest kyc FILE KEYS"
        )
        shipment: dict[str, Any] = {
            "kind": "shipment", "id": "CN-2026-0311", "exporter": "meridian-exports",
            "consignee": "dragon-cloud", "end_user": "dragon-cloud", "ship_date": "2026-11-05",
            "destination": "CN", "route": ["US", "CN"], "license": "BIS-2026-H200-7",
            "payer": "dragon-cloud", "delivery_address": "commercial",
            "items": [h200_line(H200S)],
        }  # fmt: skip
        self._append(
            "shipment-cn-2026-0311.yaml", shipment, "meridian-exports",
            command="provenance shipment register FILE --no-check KEYS",
        )  # fmt: skip
        end_use = {
            "kind": "end-use", "shipments": ["CN-2026-0311"], "date": "2026-11-01",
            "end_use": "Inference serving for commercial cloud customers",
            "sector": "commercial cloud computing",
            "site": {"country": "CN", "facility": "Guiyang data centre 3", "location": GUIYANG},
            "facility_power_mw": "12",
            "certifications": {"no_military": True, "no_wmd": True, "no_reexport": True,
                               "no_restricted_hq_access": True},
            "valid_until": "2027-11-01",
        }  # fmt: skip
        self._append(
            "end-use-dragon.yaml", end_use, "dragon-cloud",
            command="provenance attest end-use FILE KEYS",
        )  # fmt: skip
        for n, serial in enumerate(H200S):
            self._append(
                f"location-{serial}.yaml",
                {"kind": "location", "landmark": "lm-chengdu", "serial": serial,
                 "nonce": f"{0xC0DE0000 + n:016x}", "rtt_ms": "9.4",
                 "measured_at": "2026-11-18T03:00:00Z",
                 "answer": {"product_name": "NVIDIA H200", "serial": serial}},
                "lm-chengdu",
                command="provenance attest location FILE KEYS",
            )  # fmt: skip
        self.say("info", "Chengdu's 9.4 ms round trips reach Guiyang (about 520 km away)")
        self.determinations["china"] = self._check("CN-2026-0311")
        self.say(
            "step",
            "15. The same chips answer a Frankfurt landmark in 6 ms: they cannot be in Guiyang",
        )
        self._expect_refusal(
            "a location measurement with a malformed round-trip time",
            lambda: self._append(
                "location-bad.yaml",
                {"kind": "location", "landmark": "lm-frankfurt", "serial": H200S[0],
                 "nonce": "f" * 16, "rtt_ms": "6 ms", "measured_at": "2026-11-25T03:00:00Z",
                 "answer": {"product_name": "NVIDIA H200"}},
                "lm-frankfurt",
            ),
        )  # fmt: skip
        for n, serial in enumerate(H200S[:2]):
            self._append(
                f"location-fra-{serial}.yaml",
                {"kind": "location", "landmark": "lm-frankfurt", "serial": serial,
                 "nonce": f"{0xF0A00000 + n:016x}", "rtt_ms": "6",
                 "measured_at": "2026-11-25T03:00:00Z",
                 "answer": {"product_name": "NVIDIA H200", "serial": serial}},
                "lm-frankfurt",
                command="provenance attest location FILE KEYS",
            )  # fmt: skip
        self.determinations["china-relocated"] = self._check("CN-2026-0311")

    def report(self) -> None:
        from provenance.reports import build, render
        from provenance.reports.periods import parse_period
        from provenance.reports.verify import sign_report, verify_report

        assert self.ledger is not None
        self.say("step", "16. The regulator's report for 2026-Q4: signed, appended, verified")
        period = parse_period("2026-Q4")
        report = build.regulator(self.ledger, period)
        html = self.dir / "report-2026-Q4.html"
        html.write_text(render.render(report, "html"), encoding="utf-8")
        self._cmd(f"provenance report regulator --period 2026-Q4 --format html -o {html.name}")
        envelope = sign_report(report, [self.keys["bis"]])
        signed = self.dir / "report-2026-Q4.json"
        signed.write_text(json.dumps(envelope.to_json(), indent=2) + "\n", encoding="utf-8")
        self._cmd(
            f"provenance report regulator --period 2026-Q4 --sign keys/bis.pem --append "
            f"-o {signed.name}",
        )
        appended, _ = self.ledger.append(envelope)
        totals = report["totals"]
        verdicts = ", ".join(f"{n} {v}" for v, n in sorted(report["verdicts"].items()) if n)
        verdicts = verdicts or "none"
        self.say(
            "info",
            f"{totals['shipments']} shipments, {totals['units']} units, "
            f"{totals['h100_equivalents']} H100-equivalents; verdicts: {verdicts}; "
            f"{report['flags']['open_total']} open flags; entry {appended.seq}",
        )
        for product in report["china_cap"]["products"]:
            self.say(
                "info",
                f"50% cap: {product['product']} {product['china_units']} units to China/Macau "
                f"against {product['us_units']} to US end users (ratio {product['ratio']})",
            )
        for row in report["charges"]["envelope_25"]["by_exporter"]:
            self.say(
                "info",
                f"25% figure: {row['exporter']} declared {row['value']} {row['currency']} of "
                f"envelope chips to China/Macau; 25% is {row['charge']} (computed from declared "
                "values, not a tax assessment)",
            )
        self._cmd(f"provenance report verify {signed.name}")
        result = verify_report(self.ledger, report, envelope)
        self.say(
            "info",
            f"signed by {result.signed_by}; checkpoint {report['checkpoint']['size']} consistent "
            f"with {result.consistent_with}; every figure recomputed: "
            + ("matches" if result.ok else f"{len(result.differences)} differences"),
        )
        self.reports["regulator"] = str(html)

    def verify(self) -> DemoResult:
        assert self.ledger is not None
        ledger = self.ledger
        self.say("step", "17. An auditor verifies the whole ledger, then one receipt offline")
        self._cmd("provenance ledger verify")
        report = audit(ledger)
        self.say(
            "info",
            f"verified {report.entries} entries, {report.checkpoints} checkpoints, "
            f"{report.keys} keys; root {report.root.hex()[:16]}...",
        )
        seq = next(
            (h["seq"] for h in (self.chip or {}).get("history", []) if h["kind"] == "shipment"), 1
        )
        receipt = ledger.receipt(seq)
        path = self.dir / "receipt-shipment.txt"
        path.write_text(receipt.text(), encoding="utf-8")
        self._cmd(f"provenance ledger proof {seq} > receipt-shipment.txt")
        self._cmd(
            "provenance verify receipt-shipment.txt "
            '--ledger-key "$(provenance ledger key | tail -1)"',
        )
        checked = receipts.verify_receipt(receipt.text(), [ledger.verifier_key])
        self.say(
            "info",
            f"receipt verified offline: entry {checked.entry.seq} ({checked.entry.kind}) is in "
            f"{checked.checkpoint.origin} at size {checked.checkpoint.size}",
        )
        seqs = [h["seq"] for h in self.chip["history"]] if self.chip else [1]
        export = ledger.export(seqs)
        (self.dir / "bundle.json").write_text(json.dumps(export, indent=1), encoding="utf-8")
        self._cmd(
            "provenance ledger export " + " ".join(f"--seq {s}" for s in seqs) + " -o bundle.json",
        )
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
            self.chip,
            self.determinations,
            self.reports,
            self.commands,
        )

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()


def run(
    directory: Path, narrate: Narrate, *, fresh: bool = False, setup: Sequence[str] = ()
) -> DemoResult:
    """Run the demo in `directory` (it must be new or empty, or `fresh` to wipe it).
    `setup`: commands shown first, that a reader's replay needs (to find `provenance`)."""
    if directory.exists() and any(directory.iterdir()):
        if not fresh:
            raise InputError(
                f"{directory} is not empty",
                hint="pass --fresh to start the demo over, or choose another --dir",
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    demo = Demo(directory, narrate, setup)
    try:
        return demo.run()
    finally:
        demo.close()
