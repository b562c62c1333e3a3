"""Tamper sampling (issue 18 items 4, 7 and 12): a copy of an SQLite ledger with its
triggers dropped, then single-bit flips in a sample of the stored rows of `entries`,
`tree_nodes`, `checkpoints` and `ledger_info`, a deleted row, two rows swapped, the last
entry truncated: `ledger verify --full`, run by an auditor who verified the honest ledger
before, must answer every one with exit 4 naming a row, quickly, whatever the bytes.

Columns that are not trusted are not flipped: `checkpoints.created_at`,
`ledger_info.created_at` and `ledger_info.key_path` (nothing signed repeats them and
nothing reads them to decide anything; docs/design.md says so).

`PROVENANCE_TAMPER_FLIPS` sets how many flips (default 120); `PROVENANCE_TAMPER_SEED`
the seed. The figure is printed (flips tried, caught) and is in docs/testing.md.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pytest
from click.testing import CliRunner

from cli import main
from provenance.crypto import keys
from provenance.ledger.audit import audit
from provenance.ledger.audit_state import AuditState, Seen
from provenance.ledger.setup import initialise
from provenance.statements import kinds
from provenance.statements.signing import sign
from tests.ledger.test_log import party_doc

FLIPPED = {
    "entries": [
        "seq",
        "integrated_at",
        "kind",
        "envelope_digest",
        "signer_party",
        "signer_keys",
        "leaf",
    ],
    "tree_nodes": ["level", "idx", "hash"],
    "checkpoints": ["size", "root", "note"],
    "ledger_info": ["id", "origin", "verifier_key"],
}
TIME_LIMIT = 30
"""Seconds an audit may take on this ~40-entry ledger before it counts as a hang."""


@dataclass
class Honest:
    db: Path
    seen: Seen
    dir: Path


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Honest]:
    """A small ledger of every shape the audit reads: parties and keys, a revoked key, a
    license, one batch (several entries under one checkpoint); verified once by the
    auditor (its state), then copied with the triggers dropped."""
    tmp = tmp_path_factory.mktemp("tamper")
    url = f"sqlite:///{tmp / 'ledger.db'}"
    done = initialise(url, origin="tamper.test/ledger", keys_dir=tmp / "keys", with_catalog=False)
    operator = keys.load_private(done.operator_key)
    ledger = done.ledger

    def add(document: dict[str, object], *signers: keys.SigningKey) -> None:
        ledger.append(sign(kinds.from_document(document), list(signers)))

    regulator, exporter = keys.generate(), keys.generate()
    add(party_doc("bis", ["regulator"], regulator), operator)
    add(party_doc("acme", ["exporter"], exporter), operator)
    for i in range(12):
        add(party_doc(f"p{i}", ["auditor"], keys.generate()), operator)
    lost = keys.generate()
    add(party_doc("lost", ["auditor"], lost), operator)
    add({"kind": "key-revocation", "key": lost.keyid, "reason": "lost"}, operator)
    add(
        {
            "kind": "license",
            "id": "L-1",
            "exporter": "acme",
            "destination": "SG",
            "eccns": ["3A090.a"],
            "valid_from": "2026-01-01",
            "valid_until": "2026-12-31",
        },
        regulator,
    )
    ledger.append_many(
        [
            sign(kinds.from_document(party_doc(f"b{i}", ["auditor"], keys.generate())), [operator])
            for i in range(20)
        ]
    )
    report = audit(ledger, workers=1)
    assert report.seen is not None
    ledger.close()
    conn = sqlite3.connect(tmp / "ledger.db")
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.commit()
    conn.execute("PRAGMA journal_mode = DELETE")  # one file, copied whole
    conn.close()
    yield Honest(tmp / "ledger.db", report.seen, tmp)


class Hang(Exception):
    pass


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Hang


def verify(honest: Honest, db: Path) -> tuple[int, str, float]:
    """`ledger verify --full` on `db` as the auditor, with its state remembered for the
    honest file: exit code, stderr, seconds."""
    state = honest.dir / "state-copy.json"
    state.unlink(missing_ok=True)
    AuditState(state).put(f"sqlite:///{db}", honest.seen)
    begin = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIME_LIMIT)
    try:
        result = CliRunner().invoke(
            main,
            [
                "ledger",
                "verify",
                "--db",
                str(db),
                "--workers",
                "1",
                "--full",
                "--state",
                str(state),
            ],
        )
    except Hang:
        return -1, "hang", float(TIME_LIMIT)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return result.exit_code, result.stderr, time.perf_counter() - begin


def work_copy(honest: Honest) -> Path:
    work = honest.dir / "work.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copy(honest.db, work)
    return work


def flip(value: object, rng: random.Random) -> tuple[object, str]:
    """One bit of a stored value flipped, and the SQL expression to store it with."""
    if isinstance(value, int):
        return value ^ (1 << rng.randrange(63)), "?"
    data = bytearray(value.encode() if isinstance(value, str) else bytes(value))  # type: ignore[attr-defined]
    i = rng.randrange(len(data))
    data[i] ^= 1 << rng.randrange(8)
    return bytes(data), ("CAST(? AS TEXT)" if isinstance(value, str) else "?")


def run_flips(honest: Honest, count: int, seed: int) -> tuple[int, int, list[str]]:
    rng = random.Random(seed)
    conn = sqlite3.connect(honest.db)
    rows = {t: [r[0] for r in conn.execute(f"SELECT rowid FROM {t}")] for t in FLIPPED}
    conn.close()
    tried = caught = 0
    missed: list[str] = []
    attempts = 0
    while tried < count and attempts < count * 3:
        attempts += 1
        table = rng.choice(list(FLIPPED))
        column = rng.choice(FLIPPED[table])
        rowid = rng.choice(rows[table])
        work = work_copy(honest)
        conn = sqlite3.connect(work)
        (value,) = conn.execute(
            f"SELECT {column} FROM {table} WHERE rowid = ?", (rowid,)
        ).fetchone()
        new, placeholder = flip(value, rng)
        try:
            conn.execute(
                f"UPDATE {table} SET {column} = {placeholder} WHERE rowid = ?", (new, rowid)
            )
            conn.commit()
        except sqlite3.IntegrityError:
            conn.close()
            continue  # the database itself refused it (a key already taken): not a flip
        conn.close()
        tried += 1
        code, stderr, seconds = verify(honest, work)
        what = f"{table}.{column} rowid {rowid}"
        if code == 4 and stderr.startswith("error: ") and seconds < TIME_LIMIT:
            caught += 1
        else:
            missed.append(f"{what}: exit {code} in {seconds:.1f} s: {stderr.strip()[:200]}")
    return tried, caught, missed


SWAP = "swap {t}.{c} where {k} in ({a}, {b})"
"""Two rows' values of one column exchanged (`apply` reads both, then writes both)."""


def apply(conn: sqlite3.Connection, statement: str) -> None:
    if not statement.startswith("swap "):
        conn.execute(statement)
        return
    where, _, rest = statement.removeprefix("swap ").partition(" where ")
    table, column = where.split(".")
    key, _, pair = rest.partition(" in ")
    a, b = (int(x) for x in pair.strip("()").split(", "))
    get = f"SELECT {column} FROM {table} WHERE {key} = ?"
    ((va,),), ((vb,),) = conn.execute(get, (a,)).fetchall(), conn.execute(get, (b,)).fetchall()
    conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (vb, a))
    conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (va, b))


def structural(honest: Honest) -> Iterator[tuple[str, list[str]]]:
    """Deleted rows, swapped rows, the last entry truncated, integers far out of range."""
    yield "delete a middle entry", ["DELETE FROM entries WHERE seq = 17"]
    yield (
        "delete the last entry",
        ["DELETE FROM entries WHERE seq = (SELECT max(seq) FROM entries)"],
    )
    yield "delete a tree node", ["DELETE FROM tree_nodes WHERE level = 1 AND idx = 3"]
    yield "delete a middle checkpoint", ["DELETE FROM checkpoints WHERE size = 9"]
    yield (
        "delete the latest checkpoint",
        ["DELETE FROM checkpoints WHERE size = (SELECT max(size) FROM checkpoints)"],
    )
    yield "delete ledger_info", ["DELETE FROM ledger_info"]
    yield "swap two entries' leaves", [SWAP.format(t="entries", c="leaf", k="seq", a=5, b=6)]
    yield (
        "a leaf stored as text",
        ["UPDATE entries SET leaf = CAST(leaf AS TEXT) WHERE seq = 6"],
    )
    yield (
        "swap two entries' rows",
        [
            "UPDATE entries SET seq = -1 WHERE seq = 5",
            "UPDATE entries SET seq = 5 WHERE seq = 6",
            "UPDATE entries SET seq = 6 WHERE seq = -1",
        ],
    )
    yield (
        "swap two tree nodes",
        [
            "UPDATE tree_nodes SET idx = -1 WHERE level = 0 AND idx = 2",
            "UPDATE tree_nodes SET idx = 2 WHERE level = 0 AND idx = 3",
            "UPDATE tree_nodes SET idx = 3 WHERE level = 0 AND idx = -1",
        ],
    )
    yield (
        "swap two checkpoints' notes",
        [SWAP.format(t="checkpoints", c="note", k="size", a=5, b=6)],
    )
    yield (
        "swap two checkpoints' roots",
        [SWAP.format(t="checkpoints", c="root", k="size", a=5, b=6)],
    )
    yield (
        "swap two entries' signers",
        [SWAP.format(t="entries", c="signer_party", k="seq", a=16, b=17)],
    )
    yield (
        "truncate the last entry",
        [
            "UPDATE entries SET leaf = substr(leaf, 1, length(leaf) - 10) "
            "WHERE seq = (SELECT max(seq) FROM entries)"
        ],
    )
    yield (
        "an entry renumbered far out",
        ["UPDATE entries SET seq = seq + 1099511627776 WHERE seq = 3"],
    )
    yield "an entry renumbered negative", ["UPDATE entries SET seq = -5 WHERE seq = 4"]
    yield (
        "a checkpoint size far out",
        ["UPDATE checkpoints SET size = size + 1099511627776 WHERE size = 4"],
    )
    yield (
        "the latest checkpoint size far out",
        [
            "UPDATE checkpoints SET size = 4611686018427387904 "
            "WHERE size = (SELECT max(size) FROM checkpoints)"
        ],
    )
    yield (
        "a tree level far out",
        ["UPDATE tree_nodes SET level = 1073741824 WHERE level = 2 AND idx = 1"],
    )
    yield (
        "a tree index far out",
        ["UPDATE tree_nodes SET idx = 1099511627776 WHERE level = 1 AND idx = 2"],
    )
    yield (
        "a second ledger_info row",
        [
            "INSERT INTO ledger_info "
            "SELECT 2, origin, verifier_key, created_at, key_path FROM ledger_info"
        ],
    )


@pytest.mark.slow
def test_every_tampering_is_caught_with_exit_4(
    honest: Honest, capsys: pytest.CaptureFixture[str]
) -> None:
    missed: list[str] = []
    for name, statements in structural(honest):
        work = work_copy(honest)
        conn = sqlite3.connect(work)
        for statement in statements:
            apply(conn, statement)
        conn.commit()
        conn.close()
        code, stderr, seconds = verify(honest, work)
        if not (code == 4 and stderr.startswith("error: ") and seconds < TIME_LIMIT):
            missed.append(f"{name}: exit {code} in {seconds:.1f} s: {stderr.strip()[:200]}")
    count = int(os.environ.get("PROVENANCE_TAMPER_FLIPS", "120"))
    seed = int(os.environ.get("PROVENANCE_TAMPER_SEED", "18"))
    tried, caught, flips_missed = run_flips(honest, count, seed)
    with capsys.disabled():
        print(
            f"\ntamper sampling: {tried} single-bit flips (seed {seed}), {caught} caught with "
            f"exit 4; {len(list(structural(honest)))} deletions, swaps, truncations and "
            f"out-of-range integers, {len(list(structural(honest))) - len(missed)} caught"
        )
    assert tried >= count * 0.9
    assert not missed + flips_missed, "\n".join(missed + flips_missed)


def test_the_honest_copy_verifies(honest: Honest) -> None:
    code, stderr, _ = verify(honest, work_copy(honest))
    assert code == 0, stderr
