"""inbox indexes: partial indexes for the lists at volume (issue 9 "Inboxes at volume")

Revision ID: 0011_inbox_indexes
Revises: 0010_supervision
Create Date: 2026-11-22 01:10:00.000000

待办, 部门待办 and 已办 each read one partial index in their own order; the plan dashboard counts open tasks and the
units closed cases touched from indexes alone. The replaced indexes were either redundant (instance_id is the first
column of the unique constraint and of ix_task_index_case_seats; status the first of ix_process_instance_closed) or
led SQLite's planner to scan every unclaimed open task for a department queue.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011_inbox_indexes'
down_revision: str | None = '0010_supervision'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status = 'ready'"
OPEN_CLAIMED = "status = 'ready' AND claimed_by_id IS NOT NULL"
OPEN_UNCLAIMED = "status = 'ready' AND claimed_by_id IS NULL"
COMPLETED = "status = 'completed'"
NAMED = "assigned_to_id IS NOT NULL"


def _partial(condition: str) -> dict[str, sa.TextClause]:
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def upgrade() -> None:
    with op.batch_alter_table('task_index', schema=None) as batch_op:
        batch_op.drop_index('ix_task_index_queue')
        batch_op.drop_index('ix_task_index_claimed')
        batch_op.drop_index('ix_task_index_completed_by')
        batch_op.drop_index('ix_task_index_instance_id')
        batch_op.create_index('ix_task_index_mine', ['claimed_by_id', 'due_at', 'status', 'id'], unique=False,
                              **_partial(OPEN_CLAIMED))
        batch_op.create_index('ix_task_index_queue_open',
                              ['org_unit_id', 'department_code', 'due_at', 'status', 'claimed_by_id', 'id'],
                              unique=False, **_partial(OPEN_UNCLAIMED))
        batch_op.create_index('ix_task_index_done', ['completed_by_id', 'completed_at', 'id', 'status'],
                              unique=False, **_partial(COMPLETED))
        batch_op.create_index('ix_task_index_named', ['assigned_to_id', 'status', 'instance_id'], unique=False,
                              **_partial(NAMED))
        batch_op.create_index('ix_task_index_open', ['process_key', 'org_unit_id', 'department_code', 'due_at', 'status'],
                              unique=False, **_partial(OPEN))
        batch_op.create_index('ix_task_index_case_seats',
                              ['instance_id', 'org_unit_id', 'department_code', 'status', 'completed_by_id'],
                              unique=False)

    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index('ix_process_instance_status')
        batch_op.create_index('ix_process_instance_closed', ['status', 'completed_at', 'process_key', 'home_unit_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index('ix_process_instance_closed')
        batch_op.create_index('ix_process_instance_status', ['status'], unique=False)

    with op.batch_alter_table('task_index', schema=None) as batch_op:
        batch_op.drop_index('ix_task_index_case_seats')
        batch_op.drop_index('ix_task_index_open')
        batch_op.drop_index('ix_task_index_named')
        batch_op.drop_index('ix_task_index_done')
        batch_op.drop_index('ix_task_index_queue_open')
        batch_op.drop_index('ix_task_index_mine')
        batch_op.create_index('ix_task_index_instance_id', ['instance_id'], unique=False)
        batch_op.create_index('ix_task_index_completed_by', ['completed_by_id', 'completed_at'], unique=False)
        batch_op.create_index('ix_task_index_claimed', ['claimed_by_id', 'status'], unique=False)
        batch_op.create_index('ix_task_index_queue', ['status', 'org_unit_id', 'department_code'], unique=False)
