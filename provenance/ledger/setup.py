"""What the ledger's operator does: create a ledger with its keys, find its keys later.

`initialise` writes two Ed25519 keys into a folder (reusing them if they are
already there): `operator.pem`, the operator party's signing key, and
`ledger.pem`, the key that signs checkpoints. Its first entry registers the
operator party with the operator key, signed by that key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from provenance.crypto import keys
from provenance.crypto.keys import SigningKey
from provenance.errors import ConfigError, MissingFileError
from provenance.ledger.log import Ledger
from provenance.offline.entries import Appended
from provenance.statements.catalog import Catalog
from provenance.statements.payloads import PartyStatement, Role
from provenance.statements.products import catalog_statements
from provenance.statements.signing import sign

CHECKPOINT_KEY_ENV = "PROVENANCE_CHECKPOINT_KEY"
OPERATOR_KEY = "operator.pem"
CHECKPOINT_KEY = "ledger.pem"
VERIFIER_KEY_SUFFIX = ".vkey"
"""The file beside the checkpoint key (`ledger.vkey`) that holds the ledger's verifier key,
which `--ledger-key` accepts as well as the key itself."""


@dataclass(frozen=True)
class Initialised:
    ledger: Ledger
    operator_key: Path
    checkpoint_key: Path
    genesis: Appended
    created_keys: list[Path]
    products: list[Appended]
    verifier_key_file: Path | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "origin": self.ledger.origin,
            "verifier_key": self.ledger.verifier_key,
            "verifier_key_file": str(self.verifier_key_file) if self.verifier_key_file else None,
            "operator_key": str(self.operator_key),
            "checkpoint_key": str(self.checkpoint_key),
            "created_keys": [str(p) for p in self.created_keys],
            "genesis_seq": self.genesis.seq,
            "products": len(self.products),
        }


def _key(path: Path, created: list[Path]) -> SigningKey:
    if path.exists():
        return keys.load_private(path)
    key = keys.generate()
    keys.save_private(path, key)
    keys.save_public(path.with_suffix(".pub"), key.verifying)
    created.append(path)
    return key


def initialise(
    db: str | None,
    *,
    origin: str,
    keys_dir: Path,
    operator_id: str = "operator",
    operator_name: str = "Ledger operator",
    country: str = "US",
    headquarters: str | None = None,
    catalog: Catalog | None = None,
    with_catalog: bool = True,
) -> Initialised:
    """Create a ledger: keys (new, or reused from `keys_dir`), the genesis entry, and the
    product catalog (default: the packaged `rules/products.yaml`) signed by the operator."""
    created: list[Path] = []
    operator_path = keys_dir / OPERATOR_KEY
    checkpoint_path = keys_dir / CHECKPOINT_KEY
    operator_key = _key(operator_path, created)
    checkpoint_key = _key(checkpoint_path, created)
    statement = PartyStatement(
        id=operator_id,
        name=operator_name,
        roles=[Role.OPERATOR],
        country=country,
        headquarters=headquarters or country,
        keys=[operator_key.verifying.pem()],
    )
    ledger, genesis = Ledger.create(
        db,
        origin=origin,
        ledger_key=checkpoint_key,
        genesis=sign(statement, [operator_key]),
        key_path=checkpoint_path,
    )
    try:
        statements = catalog_statements(catalog) if with_catalog else []
        products = ledger.append_many([sign(s, [operator_key]) for s in statements])
        vkey = write_verifier_key(ledger, checkpoint_path.with_suffix(VERIFIER_KEY_SUFFIX))
    except BaseException:
        ledger.close()
        raise
    return Initialised(ledger, operator_path, checkpoint_path, genesis, created, products, vkey)


def write_verifier_key(ledger: Ledger, path: Path) -> Path:
    """Write the ledger's verifier key to `path` (one line: a public value, for anyone
    who checks receipts and bundles with `--ledger-key FILE`)."""
    try:
        path.write_text(ledger.verifier_key + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc
    return path


def verifier_key_file(ledger: Ledger) -> Path | None:
    """The file beside the checkpoint key `init` wrote (`ledger.vkey`) when it holds the
    ledger's verifier key on its last line; None when there is none, or another key."""
    if not ledger.key_path:
        return None
    path = Path(ledger.key_path).with_suffix(VERIFIER_KEY_SUFFIX)
    try:
        lines = path.read_text(encoding="utf-8").strip().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return path if lines and lines[-1].strip() == ledger.verifier_key else None


def checkpoint_key_path(ledger: Ledger, explicit: str | None) -> Path:
    """Where the checkpoint key is: the option, the environment, or where init put it."""
    value = explicit or os.environ.get(CHECKPOINT_KEY_ENV) or ledger.key_path
    if not value:
        raise ConfigError(
            "this ledger does not know where its checkpoint key is",
            hint=f"pass --checkpoint-key or set {CHECKPOINT_KEY_ENV}",
        )
    return Path(value)


def open_for_append(db: str | None, checkpoint_key: str | None, *, dry_run: bool = False) -> Ledger:
    """Open a ledger with its checkpoint key loaded, ready to append; with `dry_run`, a
    ledger whose appends, until it is closed, are validated, judged and rolled back
    (`Ledger.dry_run`: no checkpoint key needed)."""
    if dry_run:
        return _DryLedger.open(db)
    ledger = Ledger.open(db)
    try:
        path = checkpoint_key_path(ledger, checkpoint_key)
        try:
            key = keys.load_private(path)
        except MissingFileError as exc:
            raise ConfigError(
                f"the ledger's checkpoint key {path} is not there",
                hint=f"pass --checkpoint-key or set {CHECKPOINT_KEY_ENV}",
            ) from exc
        ledger.use_checkpoint_key(key)
    except BaseException:
        ledger.close()
        raise
    return ledger


class _DryLedger(Ledger):
    """A ledger opened for `--dry-run`: everything done with it, until it is closed, is
    one transaction that is rolled back."""

    def __enter__(self) -> Ledger:
        self._rollback = self.dry_run()
        self._rollback.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._rollback.__exit__(None, None, None)
        finally:
            self.close()


OPERATOR_KEY_ENV = "PROVENANCE_OPERATOR_KEY"


def operator_key_path(ledger: Ledger, explicit: str | None) -> Path:
    """The operator's signing key: the option, the environment, or beside the checkpoint
    key where `init` wrote both."""
    value = explicit or os.environ.get(OPERATOR_KEY_ENV)
    if value:
        return Path(value)
    if ledger.key_path:
        return Path(ledger.key_path).parent / OPERATOR_KEY
    raise ConfigError(
        "this ledger does not know where the operator key is",
        hint=f"pass --key or set {OPERATOR_KEY_ENV}",
    )


# --- a PostgreSQL deployment: the service's role does not own the tables ----------------

LEDGER_TABLE_NAMES = ("ledger_info", "entries", "tree_nodes", "checkpoints")


def grant_statements(db: str | None, role: str) -> list[str]:
    """The GRANTs that let `role` run the ledger's service on a PostgreSQL schema owned by
    another role (the one that ran the migrations): INSERT and SELECT on the ledger's own
    tables, nothing more, so it can neither UPDATE nor DELETE them, nor ALTER TABLE ...
    DISABLE TRIGGER (only an owner may); INSERT, SELECT and UPDATE on the projections
    (their triggers still refuse what the entries do not say); DELETE only on the expired
    request nonces and screening files replaced. `ledger replay` and migrations stay with
    the owner."""
    from sqlalchemy import inspect

    from provenance.ledger.database import open_store

    if not role.replace("_", "").isalnum():
        raise ConfigError(f"not a role name: {role!r}")
    store = open_store(db)
    try:
        if store.engine.dialect.name != "postgresql":
            raise ConfigError("grants are for a PostgreSQL deployment; SQLite has no roles")
        with store.read() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
            tables = sorted(inspect(conn).get_table_names(schema=schema))
    finally:
        store.dispose()
    statements = [f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"']
    for table in tables:
        if table in LEDGER_TABLE_NAMES or table == "alembic_version":
            rights = "SELECT" if table == "alembic_version" else "SELECT, INSERT"
        elif table in ("request_nonces", "screening_files"):
            rights = "SELECT, INSERT, DELETE"
        else:
            rights = "SELECT, INSERT, UPDATE"
        statements.append(f'GRANT {rights} ON "{schema}"."{table}" TO "{role}"')
    return statements


def grant(db: str | None, role: str) -> list[str]:
    """Run `grant_statements` (as the tables' owner); return what was run."""
    from provenance.ledger.database import open_store

    statements = grant_statements(db, role)
    store = open_store(db)
    try:
        with store.write() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        store.dispose()
    return statements
