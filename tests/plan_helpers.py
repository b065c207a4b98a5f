"""Helpers for the plan dashboard, urging and ledger tests (issue #8): the demo plan, a frozen clock, a supervised
matter written as rows, and the web app on the test's own rolled-back connection."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import pypdf
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tests.workflow_helpers import user
from webapp import create_app
from webapp import database as webapp_database
from workflows.calendar import SHANGHAI
from workflows.inbox import near_due_limit
from workflows.models import (
    OrgUnit,
    Plan,
    PlanItem,
    ProcessInstance,
    ProcessVersion,
    SupervisionItem,
    SupervisionUnit,
    TaskIndexEntry,
    TaskStatus,
    User,
)
from workflows.plans.dashboard import ItemFigures, PlanDashboard, RowFigures, plan_dashboard
from workflows.plans.periods import Period, parse_period

PLAN_CODE = "dalian-2017-28"
DOCUMENT_NUMBER = "大工办发〔2017〕28号"
# A Wednesday in a year chinese_calendar covers; with the default two working days the yellow window ends Friday.
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=SHANGHAI)


def beijing(day: date, at: time = time(23, 59, 59)) -> datetime:
    return datetime.combine(day, at, tzinfo=SHANGHAI)


def demo_plan(session: Session) -> Plan:
    plan = session.scalar(select(Plan).where(Plan.code == PLAN_CODE))
    assert plan is not None
    return plan


def plan_item(session: Session, number: int) -> PlanItem:
    query = select(PlanItem).join(Plan, Plan.id == PlanItem.plan_id)
    item = session.scalar(query.where(Plan.code == PLAN_CODE, PlanItem.number == number))
    assert item is not None
    return item


def unit(session: Session, code: str) -> OrgUnit:
    found = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    assert found is not None, code
    return found


def dashboard(
    session: Session,
    period: str = "2026",
    now: datetime = NOW,
    *,
    overrides: dict[date, bool] | None = None,
    own_unit_id: int | None = None,
    row_targets: bool = False,
) -> PlanDashboard:
    """The demo plan's dashboard for `period`, as of `now`, with the default yellow window (two working days)."""
    return plan_dashboard(session, demo_plan(session), parse_period(period, now.date()), now=now,
                          near_limit=near_due_limit(now, overrides=overrides), own_unit_id=own_unit_id,
                          row_targets=row_targets)  # fmt: skip


def period(code: str) -> Period:
    return parse_period(code, NOW.date())


def item_figures(board: PlanDashboard, number: int) -> ItemFigures:
    found = next((figures for figures in board.items if figures.item.number == number), None)
    assert found is not None, number
    return found


def row_figures(board: PlanDashboard, number: int, code: str, department: str | None = None) -> RowFigures:
    figures = item_figures(board, number)
    found = next(
        (r for r in figures.rows if r.row.org_unit.code == code and r.row.department_code == department), None
    )
    assert found is not None, (number, code, department)
    return found


def supervised_matter(
    session: Session,
    item: PlanItem | None,
    *,
    unit_code: str = "210200",
    department: str | None = "livelihood",
    due_at: datetime | None = None,
    title: str = "加快困难职工帮扶资金发放",
) -> SupervisionItem:
    """A supervised matter as the supervision process records it (case, open task of the lead unit, matter rows),
    written directly: the dashboard reads tables, not the engine."""
    version = session.scalars(select(ProcessVersion).order_by(ProcessVersion.id)).first()
    assert version is not None
    starter = user(session, "bangong1")
    number = f"DB-2026-{uuid.uuid4().hex[:6]}"
    case = ProcessInstance(case_number=number, process_version_id=version.id, process_key="supervision",
                           title=title, started_by_id=starter.id, home_unit_id=starter.org_unit_id)  # fmt: skip
    session.add(case)
    session.flush()
    lead = unit(session, unit_code)
    session.add(
        TaskIndexEntry(instance_id=case.id, task_id=str(uuid.uuid4()), bpmn_id="handle", title="承办并反馈",
                       process_key="supervision", case_number=number, case_title=title, lane="主办单位",
                       org_unit_id=lead.id, department_code=department, status=TaskStatus.READY.value,
                       ready_at=NOW, due_at=due_at)
    )  # fmt: skip
    matter = SupervisionItem(instance_id=case.id, plan_item_id=item.id if item else None, title=title,
                             source="领导批示", assigning_unit_id=starter.org_unit_id,
                             assigning_department_code="office", deadline=date(2026, 12, 31),
                             status="in_progress")  # fmt: skip
    matter.units.append(SupervisionUnit(org_unit_id=lead.id, department_code=department, role="lead"))
    session.add(matter)
    session.flush()
    return matter


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    return "".join(page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages)


# --- The web app on the test's own connection --------------------------------------------------------------------


@dataclass
class Web:
    client: FlaskClient

    def as_user(self, account: User | str, session: Session | None = None) -> FlaskClient:
        if isinstance(account, str):
            assert session is not None
            account = user(session, account)
        with self.client.session_transaction() as cookie:
            cookie.clear()
            cookie["_user_id"], cookie["_fresh"] = str(account.id), True
        return self.client


def web_on(world: Session, seeded_engine: Engine, tmp_path: Path) -> Iterator[Web]:
    """The app with every request's session on `world`'s connection (as tests/test_studio_documents.py): requests
    see the test's flushed rows, and the test's rollback undoes whatever they wrote. A test module's `web` fixture
    yields from it."""
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False, "UPLOAD_DIR": str(tmp_path / "files"),
         "DATABASE_URL": seeded_engine.url.render_as_string(hide_password=False)}
    )  # fmt: skip
    engine, _factory = app.extensions[webapp_database.EXTENSION]
    factory = sessionmaker(bind=world.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)
    app.extensions[webapp_database.EXTENSION] = (engine, factory)
    yield Web(app.test_client())
    engine.dispose()
