"""The witness's state: for each log (by origin), the latest checkpoint it cosigned.

Its own database (an SQLite file or a PostgreSQL URL), apart from any ledger: one
table, `witness_logs`, created on first use. The check and the update are one
compare-and-swap: a row moves from (size, root) to a new checkpoint only if it still
holds (size, root), so two requests racing from the same size cannot both win and a
tree is never rolled back; the loser's caller answers 409 with the new size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError as SQLIntegrityError
from sqlalchemy.exc import OperationalError

from provenance.errors import ConfigError

metadata = MetaData()

witness_logs = Table(
    "witness_logs",
    metadata,
    Column("origin", Text, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),  # the log's note with the cosignature answered
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


witness_refusals = Table(
    "witness_refusals",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("origin", Text, nullable=False),
    Column("old_size", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("note", Text, nullable=False),  # signed by the log: the evidence
    Column("reason", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
"""Checkpoints validly signed by a log that the witness refused as inconsistent (422):
kept as evidence of the log's misbehaviour (the spec's MAY), never cosigned."""


@dataclass(frozen=True)
class Latest:
    size: int
    root: bytes
    note: str


def _url(db: str) -> str:
    if "://" not in db:
        return f"sqlite:///{db}"
    if db.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    return db


class WitnessStore:
    def __init__(self, db: str) -> None:
        self.engine = create_engine(_url(db))
        if self.engine.dialect.name == "sqlite":

            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_connection: object, _record: object) -> None:
                cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
                cursor.execute("PRAGMA busy_timeout = 30000")
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = FULL")
                cursor.close()

        try:
            metadata.create_all(self.engine)
        except OperationalError as exc:
            raise ConfigError(f"cannot open the witness database {db}: {exc.orig}") from exc

    def latest(self, origin: str) -> Latest | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(witness_logs.c.size, witness_logs.c.root, witness_logs.c.note).where(
                    witness_logs.c.origin == origin
                )
            ).first()
        return None if row is None else Latest(int(row.size), bytes(row.root), str(row.note))

    def advance(self, origin: str, old: Latest | None, size: int, root: bytes, note: str) -> bool:
        """Record (size, root, note) for `origin` if its state is still `old`; committed
        before returning. False when another request moved it first."""
        now = dt.datetime.now(dt.UTC)
        try:
            with self.engine.begin() as conn:
                if old is None:
                    conn.execute(
                        insert(witness_logs).values(
                            origin=origin, size=size, root=root, note=note, updated_at=now
                        )
                    )
                    return True
                done = conn.execute(
                    update(witness_logs)
                    .where(
                        witness_logs.c.origin == origin,
                        witness_logs.c.size == old.size,
                        witness_logs.c.root == old.root,
                    )
                    .values(size=size, root=root, note=note, updated_at=now)
                )
                return done.rowcount == 1
        except SQLIntegrityError:
            return False  # another request inserted the first row

    def record_refusal(self, origin: str, old_size: int, size: int, note: str, reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(witness_refusals).values(
                    origin=origin,
                    old_size=old_size,
                    size=size,
                    note=note,
                    reason=reason,
                    at=dt.datetime.now(dt.UTC),
                )
            )

    def refusals(self, origin: str) -> list[tuple[int, int, str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    witness_refusals.c.old_size,
                    witness_refusals.c.size,
                    witness_refusals.c.note,
                    witness_refusals.c.reason,
                )
                .where(witness_refusals.c.origin == origin)
                .order_by(witness_refusals.c.id)
            ).all()
        return [(int(r.old_size), int(r.size), str(r.note), str(r.reason)) for r in rows]

    def close(self) -> None:
        self.engine.dispose()
