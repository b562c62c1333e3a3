"""Database triggers beyond migration 0001's append-only ones (migration 0010).

* **No REPLACE** (SQLite): `INSERT OR REPLACE` deletes the row it conflicts with without
  firing a DELETE trigger; a BEFORE INSERT trigger on each ledger table refuses an
  insert whose key (or envelope digest) is already there. PostgreSQL has no REPLACE, and
  `INSERT ... ON CONFLICT DO UPDATE` fires the UPDATE trigger 0001 installed.
* **The projections the append path trusts** (`parties`, `party_keys`): rows are never
  deleted (but by `ledger replay`, which drops these guards inside its transaction and
  puts them back); a key row changes only once, when it is revoked (nothing else about
  it); a party row only forward (`updated_seq` grows; `id` and `registered_seq` stay).
  The append path also re-checks each row it reads against the entry it names
  (`projections.parties.checked_key`, `checked_party`), so a row inserted by hand is
  refused even where these triggers were dropped.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

LEDGER_KEYS = {
    "ledger_info": "id = NEW.id",
    "entries": "seq = NEW.seq OR envelope_digest = NEW.envelope_digest",
    "tree_nodes": "level = NEW.level AND idx = NEW.idx",
    "checkpoints": "size = NEW.size",
}
PROJECTION_KEYS = {"parties": "id = NEW.id", "party_keys": "keyid = NEW.keyid"}

KEY_CHANGE = (
    "OLD.revoked_seq IS NOT NULL OR NEW.revoked_seq IS NULL OR NEW.keyid <> OLD.keyid "
    "OR NEW.party_id <> OLD.party_id OR NEW.public_key <> OLD.public_key "
    "OR NEW.registered_seq <> OLD.registered_seq OR NEW.algorithm <> OLD.algorithm"
)
"""A `party_keys` update that is not a revocation."""
PARTY_CHANGE = (
    "NEW.id <> OLD.id OR NEW.registered_seq <> OLD.registered_seq "
    "OR NEW.updated_seq <= OLD.updated_seq"
)
"""A `parties` update that does not move forward."""


def _sqlite_no_replace(table: str, key: str, what: str) -> str:
    return (
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "  # noqa: S608
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {key}) "
        f"BEGIN SELECT RAISE(ABORT, '{table} is {what}: REPLACE refused'); END"
    )


def ledger_guards(dialect: str) -> list[str]:
    """The no-REPLACE triggers of the ledger's own tables (created once, by 0010)."""
    if dialect != "sqlite":
        return []
    return [_sqlite_no_replace(t, k, "append-only") for t, k in LEDGER_KEYS.items()]


def projection_guards(dialect: str) -> list[str]:
    """The triggers of `parties` and `party_keys` (dropped and re-created by replay)."""
    if dialect == "sqlite":
        statements = [
            _sqlite_no_replace(t, k, "derived from the entries") for t, k in PROJECTION_KEYS.items()
        ]
        for table, change in (("party_keys", KEY_CHANGE), ("parties", PARTY_CHANGE)):
            statements.append(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "  # noqa: S608
                f"BEGIN SELECT RAISE(ABORT, '{table} is derived from the entries: "
                "DELETE refused'); END"
            )
            statements.append(
                f"CREATE TRIGGER {table}_no_rewrite BEFORE UPDATE ON {table} WHEN {change} "  # noqa: S608
                f"BEGIN SELECT RAISE(ABORT, '{table} is derived from the entries: "
                "UPDATE refused'); END"
            )
        return statements
    if dialect == "postgresql":
        statements = []
        for table, change in (("party_keys", KEY_CHANGE), ("parties", PARTY_CHANGE)):
            statements += [
                f"CREATE FUNCTION provenance_{table}_guard() RETURNS trigger LANGUAGE plpgsql "
                "AS $$ BEGIN "
                "IF TG_OP = 'DELETE' THEN "
                f"RAISE EXCEPTION '{table} is derived from the entries: DELETE refused'; "
                f"END IF; IF {change} THEN "
                f"RAISE EXCEPTION '{table} is derived from the entries: UPDATE refused'; "
                "END IF; RETURN NEW; END $$",
                f"CREATE TRIGGER {table}_guard BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION provenance_{table}_guard()",
            ]
        return statements
    raise NotImplementedError(f"guards for {dialect}")


def drop_projection_guards(conn: Connection) -> None:
    """Inside replay's transaction: the projections are emptied and written again."""
    dialect = conn.dialect.name
    for table in PROJECTION_KEYS:
        if dialect == "sqlite":
            for suffix in ("no_replace", "no_delete", "no_rewrite"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_{suffix}")
        elif dialect == "postgresql":
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_guard ON {table}")
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS provenance_{table}_guard()")


def create_projection_guards(conn: Connection) -> None:
    for statement in projection_guards(conn.dialect.name):
        conn.exec_driver_sql(statement)


__all__ = [
    "create_projection_guards",
    "drop_projection_guards",
    "ledger_guards",
    "projection_guards",
]
