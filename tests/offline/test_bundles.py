"""Offline bundles (issue 18 item 13): a bundle verifies only whole. The requested entries
must be there, its origin must be its checkpoint's, and a malformed field is a clear
refusal (exit 2 or 4), never an internal error."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from provenance.errors import InputError, IntegrityError, ProvenanceError
from provenance.offline.bundles import verify_bundle
from tests.conftest import World


@pytest.fixture
def exported(world: World) -> tuple[dict[str, Any], list[str], int]:
    world.register("acme", ["exporter"])
    world.register("bis", ["regulator"])
    seq = world.ledger.size() - 1
    return world.ledger.export([seq]), world.ledger.verifier_keys, seq


def test_a_whole_bundle_verifies(exported: tuple[dict[str, Any], list[str], int]) -> None:
    bundle, keys, seq = exported
    report = verify_bundle(bundle, keys).to_json()
    assert report["verified"] is True and report["requested"] == [seq]
    assert seq in {e["seq"] for e in report["entries"]}


def test_a_bundle_without_its_requested_receipts_does_not_verify(
    exported: tuple[dict[str, Any], list[str], int],
) -> None:
    bundle, keys, seq = exported
    stripped = copy.deepcopy(bundle)
    stripped["receipts"] = [r for r in bundle["receipts"] if f"\nindex {seq}\n" not in r]
    assert len(stripped["receipts"]) == len(bundle["receipts"]) - 1
    with pytest.raises(IntegrityError) as refused:
        verify_bundle(stripped, keys)
    assert f"requested entries {seq}" in refused.value.message
    asked_more = copy.deepcopy(bundle) | {"requested": [seq, 999]}
    with pytest.raises(IntegrityError):
        verify_bundle(asked_more, keys)


def test_a_bundle_naming_another_origin_does_not_verify(
    exported: tuple[dict[str, Any], list[str], int],
) -> None:
    bundle, keys, _ = exported
    with pytest.raises(IntegrityError) as refused:
        verify_bundle(bundle | {"origin": "other.example/ledger"}, keys)
    assert "other.example/ledger" in refused.value.message
    for origin in (None, 7, ""):
        with pytest.raises(InputError):
            verify_bundle(bundle | {"origin": origin}, keys)


@pytest.mark.parametrize(
    "change",
    [
        {"receipts": [7]},
        {"receipts": [None, "x"]},
        {"receipts": [["c2sp.org/tlog-proof@v1"]]},
        {"receipts": "c2sp.org/tlog-proof@v1\n"},
        {"receipts": []},
        {"requested": ["1"]},
        {"requested": [1.5]},
        {"requested": [True]},
        {"requested": [-1]},
        {"requested": "1"},
        {"requested": {"1": 1}},
        {"format": None},
    ],
)
def test_malformed_bundles_are_refused_as_input(
    exported: tuple[dict[str, Any], list[str], int], change: dict[str, Any]
) -> None:
    bundle, keys, _ = exported
    with pytest.raises(InputError):
        verify_bundle(bundle | change, keys)


def test_two_receipts_for_one_entry_do_not_verify(
    exported: tuple[dict[str, Any], list[str], int],
) -> None:
    bundle, keys, _ = exported
    doubled = bundle | {"receipts": [*bundle["receipts"], bundle["receipts"][0]]}
    with pytest.raises(ProvenanceError) as refused:
        verify_bundle(doubled, keys)
    assert refused.value.exit_code == 4
