"""Migrations are frozen history: 0012, 0014 and 0018 carry their own copies of the tally triggers' DDL and of the
fills, so a later edit of workflows.models.tally / .metric_tally / .queue_tally never changes what an old migration
does. These tests hold the copies to the models today (a database migrated to head has exactly the triggers and
trigger functions of a database built from the models: a changed trigger needs a new migration), keep the migrations
free of application imports, and check the frozen fills of closed cases and hazard metrics at a Beijing month's
edge against the application's recount (the demo data has no completed case, so the 0012 migration test in
tests/test_dashboard_tallies.py fills closed_case_tally from none)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

import workflows.models  # noqa: F401  (registers every table, and the triggers created with them)
from tests.conftest import Databases
from tests.migration_helpers import migrate_below_and_back
from tests.workflow_helpers import seed_demo_world
from workflows.db import Base, make_engine
from workflows.demo_supervision import seed_demo_supervision
from workflows.migrate import MIGRATIONS_DIR, upgrade_database
from workflows.models import HazardReport, InstanceStatus, ProcessInstance
from workflows.models.metric_tally import HAZARD_REPORT_TRIGGERS, REWARDS_METRIC, VERIFIED_METRIC
from workflows.models.queue_tally import TASK_INDEX_QUEUE_TRIGGERS, drop_queue_trigger_ddl, queue_trigger_ddl
from workflows.models.tally import OPEN_TASK_TRIGGERS
from workflows.models.triggers import TallyTriggers
from workflows.plans.tally import SUPERVISION, check_tallies, expected_closed, stored_closed, stored_metrics

TALLIES: tuple[TallyTriggers, ...] = (OPEN_TASK_TRIGGERS, HAZARD_REPORT_TRIGGERS, TASK_INDEX_QUEUE_TRIGGERS)
# What the migrations may import from the application: column types only.
ALLOWED_APP_IMPORTS = {"workflows.db"}

# Beijing 2026-04-01 00:30 and 2026-03-31 23:59: the month is Beijing's, not UTC's.
APRIL_IN_BEIJING = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
MARCH_IN_BEIJING = datetime(2026, 3, 31, 15, 59, tzinfo=UTC)


@pytest.fixture
def migrated_engine(fresh_database_url: str) -> Iterator[Engine]:
    engine = make_engine(fresh_database_url)
    upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def modelled_engine(databases: Databases) -> Iterator[Engine]:
    url = databases.new()
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()
    databases.drop(url)


def trigger_definitions(engine: Engine) -> dict[str, str]:
    """Every trigger ("trigger table.name") and, on PostgreSQL, every function of the public schema
    ("function name") with its definition as the database gives it back."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(
                "SELECT 'trigger ' || tbl_name || '.' || name, sql FROM sqlite_master WHERE type = 'trigger'"
            )
        else:
            rows = connection.exec_driver_sql(
                "SELECT 'trigger ' || tgrelid::regclass::text || '.' || tgname, pg_get_triggerdef(oid) "
                "FROM pg_trigger WHERE NOT tgisinternal "
                "UNION ALL SELECT 'function ' || p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
                "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.prokind = 'f'"
            )
        return {str(name): str(definition) for name, definition in rows}


def tally_trigger_names(dialect: str) -> set[str]:
    """The keys trigger_definitions gives the tallies' triggers and functions on `dialect`."""
    names = {f"trigger {tally.table}.{name}" for tally in TALLIES for name in tally.trigger_names(dialect)}
    if dialect == "postgresql":
        names |= {f"function {function.partition('(')[0]}" for tally in TALLIES for function in tally.functions}
    return names


def differing(first: dict[str, str], second: dict[str, str]) -> set[str]:
    return {name for name in first.keys() | second.keys() if first.get(name) != second.get(name)}


def test_a_migrated_database_has_exactly_the_models_triggers(migrated_engine: Engine, modelled_engine: Engine) -> None:
    migrated = trigger_definitions(migrated_engine)

    assert tally_trigger_names(migrated_engine.dialect.name) <= migrated.keys()
    assert differing(migrated, trigger_definitions(modelled_engine)) == set()


def test_the_comparison_notices_a_changed_trigger(migrated_engine: Engine, modelled_engine: Engine) -> None:
    """Guards the test above against comparing nothing: the queue triggers recreated with another delta (as a frozen
    copy that drifted from the models would be) must show up as differences."""
    dialect = migrated_engine.dialect.name
    with migrated_engine.begin() as connection:
        for statement in drop_queue_trigger_ddl(dialect):
            connection.exec_driver_sql(statement)
        for statement in queue_trigger_ddl(dialect):
            connection.exec_driver_sql(statement.replace(", 1);", ", 2);"))

    changed = {"trigger task_index.task_index_queue_insert", "trigger task_index.task_index_queue_enter"}
    if dialect == "postgresql":  # one function does what SQLite's trigger bodies do
        changed = {"function task_index_queue_tally"}
    assert differing(trigger_definitions(migrated_engine), trigger_definitions(modelled_engine)) == changed


def test_migrations_import_no_application_module_but_column_types() -> None:
    imported: dict[str, set[str]] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                modules = {node.module or ""}
            else:
                continue
            app = {module for module in modules if module.partition(".")[0] in ("workflows", "webapp", "forms")}
            if app - ALLOWED_APP_IMPORTS:
                imported[path.name] = imported.get(path.name, set()) | (app - ALLOWED_APP_IMPORTS)
    assert imported == {}


def test_migration_0014_fills_beijing_months_and_fen(fresh_database_url: str) -> None:
    """The frozen metric fill counts a report in the Beijing month it was received (not UTC's) and a reward in fen
    in the month it was paid, as the triggers kept them."""
    engine = make_engine(fresh_database_url)
    try:
        upgrade_database(engine)
        with Session(engine) as session, session.begin():
            seed_demo_world(session)
            first, second = session.scalars(select(HazardReport).order_by(HazardReport.id)).all()[:2]
            first.received_at, first.verification_result = APRIL_IN_BEIJING, "属实"
            second.received_at, second.verification_result = MARCH_IN_BEIJING, "基本属实"
            second.reward_amount, second.reward_paid_on = Decimal("300.10"), date(2026, 5, 31)
            units = (first.home_unit_id, second.home_unit_id)
        with Session(engine) as session:
            sums = stored_metrics(session)
            assert sums[(VERIFIED_METRIC, date(2026, 4, 1), units[0])] >= 1
            assert sums[(VERIFIED_METRIC, date(2026, 3, 1), units[1])] >= 1
            assert sums[(REWARDS_METRIC, date(2026, 5, 1), units[1])] == 30010
            assert check_tallies(session) == []

        migrate_below_and_back(engine, "0013_hazard_home_unit", "metric_tally")
        with Session(engine) as session:
            assert stored_metrics(session) == sums
            assert check_tallies(session) == []
    finally:
        engine.dispose()


def test_migration_0012_fills_closed_cases_by_beijing_month_item_and_seats(fresh_database_url: str) -> None:
    """Every demo case and supervised matter marked completed in the database (no step ran, so nothing counted them),
    half just before and half just after Beijing's April: migrating down past 0012 and up again fills
    closed_case_tally with what the application's recount counts."""
    engine = make_engine(fresh_database_url)
    try:
        upgrade_database(engine)
        with Session(engine) as session, session.begin():
            seed_demo_world(session)
            seed_demo_supervision(session)
            ids = session.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id)).all()
            for position, instance_id in enumerate(ids):
                completed_at = (MARCH_IN_BEIJING, APRIL_IN_BEIJING)[position % 2]
                session.execute(
                    update(ProcessInstance)
                    .where(ProcessInstance.id == instance_id)
                    .values(status=InstanceStatus.COMPLETED.value, completed_at=completed_at)
                )
        with Session(engine) as session:
            expected = expected_closed(session)
        assert sum(expected.values()) == len(ids)
        assert {month for month, *_ in expected} == {date(2026, 3, 1), date(2026, 4, 1)}
        assert any(process == SUPERVISION and item is not None for _, process, item, _, _ in expected)
        assert any("," in seats for *_, seats in expected)  # a case whose tasks touched several seats

        migrate_below_and_back(engine, "0011_inbox_indexes", "closed_case_tally")
        with Session(engine) as session:
            assert stored_closed(session) == expected
            assert check_tallies(session) == []
    finally:
        engine.dispose()
