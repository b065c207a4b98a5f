"""`flask --app webapp ...` commands. Names and options are fixed: scripts depend on them (issue #2 §2)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from webapp.cli_aid import import_aid_list_command
from webapp.cli_maintenance import COMMANDS as MAINTENANCE_COMMANDS
from webapp.cli_tokens import create_token_command, revoke_tokens_command
from webapp.database import engine, session_factory
from webapp.scheduler import run_once
from workflows.audit import verify_chain
from workflows.demo import seed_demo
from workflows.demo_aid import seed_demo_aid
from workflows.demo_cases import seed_demo_cases
from workflows.demo_studio import seed_demo_studio
from workflows.demo_supervision import seed_demo_supervision
from workflows.engine.deployment import DeploymentError, deploy_paths
from workflows.migrate import upgrade_database
from workflows.organisation import UnknownOrgUnit, UserAdminError, create_user
from workflows.plans.loading import PlanDataError, load_plan, read_plan_file
from workflows.policy.parameters import seed_policy_parameters
from workflows.public_intake import DEFAULT_INTAKE_UNIT, ensure_service_account
from workflows.routing import BPMN_DIR, load_routing


def _deploy(paths: list[Path]) -> None:
    with session_factory(current_app)() as session, session.begin():
        for result in deploy_paths(session, paths, load_routing()):
            state = "新版本" if result.created else "未变化"
            click.echo(f"{result.source_file}: {result.key} v{result.version}（{state}）")


def _ensure_public_intake(session: Session) -> None:
    """The service account that starts public hazard reports, once its unit exists."""
    # Before the organisation is loaded there is no unit yet: seed-demo or the first public report creates it.
    with contextlib.suppress(UnknownOrgUnit):
        ensure_service_account(session, current_app.config.get("PUBLIC_INTAKE_UNIT") or DEFAULT_INTAKE_UNIT)


@click.command("init-db")
@with_appcontext
@click.option(
    "--schema-only", is_flag=True, help="只建表或升级结构，不加载政策参数、不部署流程（随后用 restore 恢复备份时）"
)
def init_db_command(schema_only: bool) -> None:
    """Create or upgrade the schema, load policy parameters and deploy bpmn/."""
    upgrade_database(engine(current_app))
    if schema_only:
        # `restore` accepts only a database without rows: policy parameters and processes come from the archive.
        click.echo("数据库已是最新结构（未加载任何数据）")
        return
    with session_factory(current_app)() as session, session.begin():
        added = seed_policy_parameters(session)
        _ensure_public_intake(session)
    click.echo(f"数据库已是最新结构；新增政策参数 {added} 条")
    try:
        _deploy([BPMN_DIR])
    except DeploymentError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load the demo organisation, users and enterprises (idempotent)."""
    with session_factory(current_app)() as session, session.begin():
        logins = seed_demo(session)
        _ensure_public_intake(session)
        cases = seed_demo_cases(session)
    click.echo(f"演示数据就绪：{len(logins)} 个演示账号，新建演示案件 {cases} 个")


@click.command("seed-demo-aid")
@with_appcontext
def seed_demo_aid_command() -> None:
    """Load a demo hardship-aid list, dispatched and distributed to the districts (idempotent; after seed-demo)."""
    with session_factory(current_app)() as session, session.begin():
        workers = seed_demo_aid(session)
    click.echo(f"演示援助名单就绪：新导入 {workers} 人")


@click.command("seed-demo-studio")
@with_appcontext
def seed_demo_studio_command() -> None:
    """Open this year's demo studio call with applications and an honour nomination (idempotent; after seed-demo)."""
    with session_factory(current_app)() as session, session.begin():
        cases = seed_demo_studio(session)
    click.echo(f"演示创新工作室申报就绪：新建案件 {cases} 个")


@click.command("seed-demo-supervision")
@with_appcontext
def seed_demo_supervision_command() -> None:
    """Register the demo supervised matters under the Dalian plan (idempotent; after seed-demo)."""
    with session_factory(current_app)() as session, session.begin():
        created = seed_demo_supervision(session)
    click.echo(f"演示督办事项就绪：新建 {created} 件")


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.option("--password", required=True)
@click.option("--org-unit", "org_unit", required=True, help="组织代码，如 210211")
@click.option("--department", default=None, help="部门代码，如 econ-labour")
@click.option("--role", type=click.Choice(["official", "head", "admin"]), default="official")
@click.option("--display-name", default=None)
def create_user_command(
    username: str, password: str, org_unit: str, department: str | None, role: str, display_name: str | None
) -> None:
    """Create a user account."""
    try:
        with session_factory(current_app)() as session, session.begin():
            create_user(session, username, password, org_unit, department, role, display_name)
    except (UserAdminError, UnknownOrgUnit) as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(1)
    click.echo(f"已创建用户 {username}")


@click.command("deploy")
@with_appcontext
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def deploy_command(paths: tuple[Path, ...]) -> None:
    """Parse and check .bpmn files and store new process versions."""
    try:
        _deploy(list(paths))
    except DeploymentError as exc:
        click.echo(f"部署失败：{exc}", err=True)
        sys.exit(1)


@click.command("verify-audit")
@with_appcontext
def verify_audit_command() -> None:
    """Verify the audit log's hash chain."""
    with session_factory(current_app)() as session:
        report = verify_chain(session)
    if report.ok:
        click.echo(f"审计链完整：{report.checked} 条事件")
    else:
        click.echo(f"审计链在事件 {report.first_broken_id} 处断开：{report.reason}", err=True)
        sys.exit(1)


@click.command("run-timers")
@with_appcontext
def run_timers_command() -> None:
    """One scheduler pass (for cron or a separate scheduler process): due timers, due-soon and overdue reminders,
    escalation of overdue supervised matters, and the e-mail outbox when SMTP is configured."""
    fired = run_once(current_app)
    click.echo(f"已触发定时器 {fired} 个")


@click.command("load-plan")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_plan_command(path: Path) -> None:
    """Load or update a responsibility plan from its JSON data file (all or nothing)."""
    try:
        with session_factory(current_app)() as session, session.begin():
            plan = load_plan(session, read_plan_file(path))
            click.echo(f"已载入方案 {plan.document_number}：{len(plan.measures)} 项措施，{len(plan.items)} 个工作事项")
    except PlanDataError as exc:
        click.echo(f"方案未载入：{exc}", err=True)
        sys.exit(1)


def init_app(app: Flask) -> None:
    for command in (
        init_db_command,
        seed_demo_command,
        seed_demo_aid_command,
        seed_demo_studio_command,
        seed_demo_supervision_command,
        create_user_command,
        deploy_command,
        verify_audit_command,
        run_timers_command,
        create_token_command,
        revoke_tokens_command,
        import_aid_list_command,
        load_plan_command,
        *MAINTENANCE_COMMANDS,
    ):
        app.cli.add_command(command)
