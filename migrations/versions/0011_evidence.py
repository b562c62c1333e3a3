"""Evidence (issue 16): lab tests, KYC attestations, location measurements; landmarks'
coordinates and owners on parties; US availability on products; payer and delivery
address on shipments; coordinates of end-use sites.

All projections, rebuilt from the entries by `provenance ledger replay`.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kyc_attestations',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('party', sa.String(length=128), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('authorised_users', sa.Text(), nullable=False),
    sa.Column('remote_access', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_kyc_attestations'))
    )
    with op.batch_alter_table('kyc_attestations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kyc_attestations_party'), ['party'], unique=False)

    op.create_table('lab_tests',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('lab', sa.String(length=128), nullable=False),
    sa.Column('product', sa.String(length=128), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('facility', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_lab_tests'))
    )
    with op.batch_alter_table('lab_tests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lab_tests_lab'), ['lab'], unique=False)

    op.create_table('location_measurements',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('landmark', sa.String(length=128), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('nonce', sa.String(length=128), nullable=False),
    sa.Column('rtt_ms', sa.String(length=40), nullable=False),
    sa.Column('measured_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('latitude', sa.String(length=40), nullable=False),
    sa.Column('longitude', sa.String(length=40), nullable=False),
    sa.Column('product_name', sa.Text(), nullable=False),
    sa.Column('pci_device_id', sa.String(length=10), nullable=True),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_location_measurements'))
    )
    with op.batch_alter_table('location_measurements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_location_measurements_landmark'), ['landmark'], unique=False)
        batch_op.create_index(batch_op.f('ix_location_measurements_measured_at'), ['measured_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_location_measurements_serial'), ['serial'], unique=False)
        batch_op.create_index('ux_location_landmark_nonce', ['landmark', 'nonce'], unique=True)

    op.create_table('party_owners',
    sa.Column('party_id', sa.String(length=128), nullable=False),
    sa.Column('owner_id', sa.String(length=128), nullable=False),
    sa.Column('share', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('party_id', 'owner_id', name=op.f('pk_party_owners'))
    )
    with op.batch_alter_table('party_owners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_party_owners_owner_id'), ['owner_id'], unique=False)

    op.create_table('lab_results',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('product_name', sa.Text(), nullable=False),
    sa.Column('pci_device_id', sa.String(length=10), nullable=True),
    sa.Column('uuid', sa.Text(), nullable=True),
    sa.Column('tpp', sa.String(length=40), nullable=False),
    sa.Column('memory_bandwidth_gbps', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['seq'], ['lab_tests.seq'], name=op.f('fk_lab_results_seq_lab_tests')),
    sa.PrimaryKeyConstraint('seq', 'serial', name=op.f('pk_lab_results'))
    )
    with op.batch_alter_table('lab_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lab_results_serial'), ['serial'], unique=False)

    with op.batch_alter_table('end_uses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latitude', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('longitude', sa.String(length=40), nullable=True))

    with op.batch_alter_table('parties', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latitude', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('longitude', sa.String(length=40), nullable=True))

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('us_available_from', sa.Date(), nullable=True))

    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payer', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('delivery_address', sa.String(length=16), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_column('delivery_address')
        batch_op.drop_column('payer')

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('us_available_from')

    with op.batch_alter_table('parties', schema=None) as batch_op:
        batch_op.drop_column('longitude')
        batch_op.drop_column('latitude')

    with op.batch_alter_table('end_uses', schema=None) as batch_op:
        batch_op.drop_column('longitude')
        batch_op.drop_column('latitude')

    with op.batch_alter_table('lab_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lab_results_serial'))

    op.drop_table('lab_results')
    with op.batch_alter_table('party_owners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_party_owners_owner_id'))

    op.drop_table('party_owners')
    with op.batch_alter_table('location_measurements', schema=None) as batch_op:
        batch_op.drop_index('ux_location_landmark_nonce')
        batch_op.drop_index(batch_op.f('ix_location_measurements_serial'))
        batch_op.drop_index(batch_op.f('ix_location_measurements_measured_at'))
        batch_op.drop_index(batch_op.f('ix_location_measurements_landmark'))

    op.drop_table('location_measurements')
    with op.batch_alter_table('lab_tests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lab_tests_lab'))

    op.drop_table('lab_tests')
    with op.batch_alter_table('kyc_attestations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kyc_attestations_party'))

    op.drop_table('kyc_attestations')
