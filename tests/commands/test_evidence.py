"""`provenance attest lab-test|kyc|location` and `provenance schema` for them, through
click's CliRunner: YAML, nvidia-smi and CSV input; the refusals (a lab test signed by a
key that is not a lab's: exit 3; a measurement from a landmark the ledger does not know:
exit 3; a malformed round-trip time: exit 2), each of which appends nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.commands.test_custody import (  # noqa: F401  (fixtures)
    OPERATOR_KEY,
    SMI,
    Trade,
    catalog,
    fresh,
    one_error_line,
    write_yaml,
)

SMI_SERIALS = ("1654423001593", "1654223054577")
"""The first two boards of the synthetic H100 nvidia-smi file."""

PARTIES: dict[str, dict[str, Any]] = {
    "nvidia": {"roles": ["manufacturer"], "country": "US"},
    "meridian": {"roles": ["exporter"], "country": "US"},
    "dragon": {"roles": ["consignee", "end_user"], "country": "CN"},
    "uslab": {"roles": ["lab"], "country": "US"},
    "lm-ashburn": {
        "roles": ["landmark"],
        "country": "US",
        "location": {"latitude": "39.0438", "longitude": "-77.4874"},
    },
}


@pytest.fixture
def world(catalog: Trade) -> Trade:  # noqa: F811
    for party_id, fields in PARTIES.items():
        catalog.ok("keys", "generate", party_id)
        doc = {"id": party_id, "name": f"{party_id} Ltd.", "headquarters": fields["country"]}
        path = write_yaml(f"{party_id}.yaml", {**doc, **fields})
        catalog.ok(
            "party", "register", path, "--public-key", f"{party_id}.pub", "--key", OPERATOR_KEY
        )
    return catalog


def lab_doc(**fields: Any) -> dict[str, Any]:
    return {
        "product": "nvidia-h200-sxm",
        "date": dt.date(2026, 2, 25),
        "country": "US",
        "facility": "US Test Lab, San Jose",
        "results": [
            {
                "serial": "P1",
                "identity": {"product_name": "NVIDIA H200", "pci_device_id": "0x233510DE"},
                "performance": [{"dtype": "fp16", "bits": 16, "tops": "989.4"}],
                "memory_bandwidth_gbps": 4800,
            }
        ],
        **fields,
    }


def location_doc(**fields: Any) -> dict[str, Any]:
    return {
        "landmark": "lm-ashburn",
        "serial": "P1",
        "nonce": "00112233445566778899aabbccddeeff",
        "rtt_ms": "4.2",
        "measured_at": "2026-03-10T08:00:00Z",
        "answer": {"product_name": "NVIDIA H200", "serial": "P1"},
        **fields,
    }


def kyc_doc(**fields: Any) -> dict[str, Any]:
    return {
        "party": "dragon",
        "date": dt.date(2026, 2, 1),
        "valid_from": dt.date(2026, 2, 1),
        "valid_until": dt.date(2027, 1, 31),
        "authorised_users": "employees of Dragon Cloud and screened tenants",
        "remote_access": "per-user hardware keys; no shared accounts",
        "controls": {
            "users_identified": True,
            "remote_access_authenticated": True,
            "access_logged": True,
            "no_d5_hq_training": True,
        },
        **fields,
    }


def test_lab_test_yaml_is_appended_and_shown_in_the_chip_history(world: Trade) -> None:
    made = {"product": "nvidia-h200-sxm", "serials": ["P1"], "date": "2026-01-20", "site": "TW"}
    world.append("attest manufacture", made, "nvidia")
    seq = world.append("attest lab-test", lab_doc(), "uslab")
    entry = world.obj("ledger", "show", str(seq))
    assert entry["statement"]["predicate"]["results"][0]["performance"][0]["tops"] == "989.4"
    history = world.obj("chip", "P1")["history"]
    assert [h["kind"] for h in history] == ["manufacture", "lab-test"]
    assert history[1]["summary"] == (
        "lab test of 1 serials declared nvidia-h200-sxm at US Test Lab, San Jose, US"
    )
    assert history[1]["date"] == "2026-02-25"


def test_lab_test_from_nvidia_smi_takes_every_gpu_with_its_identity(world: Trade) -> None:
    doc = lab_doc(measured={"performance": [{"dtype": "fp16", "bits": 16, "tops": "989.4"}],
                            "memory_bandwidth_gbps": 3350})  # fmt: skip
    del doc["results"]
    path = world.write("attest lab-test", doc)
    result = world.ok("attest", "lab-test", path, "--nvidia-smi", str(SMI), "--key", "uslab.pem")
    seq = int(result.stdout.split()[2].rstrip(":"))
    predicate = world.obj("ledger", "show", str(seq))["statement"]["predicate"]
    assert len(predicate["results"]) == 8
    first = predicate["results"][0]
    assert first["serial"] == SMI_SERIALS[0]
    assert first["identity"]["product_name"] == "NVIDIA H100 80GB HBM3"
    assert first["identity"]["pci_device_id"] == "0x233010DE"
    assert predicate["evidence"][0]["sha256"] == (
        __import__("hashlib").sha256(SMI.read_bytes()).hexdigest()
    )


def test_lab_test_by_a_key_that_is_not_a_labs_is_refused_exit_3(world: Trade) -> None:
    path = world.write("attest lab-test", lab_doc())
    error = world.refused(
        ("attest", "lab-test", path, "--key", "meridian.pem"), 3, "may not sign 'lab-test'"
    )
    assert "allowed roles are lab" in error


def test_location_yaml_and_csv(world: Trade) -> None:
    world.append("attest location", location_doc(), "lm-ashburn")
    Path("m.csv").write_text(
        "landmark,serial,nonce,rtt_ms,measured_at,product_name,pci_device_id,uuid\n"
        "lm-ashburn,P1,0aa1,5.0,2026-03-11T08:00:00Z,NVIDIA H200,,\n".replace("0aa1", "0a" * 8)
        + "lm-ashburn,P2,"
        + "0b" * 8
        + ",6.5,2026-03-11T08:01:00+01:00,NVIDIA H200,0x233510DE,\n"
    )
    before = world.size()
    data = world.obj("attest", "location", "m.csv", "--key", "lm-ashburn.pem")
    assert [e["kind"] for e in data["entries"]] == ["location", "location"]
    assert data["size"] == before + 2


def test_location_from_an_unregistered_landmark_is_refused_exit_3(world: Trade) -> None:
    world.ok("keys", "generate", "stranger")
    path = world.write("attest location", location_doc(landmark="stranger"))
    world.refused(("attest", "location", path, "--key", "stranger.pem"), 3, "unknown key")


def test_location_signed_for_another_landmark_is_refused_exit_3(world: Trade) -> None:
    path = world.write("attest location", location_doc(landmark="lm-elsewhere"))
    world.refused(
        ("attest", "location", path, "--key", "lm-ashburn.pem"),
        3,
        "names 'lm-elsewhere' but is signed by 'lm-ashburn'",
    )


@pytest.mark.parametrize("rtt", ["fast", "-1", "0", "20000", "NaN", ""])
def test_a_malformed_rtt_is_refused_exit_2(world: Trade, rtt: str) -> None:
    path = world.write("attest location", location_doc(rtt_ms=rtt))
    world.refused(("attest", "location", path, "--key", "lm-ashburn.pem"), 2, "rtt_ms")


def test_a_malformed_rtt_in_csv_appends_nothing_of_the_file(world: Trade) -> None:
    Path("m.csv").write_text(
        "landmark,serial,nonce,rtt_ms,measured_at,product_name\n"
        f"lm-ashburn,P1,{'0c' * 8},5.0,2026-03-11T08:00:00Z,NVIDIA H200\n"
        f"lm-ashburn,P2,{'0d' * 8},5..0,2026-03-11T08:00:00Z,NVIDIA H200\n"
    )
    world.refused(("attest", "location", "m.csv", "--key", "lm-ashburn.pem"), 2, "rtt_ms")


def test_a_replayed_nonce_is_refused(world: Trade) -> None:
    world.append("attest location", location_doc(), "lm-ashburn")
    path = world.write("attest location", location_doc(rtt_ms="9"))
    world.refused(
        ("attest", "location", path, "--key", "lm-ashburn.pem"), 2, "already used this nonce"
    )


def test_a_naive_measurement_time_is_refused(world: Trade) -> None:
    path = world.write("attest location", location_doc(measured_at="2026-03-10T08:00:00"))
    world.refused(("attest", "location", path, "--key", "lm-ashburn.pem"), 2, "measured_at")


def test_a_landmark_must_register_its_coordinates(world: Trade) -> None:
    world.ok("keys", "generate", "lm-nowhere")
    path = write_yaml(
        "lm-nowhere.yaml",
        {"id": "lm-nowhere", "name": "x", "roles": ["landmark"], "country": "US",
         "headquarters": "US"},
    )  # fmt: skip
    world.refused(
        ("party", "register", path, "--public-key", "lm-nowhere.pub", "--key", OPERATOR_KEY),
        2,
        "a landmark must register its coordinates",
    )


def test_kyc_yaml_csv_and_the_signer_must_be_the_party(world: Trade) -> None:
    seq = world.append("attest kyc", kyc_doc(), "dragon")
    assert world.obj("ledger", "show", str(seq))["kind"] == "kyc"
    path = world.write("attest kyc", kyc_doc(party="meridian"))
    world.refused(("attest", "kyc", path, "--key", "dragon.pem"), 3, "signed by 'dragon'")
    path = world.write("attest kyc", kyc_doc())
    world.refused(("attest", "kyc", path, "--key", "uslab.pem"), 3, "may not sign 'kyc'")
    header = (
        "party,date,valid_from,valid_until,authorised_users,remote_access,users_identified,"
        "remote_access_authenticated,access_logged,no_d5_hq_training\n"
    )
    Path("k.csv").write_text(
        header + "dragon,2026-03-01,2026-03-01,2026-12-31,tenants,hardware keys,true,true,"
        "true,maybe\n"
    )
    world.refused(("attest", "kyc", "k.csv", "--key", "dragon.pem"), 2, "maybe")
    Path("k.csv").write_text(
        header + "dragon,2026-03-01,2026-03-01,2026-12-31,tenants,hardware keys,true,true,"
        "true,false\n"
    )
    data = world.obj("attest", "kyc", "k.csv", "--key", "dragon.pem")
    assert data["entry"]["kind"] == "kyc"


def test_lab_test_csv_groups_rows_into_one_statement(world: Trade) -> None:
    header = (
        "product,date,country,facility,serial,product_name,pci_device_id,uuid,dtype,bits,tops,"
        "memory_bandwidth_gbps\n"
    )
    rows = "".join(
        f"nvidia-h200-sxm,2026-02-25,US,Lab A,{s},NVIDIA H200,0x233510DE,,fp16,16,989.4,4800\n"
        for s in ("P1", "P2")
    )
    Path("l.csv").write_text(header + rows)
    data = world.obj("attest", "lab-test", "l.csv", "--key", "uslab.pem")
    predicate = world.obj("ledger", "show", str(data["entry"]["seq"]))["statement"]["predicate"]
    assert [r["serial"] for r in predicate["results"]] == ["P1", "P2"]
    Path("l.csv").write_text(header + rows.replace(",16,", ",sixteen,", 1))
    world.refused(("attest", "lab-test", "l.csv", "--key", "uslab.pem"), 2, "column bits")


def test_lab_test_results_naming_a_serial_the_evidence_lacks(world: Trade) -> None:
    measured = {"performance": [{"dtype": "fp16", "bits": 16, "tops": "989.4"}],
                "memory_bandwidth_gbps": 3350}  # fmt: skip
    path = world.write("attest lab-test", lab_doc(measured=measured))
    world.refused(
        ("attest", "lab-test", path, "--nvidia-smi", str(SMI), "--key", "uslab.pem"),
        2,
        "which no nvidia-smi file lists",
    )


def test_lab_test_identity_serial_must_match(world: Trade) -> None:
    doc = lab_doc()
    doc["results"][0]["identity"]["serial"] = "P9"
    path = world.write("attest lab-test", doc)
    world.refused(("attest", "lab-test", path, "--key", "uslab.pem"), 2, "reports 'P9'")


@pytest.mark.parametrize("kind", ["lab-test", "kyc", "location"])
def test_schema_prints_each_kind(fresh: Trade, kind: str) -> None:  # noqa: F811
    result = fresh.ok("schema", kind)
    schema = json.loads(result.stdout)
    assert schema["$id"] == f"https://provenance.dev/attestations/{kind}/v1"
    assert schema["properties"]["kind"] == {"const": kind}
    assert result.stderr == ""


def test_a_non_utf8_csv_is_exit_2(world: Trade) -> None:
    Path("bad.csv").write_bytes(b"landmark,serial\n\xff\xfe\n")
    one_error_line(world("attest", "location", "bad.csv", "--key", "lm-ashburn.pem"), 2)
