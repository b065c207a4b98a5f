"""supervision step indexes: the 督办台账 decides who sees a matter from two small indexes (issue 9, PostgreSQL)

Revision ID: 0017_supervision_step_indexes
Revises: 0016_process_home_index
Create Date: 2026-11-22 10:30:00.000000

queries.CaseColumns.task_sets reads the viewer's steps as sets of supervision cases: by the steps' seats, and by who
completed them. Both indexes are partial (supervision steps only, ~2 % of task_index), so other steps never write them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017_supervision_step_indexes'
down_revision: str | None = '0016_process_home_index'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUPERVISION = sa.text("process_key = 'supervision'")
SUPERVISION_DONE = sa.text("process_key = 'supervision' AND status = 'completed'")


def upgrade() -> None:
    op.create_index('ix_task_index_supervision_seats', 'task_index', ['org_unit_id', 'department_code', 'instance_id'],
                    unique=False, sqlite_where=SUPERVISION, postgresql_where=SUPERVISION)
    op.create_index('ix_task_index_supervision_done', 'task_index', ['completed_by_id', 'instance_id'], unique=False,
                    sqlite_where=SUPERVISION_DONE, postgresql_where=SUPERVISION_DONE)


def downgrade() -> None:
    op.drop_index('ix_task_index_supervision_done', table_name='task_index')
    op.drop_index('ix_task_index_supervision_seats', table_name='task_index')
