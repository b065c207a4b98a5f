"""Running a tally migration's fill again on a database with rows (issue #9: the fills are frozen in the migrations)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect

from workflows.migrate import alembic_config, upgrade_database


def migrate_below_and_back(engine: Engine, revision: str, table: str) -> None:
    """Downgrade to `revision`, which drops `table`, and upgrade to head again: the migration that creates the table
    fills it from the rows there."""
    command.downgrade(alembic_config(engine), revision)
    assert not inspect(engine).has_table(table)
    upgrade_database(engine)
