"""The `flask --app webapp ...` commands, run through Flask's CLI test runner."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import MetaData, func, inspect, select, text

from tests.workflow_helpers import start_report
from webapp import create_app
from webapp.database import engine, session_factory
from workflows.db import Base
from workflows.migrate import alembic_config, current_revision
from workflows.models import AuditEvent, Enterprise, OrgUnit, PolicyParameter, ProcessInstance, ProcessVersion, User
from workflows.organisation import authenticate


def run(app: Flask, runner: FlaskCliRunner, *args: str) -> Result:
    # `flask` pushes an app context before running a command; the test runner leaves that to the caller.
    with app.app_context():
        return runner.invoke(args=list(args))


def count_rows(app: Flask, model: type[Any]) -> int:
    with session_factory(app)() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def fresh_app(fresh_database_url: str) -> Iterator[Flask]:
    """An app over an empty database."""
    application = create_app({"TESTING": True, "DATABASE_URL": fresh_database_url, "SECRET_KEY": "test"})
    yield application
    engine(application).dispose()


# --- init-db -----------------------------------------------------------------------------------------------------


def test_init_db_migrates_a_fresh_database_through_alembic(fresh_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    create_all_calls: list[Any] = []
    monkeypatch.setattr(MetaData, "create_all", lambda *args, **kwargs: create_all_calls.append(args))

    result = run(fresh_app, fresh_app.test_cli_runner(), "init-db")

    assert result.exit_code == 0, result.output
    assert create_all_calls == []
    db = engine(fresh_app)
    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    assert current_revision(db) == head
    with db.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head]
    assert "0001" in {script.revision for script in ScriptDirectory.from_config(alembic_config(db)).walk_revisions()}
    assert set(inspect(db).get_table_names()) == {*Base.metadata.tables, "alembic_version"}
    # Policy parameters loaded and both processes deployed.
    assert count_rows(fresh_app, PolicyParameter) > 0
    assert "新增政策参数" in result.output
    assert "hazard_report v1（新版本）" in result.output and "hardship_aid v1（新版本）" in result.output
    assert count_rows(fresh_app, ProcessVersion) == 5


def test_init_db_is_idempotent(fresh_app: Flask) -> None:
    runner = fresh_app.test_cli_runner()
    assert run(fresh_app, runner, "init-db").exit_code == 0
    parameters, versions = count_rows(fresh_app, PolicyParameter), count_rows(fresh_app, ProcessVersion)

    result = run(fresh_app, runner, "init-db")

    assert result.exit_code == 0, result.output
    assert "未变化" in result.output
    assert "新增政策参数 0 条" in result.output
    assert "新版本" not in result.output
    assert count_rows(fresh_app, PolicyParameter) == parameters
    assert count_rows(fresh_app, ProcessVersion) == versions


# --- seed-demo ---------------------------------------------------------------------------------------------------


def test_seed_demo_is_idempotent(app: Flask, runner: FlaskCliRunner) -> None:
    # The `app` fixture's database was seeded once already.
    before = {model: count_rows(app, model) for model in (User, OrgUnit, Enterprise, ProcessInstance, AuditEvent)}
    assert before[User] == 33 + 1  # the demo accounts and the public-intake service account
    assert before[Enterprise] > 0

    result = run(app, runner, "seed-demo")

    assert result.exit_code == 0, result.output
    assert "33 个演示账号" in result.output
    assert {model: count_rows(app, model) for model in before} == before


# --- create-user -------------------------------------------------------------------------------------------------


def test_create_user(app: Flask, runner: FlaskCliRunner) -> None:
    result = run(
        app,
        runner,
        "create-user",
        "xinren",
        "--password",
        "secret-123",
        "--org-unit",
        "210200",
        "--department",
        "econ-labour",
        "--role",
        "head",
        "--display-name",
        "钱新人",
    )

    assert result.exit_code == 0, result.output
    assert "已创建用户 xinren" in result.output
    with session_factory(app)() as session:
        created = authenticate(session, "xinren", "secret-123")
        assert created is not None
        assert created.display_name == "钱新人"
        assert created.org_unit.code == "210200"
        assert created.department_code == "econ-labour"
        assert created.role == "head"


def test_create_user_defaults_to_official(app: Flask, runner: FlaskCliRunner) -> None:
    result = run(app, runner, "create-user", "xinren2", "--password", "secret-123", "--org-unit", "210211")

    assert result.exit_code == 0, result.output
    with session_factory(app)() as session:
        created = session.scalar(select(User).where(User.username == "xinren2"))
        assert created is not None
        assert created.role == "official"
        assert created.department is None
        assert created.display_name == "xinren2"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["newbie", "--password", "secret-123", "--org-unit", "999999"], "未知的组织代码：999999"),
        (
            ["newbie", "--password", "secret-123", "--org-unit", "210211", "--department", "econ-labour"],
            "该单位没有此部门：econ-labour",
        ),
        (["ganjingzi1", "--password", "secret-123", "--org-unit", "210211"], "用户名已存在：ganjingzi1"),
        (["newbie", "--password", "short", "--org-unit", "210211"], "密码长度不能少于8位"),
    ],
    ids=["unknown-unit", "department-not-in-unit", "duplicate-username", "short-password"],
)
def test_create_user_failures_exit_non_zero_in_chinese(
    app: Flask, runner: FlaskCliRunner, args: list[str], message: str
) -> None:
    users = count_rows(app, User)

    result = run(app, runner, "create-user", *args)

    assert result.exit_code != 0
    assert result.stderr.startswith("错误：")
    assert message in result.stderr
    assert "已创建用户" not in result.output
    assert count_rows(app, User) == users


def test_create_user_rejects_an_unknown_role(app: Flask, runner: FlaskCliRunner) -> None:
    users = count_rows(app, User)

    result = run(
        app, runner, "create-user", "newbie", "--password", "secret-123", "--org-unit", "210211", "--role", "boss"
    )

    assert result.exit_code == 2  # click's usage error
    assert "--role" in result.output
    assert "boss" in result.output
    assert count_rows(app, User) == users


# --- verify-audit ------------------------------------------------------------------------------------------------


def test_verify_audit_passes_on_a_clean_chain_and_fails_after_tampering(app: Flask, runner: FlaskCliRunner) -> None:
    with session_factory(app)() as session:
        start_report(session)
        session.commit()
    events = count_rows(app, AuditEvent)
    assert events > 0

    clean = run(app, runner, "verify-audit")

    assert clean.exit_code == 0, clean.output
    assert f"审计链完整：{events} 条事件" in clean.output

    with engine(app).begin() as connection:
        victim = connection.execute(text("SELECT min(id) FROM audit_event")).scalar_one()
        connection.execute(
            text("UPDATE audit_event SET payload = :payload WHERE id = :id"), {"payload": '{"x":1}', "id": victim}
        )

    tampered = run(app, runner, "verify-audit")

    assert tampered.exit_code != 0
    assert f"审计链在事件 {victim} 处断开" in tampered.stderr
    assert "被修改" in tampered.stderr


# --- run-timers --------------------------------------------------------------------------------------------------


def test_run_timers_prints_how_many_fired(app: Flask, runner: FlaskCliRunner) -> None:
    with session_factory(app)() as session:
        start_report(session)
        session.commit()

    result = run(app, runner, "run-timers")

    assert result.exit_code == 0, result.output
    match = re.fullmatch(r"已触发定时器 (\d+) 个\n", result.output)
    assert match is not None, result.output
    assert int(match.group(1)) == 0  # nothing is due right after the cases start
