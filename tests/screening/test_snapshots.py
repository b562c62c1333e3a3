"""Screening lists in the ledger: snapshots, re-screening, flags, and the CLI (both DBs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from cli import main
from provenance.errors import InputError, IntegrityError
from provenance.ledger.projections.tables import FlagRow
from provenance.screening import snapshots
from tests.conftest import DATA, World, tamper
from tests.ledger.test_log import snapshot as projection_snapshot

CSV_PATH = DATA / "csl" / "consolidated.csv"
JSON_PATH = DATA / "csl" / "consolidated.json"


def import_file(world: World, path: Path, **options: object) -> snapshots.Imported:
    return snapshots.import_list(
        world.ledger, path.read_bytes(), name=path.name, signers=[world.operator], **options
    )


def flags(world: World) -> list[tuple[str, str, str, str]]:
    with world.ledger.store.read() as conn:
        rows = conn.execute(
            select(FlagRow.rule, FlagRow.severity, FlagRow.subject, FlagRow.status).order_by(
                FlagRow.id
            )
        ).all()
    return [tuple(r) for r in rows]


def test_import_re_screens_parties_and_flags_only_new_matches(world: World) -> None:
    world.register("zhenhua-sz", ["consignee"], country="CN")  # not the name yet
    world.register("clean-cloud", ["end_user"], country="SG")
    world.register("nvidia", ["manufacturer"])  # not a trade counterparty: not screened
    first = import_file(world, CSV_PATH)
    assert not first.duplicate and first.total == 24 and first.counts["EL"] == 5
    assert first.parties_screened == 2 and first.hits == []
    assert flags(world) == []

    # The party's name becomes one the list holds (an update), and a new list arrives.
    world.append(
        {
            "kind": "party",
            "id": "zhenhua-sz",
            "name": "Zhenhua Qixing Microelectronics Company Limited",
            "roles": ["consignee"],
            "country": "CN",
            "headquarters": "CN",
        },
        world.operator,
    )
    second = import_file(world, JSON_PATH)
    assert [(h.party, h.source, h.new, h.severity) for h in second.hits] == [
        ("zhenhua-sz", "EL", True, "high")
    ]
    assert float(second.hits[0].score) >= 85
    assert "For all items subject to the EAR" in (second.hits[0].license_requirement or "")
    assert flags(world) == [("screening.el", "high", "party/zhenhua-sz", "open")]

    # A third list that still matches raises no second flag.
    third_bytes = CSV_PATH.read_bytes() + b"\n"
    third = snapshots.import_list(
        world.ledger, third_bytes, name="csl-2.csv", signers=[world.operator]
    )
    assert [h.new for h in third.hits] == [False]
    assert len(flags(world)) == 1
    assert [s["seq"] for s in snapshots.snapshots(world.ledger)] == [
        third.seq,
        second.seq,
        first.seq,
    ]
    before = projection_snapshot(world)
    world.ledger.replay()
    assert projection_snapshot(world) == before


def test_a_list_imported_twice_is_a_no_op(world: World) -> None:
    first = import_file(world, CSV_PATH)
    size = world.ledger.size()
    again = import_file(world, CSV_PATH)
    assert again.duplicate and again.seq == first.seq
    assert world.ledger.size() == size


def test_a_malformed_list_is_refused_with_its_line_and_nothing_is_stored(world: World) -> None:
    lines = CSV_PATH.read_text().splitlines()
    bad = "\n".join([lines[0], lines[1], '"x","Made-up List (MUL) - Nobody","","","","Acme"'])
    size = world.ledger.size()
    with pytest.raises(InputError, match="line 3"):
        snapshots.import_list(world.ledger, bad.encode(), name="bad.csv", signers=[world.operator])
    missing = "_id,source,title\n1,Entity List (EL) - Bureau of Industry and Security,Acme\n"
    with pytest.raises(InputError, match=r"missing required column\(s\): name"):
        snapshots.import_list(
            world.ledger, missing.encode(), name="short.csv", signers=[world.operator]
        )
    assert world.ledger.size() == size
    with world.ledger.store.read() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM screening_files")).scalar() == 0


def test_a_stored_list_altered_in_the_database_is_caught(world: World) -> None:
    import_file(world, CSV_PATH)
    snapshots._INDEXES.clear()
    tamper(
        world.ledger.store.engine,
        "UPDATE screening_files SET data = :data",
        {"data": CSV_PATH.read_bytes().replace(b"Volgatek", b"Volgatex")},
    )
    with pytest.raises(IntegrityError, match="does not match the digest"):
        snapshots.load_index(world.ledger)


def test_screen_parties_gives_the_rules_their_facts(world: World) -> None:
    world.register("volga", ["end_user"], country="RU", name="Volgatek Scientific Institute")
    world.register("clean", ["end_user"], country="SG")
    assert snapshots.screen_parties(world.ledger, ["volga"]) == {"volga": []}  # no list yet
    import_file(world, CSV_PATH)
    found = snapshots.screen_parties(world.ledger, ["volga", "clean", "ghost"])
    assert [m.source for m in found["volga"]] == ["EL"]
    assert found["clean"] == [] and found["ghost"] == []


# --- the CLI -----------------------------------------------------------------------------


@pytest.fixture
def cli_ledger(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.chdir(world.dir)
    monkeypatch.setenv("PROVENANCE_DB", world.db)
    return world


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_import_list_show_and_screen(cli_ledger: World) -> None:
    key = str(cli_ledger.dir / "keys" / "operator.pem")
    code, out, err = run("screening", "import", str(CSV_PATH), "--key", key)
    assert code == 0, err
    assert "24 entries (CMIC 1, DPL 2" in out and "re-screened 0 parties" in out
    code, out, _ = run("screening", "import", str(CSV_PATH), "--key", key)
    assert code == 0 and "nothing imported" in out
    code, out, _ = run("screening", "list", "--json")
    [listed] = json.loads(out)
    assert listed["total"] == 24 and listed["counts"]["SDN"] == 5

    code, out, _ = run("screen", "Volgatek Research Institute", "--json")
    data = json.loads(out)
    assert code == 1
    assert data["query"] == "Volgatek Research Institute" and data["threshold"] == 85
    best = data["matches"][0]
    assert best["list"] == "EL" and best["score"] >= 85
    assert {"entity_number", "name", "matched_name", "addresses", "license_policy"} <= set(best)
    code, out, _ = run("screen", "Clearwater Bakery", "--country", "SG")
    assert code == 0 and "0 match(es)" in out
    code, out, _ = run("screen", "Clearwater Bakery", "--all", "--json")
    assert code == 0 and all(not m["above_threshold"] for m in json.loads(out)["matches"])


def test_cli_screening_bad_input(cli_ledger: World, tmp_path: Path) -> None:
    key = str(cli_ledger.dir / "keys" / "operator.pem")
    code, _, err = run("screen", "   ")
    assert code == 2 and "empty" in err
    code, _, err = run("screen", "Acme")
    assert code == 5 and "no screening list has been imported" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"results": [{"name": "x"}]}')
    size = cli_ledger.ledger.size()
    code, _, err = run("screening", "import", str(bad), "--key", key)
    assert code == 2 and err.startswith("error: ") and "bad.json" in err
    code, _, err = run("screen", "Acme", "--list", str(CSV_PATH))
    assert code == 0, err
    assert cli_ledger.ledger.size() == size
