"""`provenance.reports.verify`: a report recomputed from the ledger at its tree size, field
by field; signed reports; what a changed figure, checkpoint, origin or signature gives."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from provenance.crypto import keys
from provenance.crypto.envelope import Envelope
from provenance.errors import InputError, IntegrityError, SignatureError
from provenance.reports import build
from provenance.reports.verify import diff, load, require_ok, sign_report, verify_report
from provenance.statements.products import catalog_statements
from provenance.statements.signing import sign
from tests.reports import scenario
from tests.reports.scenario import H100S, Q3, Trade


@pytest.fixture
def fresh_q3(fresh: Trade) -> dict[str, Any]:
    return build.regulator(fresh.ledger, Q3, verify=False)


def write(path: Path, value: Any) -> str:
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")
    return str(path)


def add_shipment(trade: Trade, shipment_id: str = "SH-LATE") -> None:
    serials = [f"{shipment_id}-{n}" for n in range(2)]
    trade.story.manufacture(serials)
    trade.sign_as(
        "meridian",
        scenario.shipment(shipment_id, "2026-09-25", "SG", "lion", scenario.line(serials)),
    )


# --- recomputing -------------------------------------------------------------------------------


def test_a_fresh_report_verifies(trade: Trade, q3: dict[str, Any]) -> None:
    result = verify_report(trade.ledger, q3)
    assert result.ok and result.differences == []
    assert result.checkpoint_signed
    assert result.consistent_with == q3["checkpoint"]["size"] == trade.ledger.size()
    assert result.signed_by is None and result.keyids == []
    assert result.to_json() == {
        "ok": True,
        "signed_by": None,
        "keyids": [],
        "checkpoint_signed": True,
        "consistent_with_size": trade.ledger.size(),
        "differences": [],
    }
    require_ok(result)  # does not raise


def test_reports_still_verify_after_more_entries(fresh: Trade, fresh_q3: dict[str, Any]) -> None:
    size = fresh_q3["checkpoint"]["size"]
    exporter = build.exporter(fresh.ledger, "meridian", Q3)
    chip = build.dossier(fresh.ledger, "chip", H100S[5])
    shipment = build.dossier(fresh.ledger, "shipment", "SH-AE1")
    add_shipment(fresh)
    fresh.check(["SH-LATE"], scenario.SECOND_CHECK)
    fresh.sign_as(
        "bis",
        {
            "kind": "resolution",
            "flag": f"F-{fresh.appended['SH-RELABEL'].seq}-0",
            "status": "confirmed",
            "reason": "relabeled",
        },
    )
    fresh.sign_as("lion", scenario.receipt("SH-RELABEL", H100S[11:13], "2026-09-28", "SG"))
    assert fresh.ledger.size() > size
    for report in (fresh_q3, exporter, chip, shipment):
        result = verify_report(fresh.ledger, report)
        assert result.ok, (report["kind"], result.differences)
        assert result.consistent_with == fresh.ledger.size()
    # The same period now gives other figures; the old report still holds at its size.
    latest = build.regulator(fresh.ledger, Q3, verify=False)
    assert latest["totals"] != fresh_q3["totals"]
    assert latest["flags"] != fresh_q3["flags"] and latest["custody"] != fresh_q3["custody"]
    assert verify_report(fresh.ledger, latest).ok
    # A dossier's custody summary is as of when it was made: not compared.
    moved = copy.deepcopy(chip)
    moved["subject"]["state"] = "received"
    assert verify_report(fresh.ledger, moved).ok


def test_a_changed_figure_is_named_by_its_path(trade: Trade, q3: dict[str, Any]) -> None:
    changed = copy.deepcopy(q3)
    changed["totals"]["tpp"] = "1.0"
    result = verify_report(trade.ledger, changed)
    assert not result.ok and result.checkpoint_signed
    assert result.differences == ['totals.tpp: report "1.0", ledger "199456.0"']
    with pytest.raises(IntegrityError, match="1 differences") as raised:
        require_ok(result)
    assert raised.value.exit_code == 4


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda r: r["by_destination"][1].update(units=6),
            ["by_destination[1].units: report 6, ledger 5"],
        ),
        (
            lambda r: r["verdicts"].update(blocked=0),
            ["verdicts.blocked: report 0, ledger 2"],
        ),
        (
            lambda r: r["licenses"][0].update(quantity_drawn=4),
            ["licenses[0].quantity_drawn: report 4, ledger 5"],
        ),
        (
            lambda r: r["custody"]["missing_at_inspection"].update(serials=0),
            ["custody.missing_at_inspection.serials: report 0, ledger 1"],
        ),
        (
            lambda r: r["by_eccn"].pop(),
            ["by_eccn: report has 1 rows, ledger 2"],
        ),
        (
            lambda r: r["totals"].pop("units"),
            ["totals.units: report null, ledger 16"],
        ),
        (
            lambda r: r["rule_packs"][0].update(digest="0" * 64),
            [],  # checked below: names rule_packs[0].digest
        ),
    ],
)
def test_each_changed_field_is_a_difference(
    trade: Trade, q3: dict[str, Any], change: Any, expected: list[str]
) -> None:
    changed = copy.deepcopy(q3)
    change(changed)
    result = verify_report(trade.ledger, changed)
    assert not result.ok
    if expected:
        assert result.differences == expected
    else:
        [line] = result.differences
        assert line.startswith('rule_packs[0].digest: report "0000')


def test_what_is_not_recomputed_may_differ(trade: Trade, q3: dict[str, Any]) -> None:
    changed = {**q3, "generated_at": "1999-01-01T00:00:00+00:00", "verification": {"ok": False}}
    assert verify_report(trade.ledger, changed).ok


def test_an_altered_checkpoint_root_is_not_one_the_ledger_signed(
    trade: Trade, q3: dict[str, Any]
) -> None:
    changed = copy.deepcopy(q3)
    root = changed["checkpoint"]["root"]
    changed["checkpoint"]["root"] = ("0" if root[0] != "0" else "1") + root[1:]
    result = verify_report(trade.ledger, changed)
    assert not result.ok and not result.checkpoint_signed and result.consistent_with is None
    [line] = result.differences
    assert line.startswith("checkpoint:") and f"size {q3['checkpoint']['size']}" in line
    with pytest.raises(IntegrityError):
        require_ok(result)


def test_a_checkpoint_size_the_ledger_never_signed(trade: Trade, q3: dict[str, Any]) -> None:
    changed = copy.deepcopy(q3)
    changed["checkpoint"]["size"] = q3["checkpoint"]["size"] + 100
    result = verify_report(trade.ledger, changed)
    assert not result.ok and not result.checkpoint_signed
    assert "checkpoint" in result.differences[0]
    # A size the ledger did sign, but with the root of another: refused too.
    changed["checkpoint"]["size"] = trade.appended["SH-Q2"].seq
    result = verify_report(trade.ledger, changed)
    assert not result.ok and result.differences[0].startswith("checkpoint:")


def test_a_report_of_another_ledger(trade: Trade, q3: dict[str, Any]) -> None:
    changed = copy.deepcopy(q3)
    changed["checkpoint"]["origin"] = "elsewhere.example/ledger"
    result = verify_report(trade.ledger, changed)
    assert not result.ok and not result.checkpoint_signed
    assert result.differences == [
        "checkpoint.origin: report 'elsewhere.example/ledger', ledger 'test.example/ledger'"
    ]


def test_another_period_or_kind_is_a_difference(trade: Trade, q3: dict[str, Any]) -> None:
    changed = copy.deepcopy(q3)
    changed["kind"] = "exporter"
    assert (
        'kind: report "exporter", ledger "regulator"'
        in verify_report(trade.ledger, changed).differences
    )
    other = copy.deepcopy(q3)
    other["parameters"]["period"]["from"] = "2026-01-01"  # the figures are of Q3
    differences = verify_report(trade.ledger, other).differences
    assert any(d.startswith("totals.shipments: report 6, ledger 7") for d in differences)


def test_a_changed_dossier_entry_is_a_difference(trade: Trade) -> None:
    chip = build.dossier(trade.ledger, "chip", H100S[5])
    shipment = build.dossier(trade.ledger, "shipment", "SH-AE1")
    assert verify_report(trade.ledger, chip).ok and verify_report(trade.ledger, shipment).ok
    assert verify_report(trade.ledger, build.exporter(trade.ledger, "harbor", Q3)).ok
    changed = copy.deepcopy(shipment)
    changed["entries"][0]["signer"] = "harbor"
    assert verify_report(trade.ledger, changed).differences == [
        'entries[0].signer: report "harbor", ledger "meridian"'
    ]
    dropped = copy.deepcopy(chip)
    del dropped["entries"][-1]
    assert verify_report(trade.ledger, dropped).differences == [
        "entries: report has 4 rows, ledger 5"
    ]
    relabeled = copy.deepcopy(chip)
    relabeled["parameters"]["subject"] = H100S[9]  # a chip of SH-AE2: other entries
    differences = verify_report(trade.ledger, relabeled).differences
    assert "parameters.subject" not in " ".join(differences)  # recomputed for what it names
    assert differences and all(d.startswith("entries") for d in differences)


def test_diff_walks_dicts_and_lists() -> None:
    assert diff({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}, "x") == ["x.a[1].b: report 2, ledger 3"]
    assert diff({"a": 1}, {"c": 1}, "r") == [
        "r.a: report 1, ledger null",
        "r.c: report null, ledger 1",
    ]
    assert diff([1, 2], [1], "l") == ["l: report has 2 rows, ledger 1"]
    assert diff("1", 1, "t") == ['t: report "1", ledger 1']
    assert diff({"same": [1]}, {"same": [1]}, "s") == []


# --- signed reports ---------------------------------------------------------------------------


def test_a_signed_report_round_trips_through_a_file(
    trade: Trade, q3: dict[str, Any], tmp_path: Path
) -> None:
    bis = trade.story.keys["bis"]
    envelope = sign_report(q3, [bis])
    path = write(tmp_path / "q3.json", envelope.to_json())
    report, loaded = load(path)
    assert report == q3 and loaded is not None
    assert loaded.digest() == envelope.digest()
    statement = loaded.statement()
    assert statement["predicateType"].endswith("/report/v1")
    assert statement["predicate"] == {"report": q3}
    result = verify_report(trade.ledger, report, loaded)
    assert result.ok and result.signed_by == "bis" and result.keyids == [bis.keyid]
    assert result.to_json()["signed_by"] == "bis"
    # Signed by two parties: both are named.
    both = sign_report(q3, [bis, trade.story.keys["meridian"]])
    result = verify_report(trade.ledger, *load(write(tmp_path / "both.json", both.to_json())))
    assert result.ok and result.signed_by == "bis, meridian" and len(result.keyids) == 2


def test_a_plain_report_file_loads_without_an_envelope(
    trade: Trade, q3: dict[str, Any], tmp_path: Path
) -> None:
    report, envelope = load(write(tmp_path / "plain.json", q3))
    assert envelope is None and report == q3


def test_an_envelope_whose_payload_was_altered_is_refused(
    trade: Trade, q3: dict[str, Any], tmp_path: Path
) -> None:
    envelope = sign_report(q3, [trade.story.keys["bis"]]).to_json()
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["report"]["totals"]["units"] = 1
    envelope["payload"] = base64.b64encode(
        json.dumps(statement, separators=(",", ":")).encode()
    ).decode()
    report, loaded = load(write(tmp_path / "altered.json", envelope))
    assert report["totals"]["units"] == 1
    with pytest.raises(SignatureError, match="does not verify") as refused:
        verify_report(trade.ledger, report, loaded)
    assert refused.value.exit_code == 3


def test_a_report_signed_by_a_key_the_ledger_does_not_know(
    trade: Trade, q3: dict[str, Any], tmp_path: Path
) -> None:
    stranger = keys.generate("ed25519")
    report, loaded = load(write(tmp_path / "s.json", sign_report(q3, [stranger]).to_json()))
    with pytest.raises(SignatureError, match="no key this ledger knows") as refused:
        verify_report(trade.ledger, report, loaded)
    assert refused.value.exit_code == 3


def test_files_that_are_not_reports(trade: Trade, tmp_path: Path) -> None:
    not_json = tmp_path / "notes.txt"
    not_json.write_text("total: 12 shipments\n", encoding="utf-8")
    with pytest.raises(InputError, match="is not valid JSON"):
        load(str(not_json))
    with pytest.raises(InputError, match="is not a provenance report"):
        load(write(tmp_path / "list.json", [1, 2]))
    with pytest.raises(InputError, match="is not a provenance report"):
        load(write(tmp_path / "other.json", {"totals": {}}))
    party = trade.world.envelope(
        {
            "kind": "party",
            "id": "someone",
            "name": "Someone",
            "roles": ["auditor"],
            "country": "DE",
            "headquarters": "DE",
        },
        trade.world.operator,
    )
    with pytest.raises(InputError, match="an envelope, but not a report"):
        load(write(tmp_path / "party.json", party.to_json()))
    signed = trade.ledger.checkpoint().checkpoint
    checkpoint = {"origin": signed.origin, "size": signed.size, "root": signed.root.hex()}
    with pytest.raises(InputError, match="not a provenance report"):
        verify_report(trade.ledger, {"checkpoint": checkpoint})


# --- what a later entry must not change (product bugs, see the reasons) -----------------------


def test_a_flag_resolved_again_later_does_not_change_an_older_report(fresh: Trade) -> None:
    flag = f"F-{fresh.appended['SH-RELABEL'].seq}-0"
    # (escalated by the regulator: an exporter may not escalate, issue 18 item 1)
    fresh.sign_as("bis", {"kind": "resolution", "flag": flag, "status": "escalated", "reason": "a"})
    report = build.regulator(fresh.ledger, Q3, verify=False)
    row = next(r for r in report["flags"]["by_rule"] if r["rule"].startswith("relabel.serial"))
    assert row["escalated"] == 1
    fresh.sign_as("bis", {"kind": "resolution", "flag": flag, "status": "confirmed", "reason": "b"})
    result = verify_report(fresh.ledger, report)
    assert result.ok, result.differences


def test_a_product_signed_again_later_does_not_change_an_older_report(fresh: Trade) -> None:
    report = build.regulator(fresh.ledger, Q3, verify=False)
    [h100] = [s for s in catalog_statements() if s.id == "nvidia-h100-sxm5"]
    predicate = h100.predicate()
    for computed in ("tpp", "performance_density"):
        predicate.pop(computed)
    predicate["performance"][0]["tops"] = "2000"  # a corrected datasheet: TPP 16000
    corrected = type(h100).model_validate(predicate)
    assert str(corrected.tpp) == "16000"
    fresh.ledger.append(sign(corrected, [fresh.world.operator]))
    result = verify_report(fresh.ledger, report)
    assert result.ok, result.differences


def test_an_envelope_is_what_sign_report_returns(trade: Trade, q3: dict[str, Any]) -> None:
    envelope = sign_report(q3, [trade.story.keys["meridian"]])
    assert isinstance(envelope, Envelope)
    assert Envelope.from_json(envelope.to_json()).statement()["predicate"]["report"] == q3


def test_a_report_signed_with_a_revoked_key_is_refused(
    fresh: Trade, fresh_q3: dict[str, Any]
) -> None:
    bis = fresh.story.keys["bis"]
    fresh.world.append(
        {"kind": "key-revocation", "key": bis.keyid, "reason": "stolen"}, fresh.world.operator
    )
    envelope = sign_report(fresh_q3, [bis])  # by whoever holds the stolen key, after
    with pytest.raises(SignatureError):
        verify_report(fresh.ledger, fresh_q3, envelope)
