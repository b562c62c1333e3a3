"""The evidence documents' CSV reader and the lab-test completion from nvidia-smi output:
well-formed files give documents the models accept; anything else is an InputError
(exit 2), never another exception."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.errors import InputError
from provenance.statements import evidence_input, kinds
from provenance.statements.inspection import read_nvidia_smi
from tests.conftest import DATA

LOCATION_HEADER = "landmark,serial,nonce,rtt_ms,measured_at,product_name,pci_device_id,uuid\n"


def test_location_rows_become_statements() -> None:
    text = LOCATION_HEADER + f"lm-1,P1,{'ab' * 8},4.5,2026-03-10T08:00:00Z,NVIDIA H200,,\n"
    [document] = evidence_input.parse_csv("location", text, source="m.csv")
    statement = kinds.from_document(document)
    assert statement.predicate()["rtt_ms"] == "4.5"
    assert statement.predicate()["answer"] == {"product_name": "NVIDIA H200", "serial": "P1"}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "no records"),
        ("landmark,serial\n", "is missing"),
        (LOCATION_HEADER.replace("uuid", "colour"), "unknown column 'colour'"),
        (LOCATION_HEADER + "lm-1,P1\n", "2 cells, the header has 8"),
        (LOCATION_HEADER + "lm-1,,aa,1,2026-03-10T08:00:00Z,x,,\n", "column serial: empty"),
        ('landmark,"serial\n', "not a readable CSV file"),
    ],
)
def test_malformed_files_are_input_errors(text: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        evidence_input.parse_csv("location", text, source="m.csv")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["lab-test", "kyc", "location"]))
def test_any_text_gives_documents_or_an_input_error(text: str, kind: str) -> None:
    try:
        documents = evidence_input.parse_csv(kind, text, source="x.csv")
    except InputError:
        return
    for document in documents:
        with contextlib.suppress(InputError):  # the model's refusal: exit 2 as well
            kinds.from_document(document)


def test_the_lab_test_takes_each_gpu_of_the_recorded_output() -> None:
    report = read_nvidia_smi(DATA / "nvidia-smi" / "h100-sxm5-x8-driver-565-SYNTHETIC.xml")
    measured = {"performance": [{"dtype": "fp8", "bits": 8, "tops": "1979"}],
                "memory_bandwidth_gbps": 3350}  # fmt: skip
    document = evidence_input.lab_test_document(
        {"product": "nvidia-h100-sxm5", "date": "2026-02-01", "country": "US",
         "facility": "lab", "measured": measured},
        [("node.xml", report)],
    )  # fmt: skip
    statement = kinds.from_document(document)
    predicate = statement.predicate()
    assert len(predicate["results"]) == len(report.devices) == 8
    assert predicate["evidence"] == [
        {"file": "node.xml", "sha256": report.digest, "format": "nvidia-smi-xml",
         "driver_version": "565.57.01"}
    ]  # fmt: skip
    with pytest.raises(InputError, match="none was given"):
        evidence_input.lab_test_document({"measured": measured}, [])
