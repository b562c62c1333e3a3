"""Screening snapshots and hits, determinations and their items, red flags and their
resolutions, product versions.

screening_files is reference data kept beside the ledger (checked against the digest the
`screening-list` entry signs); the other tables are projections.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('determinations',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('shipment_id', sa.String(length=128), nullable=False),
    sa.Column('pack_id', sa.String(length=128), nullable=False),
    sa.Column('pack_digest', sa.String(length=64), nullable=False),
    sa.Column('screening_list', sa.String(length=64), nullable=True),
    sa.Column('evaluated_on', sa.Date(), nullable=False),
    sa.Column('verdict', sa.String(length=24), nullable=False),
    sa.Column('items', sa.Text(), nullable=False),
    sa.Column('flags', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_determinations'))
    )
    with op.batch_alter_table('determinations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_determinations_shipment_id'), ['shipment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_determinations_verdict'), ['verdict'], unique=False)

    op.create_table('flags',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('rule', sa.String(length=128), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('facts', sa.Text(), nullable=False),
    sa.Column('raised_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('raised_on', sa.Date(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('resolved_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('resolved_by', sa.String(length=128), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flags'))
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flags_raised_seq'), ['raised_seq'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_rule'), ['rule'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_severity'), ['severity'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_subject'), ['subject'], unique=False)

    op.create_table('product_versions',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('tpp', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', 'seq', name=op.f('pk_product_versions'))
    )
    op.create_table('resolutions',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('flag_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('party', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_resolutions'))
    )
    with op.batch_alter_table('resolutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resolutions_flag_id'), ['flag_id'], unique=False)

    op.create_table('screening_files',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_screening_files'))
    )
    op.create_table('screening_snapshots',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('file', sa.Text(), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('counts', sa.Text(), nullable=False),
    sa.Column('policy', sa.Text(), nullable=False),
    sa.Column('parties_screened', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_screening_snapshots')),
    sa.UniqueConstraint('digest', name=op.f('uq_screening_snapshots_digest'))
    )
    op.create_table('determination_items',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('line', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('shipment_id', sa.String(length=128), nullable=False),
    sa.Column('product', sa.String(length=128), nullable=False),
    sa.Column('eccn', sa.String(length=32), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('tpp', sa.String(length=40), nullable=False),
    sa.Column('license_required', sa.Boolean(), nullable=False),
    sa.Column('policy', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['seq'], ['determinations.seq'], name=op.f('fk_determination_items_seq_determinations')),
    sa.PrimaryKeyConstraint('seq', 'line', name=op.f('pk_determination_items'))
    )
    with op.batch_alter_table('determination_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_determination_items_shipment_id'), ['shipment_id'], unique=False)

    op.create_table('screening_hits',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('party', sa.String(length=128), nullable=False),
    sa.Column('score', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('entity_number', sa.Text(), nullable=True),
    sa.Column('matched_name', sa.Text(), nullable=False),
    sa.Column('new', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['seq'], ['screening_snapshots.seq'], name=op.f('fk_screening_hits_seq_screening_snapshots')),
    sa.PrimaryKeyConstraint('seq', 'position', name=op.f('pk_screening_hits'))
    )
    with op.batch_alter_table('screening_hits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_screening_hits_party'), ['party'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('screening_hits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_screening_hits_party'))

    op.drop_table('screening_hits')
    with op.batch_alter_table('determination_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_determination_items_shipment_id'))

    op.drop_table('determination_items')
    op.drop_table('screening_snapshots')
    op.drop_table('screening_files')
    with op.batch_alter_table('resolutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resolutions_flag_id'))

    op.drop_table('resolutions')
    op.drop_table('product_versions')
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flags_subject'))
        batch_op.drop_index(batch_op.f('ix_flags_status'))
        batch_op.drop_index(batch_op.f('ix_flags_severity'))
        batch_op.drop_index(batch_op.f('ix_flags_rule'))
        batch_op.drop_index(batch_op.f('ix_flags_raised_seq'))

    op.drop_table('flags')
    with op.batch_alter_table('determinations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_determinations_verdict'))
        batch_op.drop_index(batch_op.f('ix_determinations_shipment_id'))

    op.drop_table('determinations')
