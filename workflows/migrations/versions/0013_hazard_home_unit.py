"""hazard home unit: each report carries its case's home unit, so plan metrics count reports without their cases

Revision ID: 0013_hazard_home_unit
Revises: 0012_dashboard_tallies
Create Date: 2026-11-22 05:00:00.000000

The 责任分工 dashboard's hazard targets (seed 000 item 13: reports verified, rewards paid in a period within a unit's
subtree) joined every report of the period to its case for the home unit: ~15,000 a year, 11-25 ms per page view
(issue #9). The home unit is copied onto the report when it is filed (a case never changes unit), filled here from
the cases, and the two period indexes end in it. On SQLite the column's NOT NULL and foreign key come by recreating
hazard_report (batch mode); the table has no triggers to lose.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013_hazard_home_unit'
down_revision: str | None = '0012_dashboard_tallies'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('hazard_report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('home_unit_id', sa.Integer(), nullable=True))
    op.execute(
        "UPDATE hazard_report SET home_unit_id = "
        "(SELECT process_instance.home_unit_id FROM process_instance WHERE process_instance.id = hazard_report.instance_id)"
    )
    with op.batch_alter_table('hazard_report', schema=None) as batch_op:
        batch_op.alter_column('home_unit_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_hazard_report_home_unit_id_org_unit'), 'org_unit',
                                    ['home_unit_id'], ['id'])
        batch_op.drop_index('ix_hazard_report_received')
        batch_op.drop_index('ix_hazard_report_reward_paid')
        batch_op.create_index('ix_hazard_report_received', ['received_at', 'verification_result', 'home_unit_id'],
                              unique=False)
        batch_op.create_index('ix_hazard_report_reward_paid', ['reward_paid_on', 'home_unit_id', 'reward_amount'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('hazard_report', schema=None) as batch_op:
        batch_op.drop_index('ix_hazard_report_reward_paid')
        batch_op.drop_index('ix_hazard_report_received')
        batch_op.create_index('ix_hazard_report_reward_paid', ['reward_paid_on', 'instance_id', 'reward_amount'],
                              unique=False)
        batch_op.create_index('ix_hazard_report_received', ['received_at', 'verification_result', 'instance_id'],
                              unique=False)
        batch_op.drop_constraint(batch_op.f('fk_hazard_report_home_unit_id_org_unit'), type_='foreignkey')
        batch_op.drop_column('home_unit_id')
