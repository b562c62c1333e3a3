"""Example cases that ship with the packs (`rules/tests/*.yaml`): a small world, a
shipment, and the determination expected. `provenance rules test` runs them, so a
regulator who edits a pack sees at once what changed.

A case file::

    name: H100 to Singapore with an end-use statement is clear
    pack: ear-2026-01            # optional: else the pack in force on the ship date
    as_of: 2026-11-30            # the evaluation date (receipt deadlines count from it)
    parties:                     # registered with fresh keys
      - {id: nvidia, roles: [manufacturer], country: US}
    statements:                  # signed by `signer`, appended in order
      - {signer: nvidia, kind: manufacture, product: nvidia-h100-sxm5, ...}
    screening:                   # optional: CSL records (JSON form; an `id` is added
      - {name: ..., source: "Entity List (EL) - Bureau of Industry and Security",
         license_policy: "Presumption of denial.", addresses: [...]}   # when absent),
                                 # imported as a list snapshot signed by the operator
    check: SH-1
    resolve:                     # optional: check and record first, then resolve these
      - {signer: bis, rule: diversion.no-end-use-statement, status: cleared, reason: ...}
    expect:                      # the determination (after the resolutions, if any)
      verdict: clear
      items: [{eccn: 3A090.a, license_required: false}]
      flags: [diversion.no-end-use-statement]      # must all be raised
      absent: [relabel.undervalued]                # must not be raised
      messages: {diversion.no-end-use-statement: "by acme"}  # the flag's message holds it

Each case runs in a fresh SQLite ledger in a temporary folder. A resolution names the
flag by its rule (and `line` for an item's flag); its signer must be one the ledger
lets resolve it (a regulator, or the shipment's exporter).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance import documents
from provenance.compliance.checks import Checker
from provenance.compliance.packs import Library, rules_dir
from provenance.crypto import keys
from provenance.errors import InputError, ProvenanceError
from provenance.screening import snapshots
from provenance.statements import kinds

CASES_DIR = "tests"


@dataclass
class CaseResult:
    name: str
    file: str
    pack: str
    verdict: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "pack": self.pack,
            "verdict": self.verdict,
            "passed": self.passed,
            "problems": self.problems,
        }


def case_files(directory: str | Path | None = None, rules: str | Path | None = None) -> list[Path]:
    folder = Path(directory) if directory else rules_dir(rules) / CASES_DIR
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise InputError(f"no case files (*.yaml) in {folder}")
    return files


def run_all(
    directory: str | Path | None = None, rules: str | Path | None = None
) -> list[CaseResult]:
    library = Library.load(rules)
    return [run_case(path, library) for path in case_files(directory, rules)]


def run_case(path: Path, library: Library) -> CaseResult:
    from provenance.ledger.setup import initialise
    from provenance.statements.signing import sign

    case = documents.read_mapping(path)
    name = str(case.get("name", path.stem))
    result = CaseResult(name, path.name, str(case.get("pack") or "in force"), None)
    as_of = _date(case.get("as_of")) or dt.date.today()
    with tempfile.TemporaryDirectory(prefix="provenance-case-") as tmp:
        done = initialise(
            str(Path(tmp) / "case.db"), origin="cases.provenance.dev/ledger", keys_dir=Path(tmp)
        )
        ledger = done.ledger
        try:
            operator = keys.load_private(done.operator_key)
            party_keys: dict[str, keys.SigningKey] = {"operator": operator}
            for party in case.get("parties", []):
                key = keys.generate()
                party_keys[party["id"]] = key
                document = {
                    "kind": "party",
                    "name": party.get("name", party["id"]),
                    "headquarters": party.get("headquarters", party.get("country")),
                    **party,
                    "keys": [key.verifying.pem()],
                }
                ledger.append(sign(kinds.from_document(document), [operator]))
            for i, raw in enumerate(case.get("statements", [])):
                document = dict(raw)
                signer = document.pop("signer", None)
                if signer not in party_keys:
                    result.problems.append(f"statements[{i}]: unknown signer {signer!r}")
                    return result
                try:
                    ledger.append(sign(kinds.from_document(document), [party_keys[signer]]))
                except ProvenanceError as exc:
                    result.problems.append(f"statements[{i}] refused: {exc.message}")
                    return result
            records = [
                {"id": f"case-record-{i}", **record}
                for i, record in enumerate(case.get("screening") or [])
            ]
            if records:
                snapshots.import_list(
                    ledger,
                    json.dumps(records).encode(),
                    name="case-screening.json",
                    signers=[operator],
                    format="json",
                    date=as_of,
                )
            checker = Checker(ledger, library, as_of)
            shipment_id = str(case["check"])
            [determination] = checker.determine([shipment_id], pack_id=case.get("pack"))
            steps = case.get("resolve") or []
            if steps:
                checker.record([determination], [operator])
                raised = checker.flags_of(shipment_id)
                for i, step in enumerate(steps):
                    flag = (str(step.get("rule")), step.get("line"))
                    if flag not in raised:
                        result.problems.append(f"resolve[{i}]: no flag {flag[0]} was raised")
                        return result
                    signer = step.get("signer")
                    if signer not in party_keys:
                        result.problems.append(f"resolve[{i}]: unknown signer {signer!r}")
                        return result
                    statement = kinds.from_document(
                        {
                            "kind": "resolution",
                            "flag": raised[flag][0],
                            "status": step.get("status"),
                            "reason": step.get("reason", "resolved in a test case"),
                        }
                    )
                    ledger.append(sign(statement, [party_keys[signer]]))
                [determination] = checker.determine([shipment_id], pack_id=case.get("pack"))
        except ProvenanceError as exc:
            result.problems.append(f"error: {exc.message}")
            return result
        finally:
            ledger.close()
    data = determination.to_json()
    result.pack = data["pack"]["id"]
    result.verdict = data["verdict"]
    result.problems.extend(compare(case.get("expect", {}), data))
    return result


def _date(value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def compare(expect: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """What differs between the expected determination and this one."""
    problems: list[str] = []
    if "verdict" in expect and expect["verdict"] != data["verdict"]:
        problems.append(f"verdict: expected {expect['verdict']}, got {data['verdict']}")
    for i, wanted in enumerate(expect.get("items", [])):
        if i >= len(data["items"]):
            problems.append(f"items[{i}]: expected, but the shipment has {len(data['items'])}")
            continue
        got = data["items"][i]
        for key, value in wanted.items():
            if got.get(key) != value:
                problems.append(f"items[{i}].{key}: expected {value!r}, got {got.get(key)!r}")
    raised = {f["rule"] for f in data["flags"]}
    problems.extend(
        f"flag {rule} expected, not raised (raised: {sorted(raised)})"
        for rule in expect.get("flags", [])
        if rule not in raised
    )
    problems.extend(
        f"flag {rule} raised, expected absent"
        for rule in expect.get("absent", [])
        if rule in raised
    )
    for rule, fragment in (expect.get("messages") or {}).items():
        said = [f["message"] for f in data["flags"] if f["rule"] == rule]
        if not any(str(fragment) in message for message in said):
            problems.append(f"flag {rule}: no message holds {fragment!r} (messages: {said})")
    return problems
