"""reference revision: a token replaced by every ORM write of units, departments, plans and process versions

Revision ID: 0015_reference_revision
Revises: 0014_metric_tally
Create Date: 2026-11-22 10:00:00.000000

Pages cache a plan's structure per process under this token (workflows.plans.structure, issue #9). The row is
created here with a fresh token; workflows.models.reference replaces it in the transaction of each change. A restore
does not restore it (it replaces the token), so a migrated database still counts as empty for a restore.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from workflows.db import AwareDateTime

revision: str = '0015_reference_revision'
down_revision: str | None = '0014_metric_tally'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table('reference_revision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('changed_at', AwareDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reference_revision')),
    )  # fmt: skip
    op.bulk_insert(table, [{'id': 1, 'token': uuid.uuid4().hex, 'changed_at': datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table('reference_revision')
