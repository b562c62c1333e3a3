"""A superseded shipment version keeps its facts (issue 17 item 6): the columns, the
items and each serial's line that an amendment replaced, so that a report at a tree
size before the amendment is recomputed with the facts in force then.

All projections, rebuilt from the entries by `provenance ledger replay`: the facts of a
version written before this revision stay NULL until a replay.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

FACTS = (
    ("consignee", sa.String(length=128)),
    ("end_user", sa.String(length=128)),
    ("forwarder", sa.String(length=128)),
    ("ship_date", sa.Date()),
    ("destination", sa.String(length=2)),
    ("route", sa.Text()),
    ("license", sa.String(length=128)),
    ("units", sa.Integer()),
    ("payer", sa.String(length=128)),
    ("delivery_address", sa.String(length=16)),
)


def upgrade() -> None:
    with op.batch_alter_table("shipment_versions", schema=None) as batch_op:
        for name, type_ in FACTS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("shipment_version_serials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("line", sa.Integer(), nullable=True))
    op.create_table(
        "shipment_version_items",
        sa.Column("seq", BIGINT, nullable=False),
        sa.Column("line", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("product", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("hs_code", sa.String(length=20), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_value", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["seq"],
            ["shipment_versions.seq"],
            name=op.f("fk_shipment_version_items_seq_shipment_versions"),
        ),
        sa.PrimaryKeyConstraint("seq", "line", name=op.f("pk_shipment_version_items")),
    )


def downgrade() -> None:
    op.drop_table("shipment_version_items")
    with op.batch_alter_table("shipment_version_serials", schema=None) as batch_op:
        batch_op.drop_column("line")
    with op.batch_alter_table("shipment_versions", schema=None) as batch_op:
        for name, _type in reversed(FACTS):
            batch_op.drop_column(name)
