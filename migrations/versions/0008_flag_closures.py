"""Flags follow the facts: a determination that no longer raises an open flag closes it
(and one that raises a closed flag again reopens it), each recorded in `resolutions`
as a row of that determination's entry. One entry may close several flags, so a
resolution row is keyed by (seq, flag_id) instead of seq alone.

Revision ID: 0008
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0008'
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('resolutions', schema=None, recreate='always') as batch_op:
        batch_op.drop_constraint('pk_resolutions', type_='primary')
        batch_op.create_primary_key('pk_resolutions', ['seq', 'flag_id'])


def downgrade() -> None:
    with op.batch_alter_table('resolutions', schema=None, recreate='always') as batch_op:
        batch_op.drop_constraint('pk_resolutions', type_='primary')
        batch_op.create_primary_key('pk_resolutions', ['seq'])
