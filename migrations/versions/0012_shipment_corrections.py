"""Correcting a shipment (issue 17 item 6): `shipment-amendment` and `shipment-void`
entries. On `shipments`, the entry whose facts are in force (`version_seq`) and the
void that withdrew it (`voided_seq`); the superseded versions and their serials.

All projections, rebuilt from the entries by `provenance ledger replay`.

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0012"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version_seq", BIGINT, nullable=True))
        batch_op.add_column(sa.Column("voided_seq", BIGINT, nullable=True))
    op.execute("UPDATE shipments SET version_seq = seq")
    op.create_table(
        "shipment_versions",
        sa.Column("seq", BIGINT, autoincrement=False, nullable=False),
        sa.Column("shipment_id", sa.String(length=128), nullable=False),
        sa.Column("superseded_seq", BIGINT, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_shipment_versions")),
    )
    with op.batch_alter_table("shipment_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shipment_versions_shipment_id"), ["shipment_id"], unique=False
        )
    op.create_table(
        "shipment_version_serials",
        sa.Column("seq", BIGINT, nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["seq"],
            ["shipment_versions.seq"],
            name=op.f("fk_shipment_version_serials_seq_shipment_versions"),
        ),
        sa.PrimaryKeyConstraint("seq", "serial", name=op.f("pk_shipment_version_serials")),
    )
    with op.batch_alter_table("shipment_version_serials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shipment_version_serials_serial"), ["serial"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("shipment_version_serials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipment_version_serials_serial"))
    op.drop_table("shipment_version_serials")
    with op.batch_alter_table("shipment_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipment_versions_shipment_id"))
    op.drop_table("shipment_versions")
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_column("voided_seq")
        batch_op.drop_column("version_seq")
