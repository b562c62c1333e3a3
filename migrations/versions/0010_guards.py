"""Guards beyond 0001: no INSERT OR REPLACE on the ledger's tables (SQLite); the
projections the append path trusts (`parties`, `party_keys`) never deleted, a key
changed only by its revocation, a party only forward (`provenance.ledger.guards`).

Revision ID: 0010
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

from provenance.ledger import guards

revision: str = "0010"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in guards.ledger_guards(dialect) + guards.projection_guards(dialect):
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the ledger cannot be downgraded: it is append-only")
