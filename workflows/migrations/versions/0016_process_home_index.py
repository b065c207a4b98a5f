"""process home index: a process's cases by home unit from the index alone (issue 9, 督办台账 on PostgreSQL)

Revision ID: 0016_process_home_index
Revises: 0015_reference_revision
Create Date: 2026-11-22 10:15:00.000000

ix_process_instance_process_key (process_key) is replaced by (process_key, home_unit_id, id): the ledger's "matters
whose case lies in my subtree" read every supervision case's row (engine state included) for its home unit.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0016_process_home_index'
down_revision: str | None = '0015_reference_revision'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_process_instance_process_home', 'process_instance', ['process_key', 'home_unit_id', 'id'],
                    unique=False)
    op.drop_index('ix_process_instance_process_key', table_name='process_instance')


def downgrade() -> None:
    op.create_index('ix_process_instance_process_key', 'process_instance', ['process_key'], unique=False)
    op.drop_index('ix_process_instance_process_home', table_name='process_instance')
