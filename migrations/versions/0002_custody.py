"""Products, chips and their custody: shipments, receipts, end use, inspections, licenses.

All projections, rebuilt from the entries by `provenance ledger replay`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('chips',
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.String(length=128), nullable=False),
    sa.Column('manufacturer', sa.String(length=128), nullable=False),
    sa.Column('manufactured_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('manufacture_date', sa.Date(), nullable=False),
    sa.Column('made_in', sa.String(length=2), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shipment_id', sa.String(length=128), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.PrimaryKeyConstraint('serial', name=op.f('pk_chips'))
    )
    with op.batch_alter_table('chips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chips_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chips_state'), ['state'], unique=False)

    op.create_table('end_uses',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('party', sa.String(length=128), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('end_use', sa.Text(), nullable=False),
    sa.Column('sector', sa.Text(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('facility', sa.Text(), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('facility_power_mw', sa.String(length=40), nullable=False),
    sa.Column('no_military', sa.Boolean(), nullable=False),
    sa.Column('no_wmd', sa.Boolean(), nullable=False),
    sa.Column('no_reexport', sa.Boolean(), nullable=False),
    sa.Column('no_restricted_hq_access', sa.Boolean(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_end_uses'))
    )
    with op.batch_alter_table('end_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_end_uses_party'), ['party'], unique=False)

    op.create_table('inspections',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('auditor', sa.String(length=128), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('facility', sa.Text(), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('evidence_files', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_inspections'))
    )
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspections_auditor'), ['auditor'], unique=False)

    op.create_table('licenses',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('regulator', sa.String(length=128), nullable=False),
    sa.Column('exporter', sa.String(length=128), nullable=False),
    sa.Column('consignee', sa.String(length=128), nullable=True),
    sa.Column('end_user', sa.String(length=128), nullable=True),
    sa.Column('destination', sa.String(length=2), nullable=False),
    sa.Column('eccns', sa.Text(), nullable=False),
    sa.Column('products', sa.Text(), nullable=False),
    sa.Column('max_quantity', sa.Integer(), nullable=True),
    sa.Column('max_value', sa.String(length=40), nullable=True),
    sa.Column('max_value_currency', sa.String(length=3), nullable=True),
    sa.Column('max_tpp', sa.String(length=40), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('conditions', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_licenses')),
    sa.UniqueConstraint('seq', name=op.f('uq_licenses_seq'))
    )
    with op.batch_alter_table('licenses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_licenses_exporter'), ['exporter'], unique=False)

    op.create_table('products',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('vendor', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('tpp', sa.String(length=40), nullable=False),
    sa.Column('performance_density', sa.String(length=40), nullable=True),
    sa.Column('die_area_mm2', sa.String(length=40), nullable=True),
    sa.Column('datacenter', sa.Boolean(), nullable=False),
    sa.Column('interconnect_gbps', sa.Integer(), nullable=True),
    sa.Column('memory_bandwidth_gbps', sa.Integer(), nullable=True),
    sa.Column('names', sa.Text(), nullable=False),
    sa.Column('pci_device_ids', sa.Text(), nullable=False),
    sa.Column('hs_codes', sa.Text(), nullable=False),
    sa.Column('reference_price', sa.String(length=40), nullable=True),
    sa.Column('reference_currency', sa.String(length=3), nullable=True),
    sa.Column('registered_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('updated_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products'))
    )
    op.create_table('shipments',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('exporter', sa.String(length=128), nullable=False),
    sa.Column('consignee', sa.String(length=128), nullable=False),
    sa.Column('end_user', sa.String(length=128), nullable=False),
    sa.Column('forwarder', sa.String(length=128), nullable=True),
    sa.Column('ship_date', sa.Date(), nullable=False),
    sa.Column('destination', sa.String(length=2), nullable=False),
    sa.Column('route', sa.Text(), nullable=False),
    sa.Column('license', sa.String(length=128), nullable=True),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipments')),
    sa.UniqueConstraint('seq', name=op.f('uq_shipments_seq'))
    )
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipments_consignee'), ['consignee'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipments_destination'), ['destination'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipments_end_user'), ['end_user'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipments_exporter'), ['exporter'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipments_license'), ['license'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipments_ship_date'), ['ship_date'], unique=False)

    op.create_table('end_use_scope',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['seq'], ['end_uses.seq'], name=op.f('fk_end_use_scope_seq_end_uses')),
    sa.PrimaryKeyConstraint('seq', 'kind', 'ref', name=op.f('pk_end_use_scope'))
    )
    op.create_table('inspection_devices',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=True),
    sa.Column('product_name', sa.Text(), nullable=False),
    sa.Column('pci_device_id', sa.String(length=10), nullable=True),
    sa.Column('board_part_number', sa.Text(), nullable=True),
    sa.Column('uuid', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['seq'], ['inspections.seq'], name=op.f('fk_inspection_devices_seq_inspections')),
    sa.PrimaryKeyConstraint('seq', 'position', name=op.f('pk_inspection_devices'))
    )
    with op.batch_alter_table('inspection_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_devices_serial'), ['serial'], unique=False)

    op.create_table('inspection_serials',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['seq'], ['inspections.seq'], name=op.f('fk_inspection_serials_seq_inspections')),
    sa.PrimaryKeyConstraint('seq', 'serial', name=op.f('pk_inspection_serials'))
    )
    with op.batch_alter_table('inspection_serials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_serials_serial'), ['serial'], unique=False)

    op.create_table('receipts',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('shipment_id', sa.String(length=128), nullable=False),
    sa.Column('party', sa.String(length=128), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('site', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_receipts_shipment_id_shipments')),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_receipts'))
    )
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipts_shipment_id'), ['shipment_id'], unique=False)

    op.create_table('shipment_items',
    sa.Column('shipment_id', sa.String(length=128), nullable=False),
    sa.Column('line', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('product', sa.String(length=128), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('hs_code', sa.String(length=20), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_value', sa.String(length=40), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_shipment_items_shipment_id_shipments')),
    sa.PrimaryKeyConstraint('shipment_id', 'line', name=op.f('pk_shipment_items'))
    )
    with op.batch_alter_table('shipment_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_items_product'), ['product'], unique=False)

    op.create_table('shipment_serials',
    sa.Column('shipment_id', sa.String(length=128), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_shipment_serials_shipment_id_shipments')),
    sa.PrimaryKeyConstraint('shipment_id', 'serial', name=op.f('pk_shipment_serials'))
    )
    with op.batch_alter_table('shipment_serials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_serials_serial'), ['serial'], unique=False)

    op.create_table('receipt_serials',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('carried', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['seq'], ['receipts.seq'], name=op.f('fk_receipt_serials_seq_receipts')),
    sa.PrimaryKeyConstraint('seq', 'serial', name=op.f('pk_receipt_serials'))
    )
    with op.batch_alter_table('receipt_serials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipt_serials_serial'), ['serial'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('receipt_serials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_receipt_serials_serial'))

    op.drop_table('receipt_serials')
    with op.batch_alter_table('shipment_serials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_serials_serial'))

    op.drop_table('shipment_serials')
    with op.batch_alter_table('shipment_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_items_product'))

    op.drop_table('shipment_items')
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_receipts_shipment_id'))

    op.drop_table('receipts')
    with op.batch_alter_table('inspection_serials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_serials_serial'))

    op.drop_table('inspection_serials')
    with op.batch_alter_table('inspection_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_devices_serial'))

    op.drop_table('inspection_devices')
    op.drop_table('end_use_scope')
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipments_ship_date'))
        batch_op.drop_index(batch_op.f('ix_shipments_license'))
        batch_op.drop_index(batch_op.f('ix_shipments_exporter'))
        batch_op.drop_index(batch_op.f('ix_shipments_end_user'))
        batch_op.drop_index(batch_op.f('ix_shipments_destination'))
        batch_op.drop_index(batch_op.f('ix_shipments_consignee'))

    op.drop_table('shipments')
    op.drop_table('products')
    with op.batch_alter_table('licenses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_licenses_exporter'))

    op.drop_table('licenses')
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspections_auditor'))

    op.drop_table('inspections')
    with op.batch_alter_table('end_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_end_uses_party'))

    op.drop_table('end_uses')
    with op.batch_alter_table('chips', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chips_state'))
        batch_op.drop_index(batch_op.f('ix_chips_product_id'))

    op.drop_table('chips')
