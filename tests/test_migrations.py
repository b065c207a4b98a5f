"""The Alembic migrations build exactly the schema the models declare."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

import workflows.models  # noqa: F401  (registers every table)
from workflows.db import Base, make_engine
from workflows.migrate import alembic_config, current_revision, upgrade_database


@pytest.fixture
def empty_engine(fresh_database_url: str) -> Iterator[Engine]:
    engine = make_engine(fresh_database_url)
    yield engine
    engine.dispose()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def test_upgrade_builds_exactly_the_model_schema(empty_engine: Engine) -> None:
    upgrade_database(empty_engine)

    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    assert set(inspect(empty_engine).get_table_names()) == {*Base.metadata.tables, "alembic_version"}


def test_comparison_notices_a_schema_drift(empty_engine: Engine) -> None:
    """Guards the test above against comparing nothing: a dropped index must show up as a difference."""
    upgrade_database(empty_engine)
    with empty_engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_org_unit_path")

    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert [(diff[0], diff[1].name) for diff in differences] == [("add_index", "ix_org_unit_path")]


def test_current_revision_is_head_after_upgrade(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None

    upgrade_database(empty_engine)

    assert head_revision(empty_engine) is not None
    assert current_revision(empty_engine) == head_revision(empty_engine)


def test_upgrade_twice_is_a_no_op(empty_engine: Engine) -> None:
    upgrade_database(empty_engine)
    tables = set(inspect(empty_engine).get_table_names())

    upgrade_database(empty_engine)

    assert set(inspect(empty_engine).get_table_names()) == tables
    assert current_revision(empty_engine) == head_revision(empty_engine)


def test_single_linear_history_starting_at_0001(empty_engine: Engine) -> None:
    script = ScriptDirectory.from_config(alembic_config(empty_engine))

    assert len(script.get_heads()) == 1
    assert list(script.get_bases()) == ["0001"]


def test_downgrade_to_base_removes_every_table(empty_engine: Engine) -> None:
    upgrade_database(empty_engine)

    command.downgrade(alembic_config(empty_engine), "base")

    assert set(inspect(empty_engine).get_table_names()) == {"alembic_version"}
    assert current_revision(empty_engine) is None
