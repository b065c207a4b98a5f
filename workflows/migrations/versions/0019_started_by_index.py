"""started-by index: a starter's cases by process, from the index alone (issue 9, the 督办台账 on PostgreSQL)

Revision ID: 0019_started_by_index
Revises: 0018_queue_tally
Create Date: 2026-11-22 11:45:00.000000

The ledger's "matters I started" read every case the viewer had started, of every process (6,489 for a district
official at the bench's volume: a 4 ms heap scan); (started_by_id, process_key, id) reads the supervision cases alone
and still serves every lookup by starter, so it replaces the single-column index.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0019_started_by_index'
down_revision: str | None = '0018_queue_tally'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_process_instance_started_by', 'process_instance', ['started_by_id', 'process_key', 'id'],
                    unique=False)
    op.drop_index('ix_process_instance_started_by_id', table_name='process_instance')


def downgrade() -> None:
    op.create_index('ix_process_instance_started_by_id', 'process_instance', ['started_by_id'], unique=False)
    op.drop_index('ix_process_instance_started_by', table_name='process_instance')
