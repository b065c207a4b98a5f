"""督办 pages (issue 8 §Supervision items; bpm-anchors §3): the ledger (督办台账), registering a matter (立项) and
one matter with its units, reports and open tasks.

- `/supervision/`: the matters the user may see (workflows.supervision.ledger, which applies routing.can_view_case),
  with lights, feedback counts and days left, filterable by status, light and plan item; one page at a time
  (`?page=`, `?per_page=`, clamped like the inbox's), the filters kept across pages (issue 9 §2).
- `/supervision/new`: the 立项 form with real choices for the lead unit, co-units and plan item; it calls the
  ordinary start operation with the plain unit references the JSON start form takes ("210200:finance", "210211").
- `/supervision/<case_number>`: the matter, for whoever may open its case (404 otherwise). The steps themselves are
  the generic task pages; `supervision_task_panel` shows the matter beside a supervision task's form.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import Row, select
from sqlalchemy.orm import Session, selectinload
from werkzeug.wrappers import Response

import forms
from webapp.database import get_session
from webapp.inbox import MAX_PAGE_ARG
from workflows.acting import authority_on
from workflows.calendar import SHANGHAI
from workflows.db import utcnow
from workflows.engine.deployment import latest_version
from workflows.errors import NotFound, PermissionDenied
from workflows.inbox import Light, near_due_limit
from workflows.models import Plan, PlanItem, Role, TaskIndexEntry, TaskStatus, User
from workflows.notifications import unit_label
from workflows.operations import start_case
from workflows.queries import DEFAULT_PAGE_SIZE, case_by_number, case_tasks
from workflows.routing import Action, can_start, load_routing
from workflows.supervision.detail import matter_detail
from workflows.supervision.ledger import LedgerFilter, ledger_page, matter_light
from workflows.supervision.records import FINISHED, STATUS_LABELS, item_of
from workflows.supervision.units import registering_problem, unit_choices
from workflows.working_days import calendar_overrides

PROCESS = "supervision"
SOURCES = ("领导批示", "会议议定", "上级交办", "责任分工", "其他")
TEXT_FIELDS = ("title", "source", "content", "deadline", "lead_unit", "plan_item_id")

bp = Blueprint("supervision", __name__)


@bp.app_template_global()
def may_see_supervision(user: User) -> bool:
    """Officials, heads and administrators have a ledger (possibly empty); the service account has none."""
    return bool(user.active) and user.role != Role.SERVICE.value


@bp.app_template_global()
def supervision_task_panel(entry: TaskIndexEntry) -> dict[str, Any] | None:
    """The matter beside a supervision task's form: what was asked, of whom, by when, and every report so far."""
    if entry.process_key != PROCESS:
        return None
    session = get_session()
    item = item_of(session, entry.instance)
    now = utcnow()
    return {"detail": matter_detail(session, item), "light": matter_light(item, now, _near_limit(session, now))}


def _near_limit(session: Session, now: datetime) -> datetime:
    return near_due_limit(now, int(current_app.config["NEAR_DUE_WORKING_DAYS"]), calendar_overrides(session))


def _may_register(session: Session, user: User) -> bool:
    info = load_routing().processes.get(PROCESS)
    return (
        info is not None
        and can_start(user, info)
        and latest_version(session, PROCESS) is not None
        and registering_problem(session, user) is None
    )


def _plan_items(session: Session, unit_id: int | None = None) -> list[PlanItem]:
    """Work items to link or filter by: of the plans `unit_id` issued, or of every plan."""
    query = select(PlanItem).join(Plan, Plan.id == PlanItem.plan_id).options(selectinload(PlanItem.plan))
    if unit_id is not None:
        query = query.where(Plan.issuing_unit_id == unit_id)
    return list(session.scalars(query.order_by(Plan.issued_on.desc(), Plan.id, PlanItem.number)))


def _plan_item_filter_choices(session: Session) -> Sequence[Row[int, int, str]]:
    """The ledger's 关联工作事项 filter: every plan's items as (id, number, heading) in `_plan_items`' order, without
    loading the items' texts and plans (issue #9: the ledger page is timed at volume)."""
    query = select(PlanItem.id, PlanItem.number, PlanItem.heading).join(Plan, Plan.id == PlanItem.plan_id)
    return session.execute(query.order_by(Plan.issued_on.desc(), Plan.id, PlanItem.number)).all()


def _ledger_filter() -> LedgerFilter:
    status = request.args.get("status", "").strip()
    light = request.args.get("light", "").strip()
    plan_item = request.args.get("plan_item", "").strip()
    return LedgerFilter(
        status=status if status in STATUS_LABELS else None,
        light=Light(light) if light in {member.value for member in Light} else None,
        plan_item_id=int(plan_item) if plan_item.isdecimal() and len(plan_item) < 10 else None,
    )


def _number_arg(name: str, default: int) -> int:
    """A page number or size from the query string; anything but a plain number falls back to `default` (the
    ledger clamps what is out of range, as the inbox does), so a mangled link shows a page, not an error."""
    value = request.args.get(name, "").strip()
    if not value.lstrip("-").isdecimal():
        return default
    number = int(value)
    return number if abs(number) <= MAX_PAGE_ARG else default


@bp.get("/supervision/")
@login_required
def index() -> str:
    session, user = get_session(), current_user.user
    wanted = _ledger_filter()
    now = utcnow()
    listing = ledger_page(
        session,
        user,
        load_routing(),
        wanted,
        now=now,
        near_limit=_near_limit(session, now),
        page=_number_arg("page", 1),
        per_page=_number_arg("per_page", DEFAULT_PAGE_SIZE),
    )
    return render_template(
        "supervision/index.html",
        listing=listing,
        wanted=wanted,
        statuses=STATUS_LABELS,
        plan_items=_plan_item_filter_choices(session),
        may_register=_may_register(session, user),
    )


def _new_form(session: Session, user: User, values: dict[str, Any], errors: dict[str, str]) -> str:
    return render_template(
        "supervision/new.html",
        values=values,
        errors=errors,
        other_errors=[message for name, message in errors.items() if name not in {*TEXT_FIELDS, "co_units"}],
        sources=SOURCES,
        choices=unit_choices(session, user.org_unit),
        plan_items=_plan_items(session, user.org_unit_id),
        form=forms.load_form("supervision-start-schema.json"),
    )


@bp.route("/supervision/new", methods=["GET", "POST"])
@login_required
def new() -> str | Response | tuple[str, int]:
    session, user = get_session(), current_user.user
    info = load_routing().processes.get(PROCESS)
    if info is None or latest_version(session, PROCESS) is None or not can_start(user, info):
        raise NotFound(_("没有可发起的流程"))
    problem = registering_problem(session, user)
    if problem is not None:
        raise PermissionDenied(problem)
    if request.method == "GET":
        return _new_form(session, user, {"co_units": []}, {})
    values: dict[str, Any] = {name: request.form.get(name, "") for name in TEXT_FIELDS}
    values["co_units"] = [reference for reference in request.form.getlist("co_units") if reference.strip()]
    data = {name: value for name, value in values.items() if name != "co_units" and value.strip()}
    # The JSON start form takes the co-units as one text of references; the page posts a multiple choice.
    data["co_units"] = " ".join(values["co_units"])
    try:
        instance = start_case(session, user, PROCESS, data)
        session.commit()
    except forms.FormValidationError as exc:
        session.rollback()
        return _new_form(session, user, values, exc.errors), 422
    flash(_("已立项：%(case)s", case=instance.case_number), "success")
    return redirect(url_for("supervision.show", case_number=instance.case_number))


@bp.get("/supervision/<case_number>")
@login_required
def show(case_number: str) -> str:
    session, user = get_session(), current_user.user
    routing = load_routing()
    instance = case_by_number(session, user, case_number, routing)
    if instance.process_key != PROCESS:
        raise NotFound(_("督办事项不存在"))
    item = item_of(session, instance)
    now = utcnow()
    open_tasks = []
    for entry in case_tasks(session, instance.id):
        if entry.status != TaskStatus.READY:
            continue
        actions = authority_on(session, user, entry, routing).actions
        open_tasks.append((entry, unit_label(entry.org_unit, entry.department_code), Action.VIEW in actions))
    days_left = None
    if item.deadline is not None and item.status not in FINISHED:
        days_left = (item.deadline - now.astimezone(SHANGHAI).date()).days
    return render_template(
        "supervision/show.html",
        case=instance,
        detail=matter_detail(session, item),
        light=matter_light(item, now, _near_limit(session, now)),
        days_left=days_left,
        open_tasks=open_tasks,
    )
