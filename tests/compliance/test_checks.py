"""Screening one registered party as the rules see it (issue 16 item 5): its own matches,
the Affiliates rule's ownership chain, and whether the rule binds on the date; the
library on both databases and the `screening party` command's exit codes and output."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from cli import main
from provenance.compliance.checks import screen_party
from provenance.errors import NotFoundError
from provenance.screening import snapshots
from tests.conftest import DATA, World

CSL = DATA / "csl" / "consolidated.csv"
QIXING = "Zhenhua Qixing Microelectronics Co., Ltd."


@pytest.fixture
def owned(world: World) -> World:
    """qixing is on the Entity List; holding is 60% owned by qixing, sub 51% by holding;
    minor is 30% owned by qixing; clean owns itself."""
    world.register("qixing", ["consignee"], country="CN", name=QIXING)
    world.register(
        "holding", ["consignee"], country="HK", owners=[{"party": "qixing", "share": "60"}]
    )
    world.register("sub", ["consignee"], country="HK", owners=[{"party": "holding", "share": "51"}])
    world.register(
        "minor", ["consignee"], country="HK", owners=[{"party": "qixing", "share": "30"}]
    )
    world.register("clean", ["consignee"], country="SG")
    snapshots.import_list(world.ledger, CSL.read_bytes(), name=CSL.name, signers=[world.operator])
    return world


def test_a_party_owned_through_a_listed_owner_shows_the_chain(owned: World) -> None:
    found = screen_party(owned.ledger, "sub", on=dt.date(2026, 12, 1))
    assert found.matches == []
    assert found.affiliate_of == ["EL"]
    assert found.ownership_chain == ["sub <- holding (51%, EL)", "holding <- qixing (60%, EL)"]
    assert found.affiliates_rule == "in force" and found.restricted
    assert found.to_json()["restricted"] is True


def test_the_rule_suspended_or_not_yet_in_force_does_not_restrict(owned: World) -> None:
    suspended = screen_party(owned.ledger, "holding", on=dt.date(2026, 3, 1))
    assert suspended.affiliate_of == ["EL"] and suspended.affiliates_rule == "suspended"
    assert not suspended.restricted
    before = screen_party(owned.ledger, "holding", on=dt.date(2025, 9, 1))
    assert before.affiliates_rule in {"not yet in force", "not in the pack"}
    assert not before.restricted


def test_own_matches_and_minority_owners(owned: World) -> None:
    listed = screen_party(owned.ledger, "qixing", on=dt.date(2026, 12, 1))
    assert [m.source for m in listed.matches] == ["EL"] and listed.restricted
    minor = screen_party(owned.ledger, "minor", on=dt.date(2026, 12, 1))
    assert minor.affiliate_of == [] and minor.ownership_chain == [] and not minor.restricted
    with pytest.raises(NotFoundError, match="nobody"):
        screen_party(owned.ledger, "nobody")


def test_screening_party_command(owned: World) -> None:
    runner = CliRunner()
    db = ["--db", owned.db]
    result = runner.invoke(main, ["screening", "party", "sub", "--date", "2026-12-01", *db])
    assert result.exit_code == 1, result.stderr
    assert result.stdout.splitlines()[0] == "sub on 2026-12-01 (ear-2026-01): RESTRICTED"
    assert "    sub <- holding (51%, EL)" in result.stdout
    assert "the Affiliates rule is in force on 2026-12-01" in result.stdout
    assert result.stderr == ""

    clean = runner.invoke(main, ["screening", "party", "clean", "--json", *db])
    assert clean.exit_code == 0, clean.stderr
    assert json.loads(clean.stdout)["restricted"] is False

    missing = runner.invoke(main, ["screening", "party", "nobody", *db])
    assert missing.exit_code == 5
    assert missing.stdout == "" and "no party 'nobody'" in missing.stderr
