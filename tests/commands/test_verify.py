"""`provenance verify --witness-policy`: a receipt's and a bundle's cosignatures checked
offline against a C2SP tlog-policy, with no database and no network."""

from __future__ import annotations

import json
import time
from pathlib import Path

from click.testing import CliRunner

from cli import main
from provenance.tlog import cosignature, note
from tests.conftest import World


def _cosign(signed_note: str, cosigners: list[cosignature.Cosigner]) -> str:
    body, _ = note.split(signed_note)
    return signed_note + "".join(c.signature_line(body, int(time.time())) for c in cosigners)


def test_receipts_and_bundles_against_a_witness_policy(world: World, tmp_path: Path) -> None:
    party = world.register("meridian", ["exporter"])
    assert party is not None
    cosigners = [
        cosignature.Cosigner.parse(cosignature.generate(f"w.example/{i}")[0]) for i in (1, 2)
    ]
    policy = tmp_path / "policy"
    policy.write_text(
        f"log {world.ledger.verifier_key}\n"
        + "".join(f"witness w{i} {c.key()}\n" for i, c in enumerate(cosigners, 1))
        + "group two all w1 w2\nquorum two\n"
    )
    receipt = world.ledger.receipt(1)
    proof_text = receipt.text()
    head, _, signed = proof_text.partition("\n\n")
    args = ["verify", "--ledger-key", world.ledger.verifier_key, "--witness-policy", str(policy)]

    both = tmp_path / "both.txt"
    both.write_text(f"{head}\n\n{_cosign(signed, cosigners)}")
    ok = CliRunner().invoke(main, [*args, str(both), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["witnessed_by"] == ["w1", "w2"]
    human = CliRunner().invoke(main, [*args, str(both)])
    assert "cosigned by the witness quorum: w1, w2" in human.stdout

    one = tmp_path / "one.txt"
    one.write_text(f"{head}\n\n{_cosign(signed, cosigners[:1])}")
    refused = CliRunner().invoke(main, [*args, str(one)])
    assert refused.exit_code == 4
    assert "does not meet the witness quorum 'two' (cosigned by: w1)" in refused.stderr
    bare = tmp_path / "bare.txt"
    bare.write_text(proof_text)
    assert CliRunner().invoke(main, [*args, str(bare)]).exit_code == 4
    # Without a policy the same receipt verifies: the policy is the only difference.
    plain = CliRunner().invoke(
        main, ["verify", "--ledger-key", world.ledger.verifier_key, str(bare)]
    )
    assert plain.exit_code == 0

    bundle = world.ledger.export([1])
    bundle["receipts"] = [
        text.partition("\n\n")[0] + "\n\n" + _cosign(text.partition("\n\n")[2], cosigners)
        for text in bundle["receipts"]
    ]
    bundle_file = tmp_path / "bundle.json"
    bundle_file.write_text(json.dumps(bundle))
    done = CliRunner().invoke(main, [*args, str(bundle_file), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["witnessed_by"] == ["w1", "w2"]
    unwitnessed = world.ledger.export([1])
    bundle_file.write_text(json.dumps(unwitnessed))
    assert CliRunner().invoke(main, [*args, str(bundle_file)]).exit_code == 4
