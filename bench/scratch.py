"""The throwaway database every benchmark runs on: a temporary SQLite file, or a fresh
PostgreSQL schema (dropped afterwards) when `--db URL` names a server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, text

from provenance.ledger.database import database_url


@contextmanager
def scratch_database(url: str | None, tmp: Path) -> Iterator[tuple[str, str]]:
    """Yield (database URL, backend name); drop the PostgreSQL schema on the way out."""
    if not url:
        yield str(tmp / "bench.db"), "sqlite"
        return
    base = database_url(url)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}", "postgresql"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
