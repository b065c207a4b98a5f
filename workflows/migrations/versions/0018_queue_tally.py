"""queue tally: unclaimed open tasks per seat, kept by triggers on task_index (issue 9 §2, the navigation's 部门待办)

Revision ID: 0018_queue_tally
Revises: 0017_supervision_step_indexes
Create Date: 2026-11-22 11:00:00.000000

Every page counts the viewer's 部门待办 in its navigation; a city department's queue is ~20,000 steps at volume, and
counting its index range cost 3–6 ms per page on PostgreSQL. workflows.models.queue_tally keeps a count per unit and
department, appended to by triggers on task_index (SQLite triggers; a PostgreSQL plpgsql function and triggers) and
filled here from the existing rows (workflows.plans.tally.recount_queue_tally).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from workflows.models.queue_tally import drop_queue_trigger_ddl, queue_trigger_ddl

revision: str = '0018_queue_tally'
down_revision: str | None = '0017_supervision_step_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('queue_tally',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_unit_id', sa.Integer(), nullable=False),
        sa.Column('department_code', sa.String(length=32), nullable=True),
        sa.Column('tasks', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_tally')),
    )  # fmt: skip
    op.create_index('ix_queue_tally_seat', 'queue_tally', ['org_unit_id', 'department_code'], unique=False)
    bind = op.get_bind()
    for statement in queue_trigger_ddl(bind.dialect.name):
        bind.exec_driver_sql(statement)
    from workflows.plans.tally import recount_queue_tally

    with Session(bind=bind) as session:  # joins the migration's transaction; neither commits nor rolls it back
        recount_queue_tally(session)
        session.flush()


def downgrade() -> None:
    bind = op.get_bind()
    for statement in drop_queue_trigger_ddl(bind.dialect.name):
        bind.exec_driver_sql(statement)
    op.drop_index('ix_queue_tally_seat', table_name='queue_tally')
    op.drop_table('queue_tally')
