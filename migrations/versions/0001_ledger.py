"""The ledger: entries, tree nodes, checkpoints, parties and keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LEDGER_TABLES = ("ledger_info", "entries", "tree_nodes", "checkpoints")


def upgrade() -> None:
    op.create_table(
        "ledger_info",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(255), nullable=False),
        sa.Column("verifier_key", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_path", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_info")),
    )
    op.create_table(
        "entries",
        sa.Column("seq", BigInt, autoincrement=False, nullable=False),
        sa.Column("integrated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("envelope_digest", sa.String(64), nullable=False),
        sa.Column("signer_party", sa.String(128), nullable=False),
        sa.Column("signer_keys", sa.Text(), nullable=False),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_entries")),
        sa.UniqueConstraint("envelope_digest", name=op.f("uq_entries_envelope_digest")),
    )
    op.create_index(op.f("ix_entries_kind"), "entries", ["kind"])
    op.create_index(op.f("ix_entries_signer_party"), "entries", ["signer_party"])
    op.create_index("ix_entries_kind_seq", "entries", ["kind", "seq"])
    op.create_table(
        "tree_nodes",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_tree_nodes")),
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", BigInt, autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_checkpoints")),
    )
    op.create_table(
        "parties",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("headquarters", sa.String(2), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("registered_seq", BigInt, nullable=False),
        sa.Column("updated_seq", BigInt, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
    )
    op.create_table(
        "party_keys",
        sa.Column("keyid", sa.String(64), nullable=False),
        sa.Column("party_id", sa.String(128), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("registered_seq", BigInt, nullable=False),
        sa.Column("revoked_seq", BigInt, nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_party_keys_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("keyid", name=op.f("pk_party_keys")),
    )
    op.create_index(op.f("ix_party_keys_party_id"), "party_keys", ["party_id"])
    op.create_table(
        "subjects",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("seq", BigInt, autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("name", "seq", name=op.f("pk_subjects")),
    )
    op.create_index("ix_subjects_seq", "subjects", ["seq"])
    _append_only_triggers()


def _append_only_triggers() -> None:
    """The ledger's tables refuse UPDATE and DELETE (and TRUNCATE) in the database."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in LEDGER_TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {action} refused'); END"
                )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION provenance_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END $$"
        )
        for table in LEDGER_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION provenance_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION provenance_append_only()"
            )
    else:
        raise NotImplementedError(f"append-only triggers for {dialect}")


def downgrade() -> None:
    raise NotImplementedError("the ledger cannot be downgraded: it is append-only")
