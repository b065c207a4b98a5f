"""reference revision: a token replaced by every ORM write of units, departments, plans and process versions

Revision ID: 0015_reference_revision
Revises: 0014_metric_tally
Create Date: 2026-11-22 10:00:00.000000

Pages cache a plan's structure per process under this token (workflows.plans.structure, issue #9). The table starts
empty (no token is a key of its own, so a migrated database that is restored into stays empty until the restore);
workflows.models.reference writes the row in the transaction of the first change and replaces it at each one after.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from workflows.db import AwareDateTime

revision: str = '0015_reference_revision'
down_revision: str | None = '0014_metric_tally'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('reference_revision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('changed_at', AwareDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reference_revision')),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table('reference_revision')
