"""责任分工 pages (issue #8 "Dashboard for department heads"): the plan's items with their lights, figures and target
progress for a period, an item with its responsible units, a unit's cases and tasks, 催办 of a unit, and the ledger.

- `/plans/`: the dashboard; `?period=` (2026, 2026-Q4, 2026-11; this year by default), `?scope=mine|all` (我的部门:
  the items the user's department or unit is responsible for), `?plan=<code>` where a user sees several plans.
- `/plans/items/<id>`: the item as the document prints it, its responsible rows with figures, lights and urges, the
  processes that carry it out (尚未上线 where none is deployed), its supervised matters, and a 催办 form per row for
  those who may urge (workflows.plans.urging).
- `/plans/items/<id>/units/<unit id>?department=`: one row's cases and open tasks; a task's holder is urged with the
  case page's own 催办 (workflows.reminders.urge_task through task_ops.urge).
- `/plans/ledger.xlsx`, `/plans/ledger.pdf`: the ledger (webapp.plans_documents).

Who sees what: workflows.plans.responsibility.plan_access. The issuing federation's users see every item and row; a
union directly below it sees the items naming it, and its own row only; the province above reads everything. Everyone
else gets 403 on the dashboard and 404 for an item or row they may not see, as for any object of another unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

import forms
from webapp import plans_documents
from webapp.database import get_session
from webapp.edge import form_id
from webapp.i18n import gettext as _
from workflows.calendar import beijing_today
from workflows.db import utcnow
from workflows.errors import NotFound, OperationRefused, PermissionDenied
from workflows.inbox import near_due_limit
from workflows.models import Plan, PlanItem, Role, TaskIndexEntry, User
from workflows.plans.dashboard import LIGHT_LABELS, plan_dashboard
from workflows.plans.drilldown import RowTask, row_cases, row_tasks, supervised_matters, urge_history
from workflows.plans.ledger import Ledger, plan_ledger, quantity
from workflows.plans.periods import Period, PeriodError, parse_period
from workflows.plans.responsibility import (
    ROLE_LABELS,
    PlanAccess,
    ResponsibleRow,
    Standing,
    find_row,
    may_see_plans,
    my_item_ids,
    plan_access,
    plans_for,
    responsible_rows,
    visible_item_ids,
)
from workflows.plans.structure import PlanStructure, plan_structure
from workflows.plans.urging import MAX_MESSAGE_LENGTH, may_urge, urge_targets, urge_unit, urged_unit_label
from workflows.routing import Action, can_view_case, load_routing, task_actions
from workflows.working_days import calendar_overrides

bp = Blueprint("plans", __name__, url_prefix="/plans")
bp.add_app_template_global(may_see_plans, "may_see_plans")
bp.add_app_template_filter(quantity, "plan_quantity")


class BadRequestArgument(Exception):
    """A query argument the page cannot use (an unknown period): 400 with the Chinese reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@bp.errorhandler(BadRequestArgument)
def _bad_argument(exc: BadRequestArgument) -> tuple[str, int]:
    return render_template("error.html", title=_("请求无效"), message=exc.message, status=400), 400


@bp.app_template_filter("plan_light")
def plan_light(light: str) -> str:
    """红灯 / 黄灯 / 绿灯 (only the one asked for is translated: the filter runs twice per cell of the dashboard)."""
    if light == "red":
        return str(_("红灯"))
    if light == "yellow":
        return str(_("黄灯"))
    if light == "green":
        return str(_("绿灯"))
    return LIGHT_LABELS.get(light, light)


@bp.app_template_filter("plan_role")
def plan_role(role: str) -> str:
    labels = {"lead": _("牵头"), "co": _("配合")}
    return labels.get(role, ROLE_LABELS.get(role, role))


# --- What every page shares ------------------------------------------------------------------------------------


def request_period() -> Period:
    try:
        return parse_period(request.args.get("period"), beijing_today())
    except PeriodError as exc:
        raise BadRequestArgument(str(exc)) from None


def light_window(session: Session) -> tuple[datetime, datetime]:
    """Now, and the end of the yellow window (NEAR_DUE_WORKING_DAYS working days, the holiday table included)."""
    now = utcnow()
    return now, near_due_limit(now, int(current_app.config["NEAR_DUE_WORKING_DAYS"]), calendar_overrides(session))


def request_plans(session: Session) -> list[Plan]:
    """The plans the user may see, read once per request (the page picks one and lists them all)."""
    if "plans" not in g:
        g.plans = plans_for(session, current_user.user)
    plans: list[Plan] = g.plans
    return plans


def request_access(session: Session) -> PlanAccess:
    """The plan the page is about (`?plan=<code>`, else the latest the user sees) and how the user sees it."""
    user: User = current_user.user
    code = request.args.get("plan", "").strip()
    if code:
        plan = session.scalar(select(Plan).where(Plan.code == code))
        access = plan_access(user, plan) if plan is not None else None
        if access is None:
            raise NotFound(_("没有该责任分工方案"))
        return access
    plans = request_plans(session)
    if not plans:
        raise PermissionDenied(_("只有发文单位、其下属区县（产业）工会和省总工会的用户可以查看责任分工方案"))
    access = plan_access(user, plans[0])
    assert access is not None
    return access


def item_access(session: Session, plan_item_id: int) -> tuple[PlanAccess, PlanItem, list[ResponsibleRow]]:
    """The item, if the user may see it (404 otherwise), with its responsible rows as the user sees them."""
    item = session.get(PlanItem, plan_item_id)
    access = plan_access(current_user.user, item.plan) if item is not None else None
    if item is None or access is None:
        raise NotFound(_("没有该事项"))
    rows = access.visible_rows(responsible_rows(session, item.plan, [item])[item.id])
    if not rows:
        raise NotFound(_("没有该事项"))
    return access, item, rows


@dataclass(frozen=True)
class PeriodChoice:
    code: str
    label: str


def period_choices(today: date) -> list[PeriodChoice]:
    """The presets of the period picker: this year and last, this year's quarters so far, this month and last."""
    year, month = today.year, today.month
    codes = [str(year)] + [f"{year}-Q{q}" for q in range((month - 1) // 3 + 1, 0, -1)]
    last_month = (year, month - 1) if month > 1 else (year - 1, 12)
    codes += [f"{year}-{month:02d}", f"{last_month[0]}-{last_month[1]:02d}", str(year - 1)]
    return [PeriodChoice(code, parse_period(code, today).label) for code in codes]


def request_scope(access: PlanAccess, mine: set[int]) -> str:
    """`?scope=mine|all`; by default 我的部门 where the user's department has items (a district union's page is its
    own already)."""
    scope = request.args.get("scope", "")
    if access.own_unit_id is not None or not mine:
        return "all"
    return scope if scope in ("mine", "all") else "mine"


@dataclass(frozen=True)
class ShownItems:
    """What a dashboard or ledger request shows: the plan as the user sees it, the period, 我的部门 or 全部事项."""

    access: PlanAccess
    period: Period
    mine: set[int]
    scope: str
    item_ids: set[int]
    structure: PlanStructure  # the plan's items, rows and units (cached per process): the dashboard reuses them


def request_shown_items(session: Session) -> ShownItems:
    """The items of the request's plan, period and scope that the user may see (dashboard and ledger alike)."""
    access = request_access(session)
    period = request_period()
    structure = plan_structure(session, access.plan)
    visible = visible_item_ids(access, structure.rows)
    mine = my_item_ids(current_user.user, structure.rows) & visible
    scope = request_scope(access, mine)
    return ShownItems(access, period, mine, scope, mine if scope == "mine" else visible, structure)


def _common(access: PlanAccess, period: Period) -> dict[str, Any]:
    return {
        "plan": access.plan,
        "access": access,
        "period": period,
        "periods": period_choices(beijing_today()),
        "near_days": int(current_app.config["NEAR_DUE_WORKING_DAYS"]),
        "plan_arg": {"plan": access.plan.code} if request.args.get("plan") else {},
    }


# --- 仪表盘 ----------------------------------------------------------------------------------------------------------


@bp.get("/")
@login_required
def index() -> tuple[str, int]:
    session = get_session()
    shown = request_shown_items(session)
    access, period = shown.access, shown.period
    now, near = light_window(session)
    dashboard = plan_dashboard(session, access.plan, period, now=now, near_limit=near, item_ids=shown.item_ids,
                               own_unit_id=access.own_unit_id, structure=shown.structure)  # fmt: skip
    html = render_template(
        "plans/index.html",
        dashboard=dashboard,
        scope=shown.scope,
        has_mine=bool(shown.mine) and access.own_unit_id is None,
        plans=request_plans(session),
        **_common(access, period),
    )
    return html, 200


# --- 事项 ----------------------------------------------------------------------------------------------------------


def render_item(
    session: Session, plan_item_id: int, *, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None, status: int = 200,
) -> tuple[str, int]:  # fmt: skip
    access, item, rows = item_access(session, plan_item_id)
    period = request_period()
    user = current_user.user
    now, near = light_window(session)
    dashboard = plan_dashboard(session, item.plan, period, now=now, near_limit=near, item_ids={item.id},
                               own_unit_id=access.own_unit_id, row_targets=True)  # fmt: skip
    figures = dashboard.items[0]
    urging = may_urge(user, item.plan, item) and access.own_unit_id is None
    html = render_template(
        "plans/item.html",
        item=item,
        figures=figures,
        urging=urging,
        urgeable={row.key for row in urge_targets(user, rows)} if urging else set(),
        history=urge_history(session, item, access.own_unit_id),
        matters=supervised_matters(
            session, item.plan, now=now, near_limit=near, item_id=item.id, own_unit_id=access.own_unit_id
        ),
        errors=errors or {},
        values=values or {},
        max_message=MAX_MESSAGE_LENGTH,
        urge_unit_label=urged_unit_label,
        **_common(access, period),
    )
    return html, status


@bp.get("/items/<int:plan_item_id>")
@login_required
def item(plan_item_id: int) -> tuple[str, int]:
    return render_item(get_session(), plan_item_id)


@bp.post("/items/<int:plan_item_id>/urge")
@login_required
def urge(plan_item_id: int) -> Response | tuple[str, int]:
    session, user = get_session(), current_user.user
    _access, item, _rows = item_access(session, plan_item_id)
    values = {name: (request.form.get(name) or "").strip() for name in ("org_unit_id", "department_code", "message")}
    try:
        result = urge_unit(session, user, item, form_id(values["org_unit_id"]), values["department_code"] or None,
                           values["message"])  # fmt: skip
        session.commit()
    except forms.FormValidationError as exc:
        session.rollback()
        flash(_("催办未成功：%(reason)s", reason=str(exc)), "error")
        return render_item(session, plan_item_id, errors=exc.errors, values=values, status=422)
    except OperationRefused as exc:
        session.rollback()
        flash(str(exc), "error")
        return render_item(session, plan_item_id, values=values, status=409)
    except BaseException:
        session.rollback()
        raise
    if result.notified:
        flash(_("已催办%(unit)s，%(count)d 人收到通知", unit=result.row.label, count=result.notified), "success")
    else:
        flash(_("已催办%(unit)s并记录在案；该单位暂无可接收通知的账号", unit=result.row.label), "success")
    return redirect(url_for("plans.item", plan_item_id=item.id, period=request.args.get("period") or None))


# --- 责任单位下钻 ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskLine:
    task: RowTask
    can_urge: bool  # the case page's 催办 would accept it (the user sees the case and does not hold the task)


def _urgeable_tasks(session: Session, access: PlanAccess, tasks: list[RowTask]) -> list[TaskLine]:
    """Which listed tasks the user may urge through task_ops.urge: officials and heads who see the case (one query for
    all the cases' tasks) and who could not complete the task themselves. The province reads the plan only."""
    user = access.user
    if not tasks or user.role not in (Role.OFFICIAL, Role.HEAD) or access.standing == Standing.PROVINCE:
        return [TaskLine(task, False) for task in tasks]
    routing = load_routing()
    ids = {task.case.id for task in tasks}
    by_case: dict[int, list[TaskIndexEntry]] = {}
    for entry in session.scalars(select(TaskIndexEntry).where(TaskIndexEntry.instance_id.in_(ids))):
        by_case.setdefault(entry.instance_id, []).append(entry)
    visible = {
        case.id
        for case in {task.case.id: task.case for task in tasks}.values()
        if can_view_case(user, case.home_unit, case.process_key, case.started_by_id, by_case.get(case.id, []), routing)
    }
    return [
        TaskLine(task, task.case.id in visible and Action.COMPLETE not in task_actions(user, task.entry, routing))
        for task in tasks
    ]


@bp.get("/items/<int:plan_item_id>/units/<int:org_unit_id>")
@login_required
def unit(plan_item_id: int, org_unit_id: int) -> tuple[str, int]:
    session = get_session()
    access, item, rows = item_access(session, plan_item_id)
    row = find_row(rows, org_unit_id, request.args.get("department") or None)
    if row is None:
        raise NotFound(_("该单位不是本事项的责任单位"))
    period = request_period()
    now, near = light_window(session)
    # Each row's own progress comes with the figures, from the metrics the item's targets have read already.
    dashboard = plan_dashboard(session, item.plan, period, now=now, near_limit=near, item_ids={item.id},
                               own_unit_id=access.own_unit_id, row_targets=True)  # fmt: skip
    figures = dashboard.items[0].row(row.org_unit.id, row.department_code)
    tasks, task_total = row_tasks(session, item, row, now=now, near_limit=near)
    cases, case_total = row_cases(session, item, row, period)
    html = render_template(
        "plans/unit.html",
        item=item,
        row=row,
        figures=figures,
        tasks=_urgeable_tasks(session, access, tasks),
        task_total=task_total,
        cases=cases,
        case_total=case_total,
        **_common(access, period),
    )
    return html, 200


# --- 台账 ---------------------------------------------------------------------------------------------------------


def request_ledger() -> Ledger:
    """The ledger of what the user's dashboard shows for the period and scope."""
    session = get_session()
    shown = request_shown_items(session)
    now, near = light_window(session)
    return plan_ledger(session, shown.access.plan, shown.period, now=now, near_limit=near, item_ids=shown.item_ids,
                       own_unit_id=shown.access.own_unit_id)  # fmt: skip


@bp.get("/ledger.xlsx")
@login_required
def ledger_xlsx() -> Response:
    return plans_documents.xlsx_download(request_ledger())


@bp.get("/ledger.pdf")
@login_required
def ledger_pdf() -> Response:
    return plans_documents.pdf_download(request_ledger())
