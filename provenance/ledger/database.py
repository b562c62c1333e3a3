"""The database: the engine, serialised transactions, migrations on first use.

The same code runs on SQLite (one file, zero set-up) and PostgreSQL. Tables are
created only by the Alembic migrations in `migrations/`, applied when a ledger
is first opened by a newer version of the code. The tables themselves are in
`ledger.tables` (the ledger's own, append-only) and `ledger.projections.tables`
(the derived query tables).

Writers are serialised: SQLite takes its write lock at `BEGIN IMMEDIATE`,
PostgreSQL a transaction-scoped advisory lock keyed by the schema, so two
appends can never both extend the tree from the same head.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, LargeBinary, Table, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.sql import FromClause

from provenance.errors import ConfigError, InputError, IntegrityError, NotFoundError
from provenance.ledger import DB_ENV, DEFAULT_DB
from provenance.resources import resource_dir

IN_CHUNK = 500
"""Values per SQL `IN (...)` list (well under every database's parameter limit)."""


def in_chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    """`values` in slices of IN_CHUNK, one `IN (...)` query each."""
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def insert_rows(
    conn: Connection, table: Table | FromClause, rows: Sequence[Mapping[str, Any]]
) -> None:
    """`INSERT` many rows (dicts keyed by column name) as one driver-level executemany:
    what `conn.execute(insert(table), rows)` does, without compiling the statement and
    processing each row's parameters in SQLAlchemy (most of an append's SQL cost). Each
    column's own bind processor (dates and booleans on SQLite) is still applied."""
    if not rows:
        return
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for columns, group in groups.items():
        sql, processors = _insert_sql(cast(Table, table), columns, conn.dialect)
        if any(p is not None for p in processors):
            values = [
                tuple(
                    p(row[c]) if p is not None else row[c]
                    for c, p in zip(columns, processors, strict=True)
                )
                for row in group
            ]
        else:
            values = [tuple(row[c] for c in columns) for row in group]
        conn.exec_driver_sql(sql, values)


_INSERTS: dict[tuple[str, tuple[str, ...], str], tuple[str, list[Any]]] = {}


def _insert_sql(table: Table, columns: tuple[str, ...], dialect: Dialect) -> tuple[str, list[Any]]:
    key = (table.name, columns, dialect.name)
    found = _INSERTS.get(key)
    if found is None:
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        preparer = dialect.identifier_preparer
        names = ", ".join(preparer.quote(c) for c in columns)
        marks = ", ".join([mark] * len(columns))
        sql = f"INSERT INTO {preparer.format_table(table)} ({names}) VALUES ({marks})"  # noqa: S608
        # bytes go to both drivers as they are: the binary type's wrapper is skipped
        processors = [
            None
            if isinstance(table.c[c].type, LargeBinary)
            else table.c[c].type.dialect_impl(dialect).bind_processor(dialect)
            for c in columns
        ]
        found = _INSERTS[key] = (sql, processors)
    return found


# --- engine -----------------------------------------------------------------------


def database_url(db: str | None) -> str:
    """A SQLAlchemy URL from `--db`: a URL, or a path to an SQLite file."""
    value = db or os.environ.get(DB_ENV) or DEFAULT_DB
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    if value.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


SQLITE_MMAP_BYTES = 256 * 1024 * 1024
"""How much of an SQLite ledger each connection reads through a memory map."""


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # We issue BEGIN ourselves (see _on_begin), so the driver must not.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout = 60000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # reads (proofs above all: random tree nodes) through a memory map rather than a
        # read() per page; address space only, the pages are the OS page cache's
        cursor.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    mode = "IMMEDIATE" if conn.get_execution_options().get("ledger_write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


@dataclass
class Store:
    """An engine plus what we know about its database."""

    engine: Engine
    url: str
    _pinned: Connection | None = None
    """While `rolled_back` runs: the one connection every read and write uses."""

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction."""
        if self._pinned is not None:
            with _translated(self.url):
                yield self._pinned
            return
        with _translated(self.url), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A serialised write transaction: one writer at a time, all or nothing."""
        if self._pinned is not None:
            # Inside `rolled_back`: a savepoint, so a refused write undoes only itself.
            with _translated(self.url), self._pinned.begin_nested():
                yield self._pinned
            return
        with _translated(self.url), self.engine.connect() as conn:
            conn = conn.execution_options(ledger_write=True)
            with conn.begin():
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema()))"))
                yield conn

    @contextmanager
    def rolled_back(self) -> Iterator[None]:
        """One serialised write transaction that every read and write inside uses, rolled
        back at the end: `--dry-run` does exactly what the real write does (validation,
        authorisation, projections, the rules, a determination) and writes nothing."""
        if self._pinned is not None:
            raise RuntimeError("already inside a rolled-back transaction")
        with _translated(self.url), self.engine.connect() as conn:
            conn = conn.execution_options(ledger_write=True)
            transaction = conn.begin()
            try:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema()))"))
                self._pinned = conn
                yield
            finally:
                self._pinned = None
                transaction.rollback()

    def refresh_statistics(self, tables: Sequence[str]) -> list[str]:
        """After a bulk write on PostgreSQL, ANALYZE `tables`, so that the planner does
        not join a freshly imported table as if it were empty (a server with autovacuum
        off, or a report run before autovacuum's next round; PostgreSQL's own counters
        of changed rows reach `pg_stat_user_tables` only later). Returns the tables
        analysed: none on SQLite, whose planner needs no statistics to use the indexes,
        nor inside `rolled_back`."""
        if self.dialect != "postgresql" or self._pinned is not None:
            return []
        quote = self.engine.dialect.identifier_preparer.quote
        with _translated(self.url), self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in tables:
                conn.execute(text(f"ANALYZE {quote(table)}"))
        return list(tables)

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def _translated(url: str) -> Iterator[None]:
    """Turn driver errors about the database itself into our errors."""
    try:
        yield
    except DBAPIError as exc:
        message = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        if "file is not a database" in message or "not a database" in message:
            raise InputError(
                f"{_display(url)} is not a provenance ledger (not a database)"
            ) from exc
        if "no such table" in message or "does not exist" in message:
            raise InputError(
                f"{_display(url)} is not a provenance ledger (missing table: {message})"
            ) from exc
        if "append-only" in message or "derived from the entries" in message:
            raise IntegrityError(f"refused by the database: {message}") from exc
        if "Could not decode to UTF-8" in message:  # SQLite: text bytes altered in the file
            raise IntegrityError(
                f"{_display(url)}: a stored text value is not UTF-8 (the database was altered)",
                hint="provenance ledger verify names the first bad row",
            ) from exc
        if isinstance(exc, OperationalError):
            raise ConfigError(f"database error on {_display(url)}: {message}") from exc
        raise


def _display(url: str) -> str:
    path = _sqlite_path(url)
    if path is not None:
        return str(path)
    return make_url(url).render_as_string(hide_password=True)


def display_url(url: str) -> str:
    """A database as a person is shown it: an SQLite file's path, else its URL with no
    password."""
    return _display(url)


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InputError(f"not a database URL: {url}") from exc
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, pool_size=2, max_overflow=8, connect_args={"timeout": 60})
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    elif parsed.get_backend_name() == "postgresql":
        # No pre-ping (it costs a round trip per checkout); recycle instead.
        engine = create_engine(url, pool_recycle=1800, pool_size=2, max_overflow=4)
    else:
        raise InputError(
            f"unsupported database {parsed.get_backend_name()!r}: use SQLite or PostgreSQL"
        )
    _ENGINES.add(engine)
    return engine


_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
"""Every engine this process made, so a forked child can drop their pooled connections."""


def _forget_inherited_connections() -> None:
    # A child process (audit and signature workers) must never use, nor close, the
    # database connections its parent pooled: drop them without closing them.
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resource_dir("migrations")))
    cfg.attributes["connection"] = conn
    return cfg


_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*['\"]?([\w]+|None)['\"]?", re.M)


@functools.cache
def _head_revision() -> str:
    """The newest migration, read from the scripts' `revision`/`down_revision` lines:
    importing alembic to ask it costs a quarter of a second on every command."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (resource_dir("migrations") / "versions").glob("*.py"):
        found = dict(_REVISION.findall(script.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
        if found.get("down_revision") not in (None, "None"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    if len(heads) != 1:
        raise ConfigError(f"migrations of this installation have {len(heads)} heads: {heads}")
    return heads.pop()


def open_store(db: str | None, *, create: bool = False) -> Store:
    """Open the ledger database, applying migrations it has not seen yet.

    With `create`, an empty (or missing) database becomes a new ledger schema;
    without it, a missing or empty database is `NotFoundError`. A database that
    holds other tables, or is not a database at all, is refused.
    """
    url = database_url(db)
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        if not create:
            raise NotFoundError(f"no ledger at {path}", hint="create one with: provenance init")
        path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(make_engine(url), url)
    try:
        _migrate(store, create=create)
    except BaseException:
        store.dispose()
        raise
    return store


def _migrate(store: Store, *, create: bool) -> None:
    try:
        with store.write() as conn:
            tables = set(inspect(conn).get_table_names())
            if not tables:
                if not create:
                    raise NotFoundError(
                        f"{_display(store.url)} holds no ledger",
                        hint="create one with: provenance init",
                    )
            elif "alembic_version" not in tables or "ledger_info" not in tables:
                raise InputError(
                    f"{_display(store.url)} is not a provenance ledger "
                    f"(it holds other tables: {', '.join(sorted(tables)[:5])})"
                )
            else:
                current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if current == _head_revision():
                    return
            from alembic import command  # only when there is something to migrate

            command.upgrade(_alembic_config(conn), "head")
    except OperationalError as exc:
        raise ConfigError(f"cannot open {_display(store.url)}: {exc.orig}") from exc


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
