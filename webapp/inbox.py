"""The official's lists: 待办, 部门待办, 已办, 我发起 (issue #3 §2) and 抄送我 (issue #4), with the counts shown
in the navigation. Rows of 待办 and 部门待办 say whose task it is under 委托 (代X), how often it was urged (催办),
and carry the checkboxes of 批量审批 (webapp.batch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Flask, current_app, g, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from webapp.database import get_session
from webapp.i18n import gettext as _
from workflows.acting import principals_of
from workflows.db import utcnow
from workflows.inbox import (
    InboxFilter,
    Light,
    Sort,
    View,
    copied_page,
    default_sort,
    due_light,
    inbox_counts,
    nav_count,
    near_due_limit,
    on_behalf_names,
    started_page,
    task_page,
)
from workflows.models import ProcessVersion, User
from workflows.reminders import urge_counts
from workflows.routing import load_routing
from workflows.working_days import calendar_overrides

bp = Blueprint("inbox", __name__)


def nav_views() -> list[tuple[str, str]]:
    return [
        (View.MINE, _("待办")),
        (View.QUEUE, _("部门待办")),
        (View.DONE, _("已办")),
        (View.STARTED, _("我发起")),
        (View.COPIED, _("抄送我")),
    ]


def url_with(**changes: Any) -> str:
    """This page's URL with some query arguments changed (pagination keeps the filters)."""
    args = {**(request.view_args or {}), **request.args.to_dict(), **changes}
    return url_for(request.endpoint or "inbox.index", **args)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["url_with"] = url_with
    app.add_template_filter(nav_count)

    @app.context_processor
    def navigation() -> dict[str, Any]:
        if not current_user.is_authenticated:
            return {}
        cap = int(current_app.config["NAV_HISTORY_CAP"])
        return {"nav_counts": request_nav_counts(), "nav_cap": cap, "nav_views": nav_views()}


def request_nav_counts(principals: Sequence[User] | None = None) -> dict[View, int]:
    """The navigation's counts, counted once per request (the inbox's unfiltered lists take their totals from them,
    issue #9: a city department's queue is ~20,000 open steps, 5 ms to count on PostgreSQL)."""
    counts: dict[View, int] | None = g.get("nav_counts")
    if counts is None:
        cap = int(current_app.config["NAV_HISTORY_CAP"])
        counts = g.nav_counts = inbox_counts(get_session(), current_user.user, history_cap=cap, principals=principals)
    return counts


def _enum_arg(name: str, kind: type[Any], default: Any) -> Any:
    try:
        return kind(request.args.get(name, ""))
    except ValueError:
        return default


# Beyond any real page number; keeps OFFSET within what the database accepts.
MAX_PAGE_ARG = 1_000_000


def _int_arg(name: str, default: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        return default
    return value if value <= MAX_PAGE_ARG else default


def request_filter(view: View) -> InboxFilter:
    """The list filter from the query string; unknown values fall back to the view's defaults, not an error."""
    return InboxFilter(
        process=request.args.get("process") or None,
        light=_enum_arg("light", Light, None),
        search=(request.args.get("q") or "").strip() or None,
        sort=_enum_arg("sort", Sort, default_sort(view)),
        unread_only=view == View.COPIED and request.args.get("unread") == "1",
    )


def process_choices() -> list[tuple[str, str]]:
    keys = get_session().scalars(select(ProcessVersion.process_key).distinct().order_by(ProcessVersion.process_key))
    processes = load_routing().processes
    return [(key, processes[key].title if key in processes else key) for key in keys]


@bp.route("/")
@login_required
def index() -> str:
    session = get_session()
    user = current_user.user
    view = _enum_arg("view", View, View.MINE)
    wanted = request_filter(view)
    page = _int_arg("page", 1)
    now = utcnow()
    near = near_due_limit(now, int(current_app.config["NEAR_DUE_WORKING_DAYS"]), calendar_overrides(session))
    context: dict[str, Any] = {}
    if view == View.STARTED:
        context["cases"] = started_page(session, user, wanted, page=page)
        listing = context["cases"]
    elif view == View.COPIED:
        context["copies"] = copied_page(session, user, wanted, page=page)
        listing = context["copies"]
    else:
        principals = principals_of(session, user)
        # An unfiltered 待办 or 部门待办 lists what the navigation counts (tests/test_queries.py holds them equal).
        unfiltered = view in (View.MINE, View.QUEUE) and wanted == InboxFilter(sort=wanted.sort)
        total = request_nav_counts(principals)[view] if unfiltered else None
        tasks = task_page(session, user, view, wanted, now=now, near_limit=near, page=page, principals=principals,
                          total=total)  # fmt: skip
        context["tasks"] = listing = tasks
        if view in (View.MINE, View.QUEUE):
            context["on_behalf"] = on_behalf_names(user, principals, tasks.items)
            context["urged"] = urge_counts(session, (task.task_id for task in tasks.items))
    return render_template(
        "inbox.html",
        active_view=view,
        view_title=dict(nav_views())[view],
        listing=listing,
        wanted=wanted,
        processes=process_choices(),
        light_of=lambda due_at: due_light(due_at, now, near),
        **context,
    )


@bp.route("/healthz")
def healthz() -> dict[str, str]:
    get_session().execute(select(1))
    return {"status": "ok"}
