"""Alembic environment.

The application runs migrations itself on first use and hands us its open
connection in `config.attributes["connection"]`; the plain `alembic` command
(developers only, see alembic.ini) opens its own. `render_as_batch` lets
autogenerate write SQLite-safe ALTERs.
"""

from __future__ import annotations

import logging.config

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

import provenance.ledger.projections.tables  # noqa: F401 (puts the projection tables in the metadata)
from provenance.ledger.database import database_url
from provenance.ledger.tables import metadata

config = context.config
target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if config.config_file_name is not None:
        logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)
    section = config.get_section(config.config_ini_section, {})
    override = context.get_x_argument(as_dictionary=True).get("db")
    if override:
        section["sqlalchemy.url"] = database_url(override)
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported")
run_migrations_online()
