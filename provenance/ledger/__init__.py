"""The ledger on a database: SQLite or PostgreSQL.

* `database`: the engine, serialised write transactions, migrations on first use.
* `tables`: the ledger's own append-only tables.
* `log`: append (one transaction), read, proofs, checkpoints, replay, export.
* `projections`: the query tables derived from the entries, one handler per kind.
* `audit`: the full verification of a ledger from its entries alone.
* `queries`: read-side queries (parties, chips, shipments, products, flags).
* `setup`: creating a ledger and finding its operator and checkpoint keys.
"""

DB_ENV = "PROVENANCE_DB"
"""The environment variable naming the ledger database (an SQLite path or a URL)."""
DEFAULT_DB = "provenance.db"
"""The database used when neither `--db` nor `$PROVENANCE_DB` names one."""
