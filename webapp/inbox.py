"""The official's start page: my tasks, my department's queue, cases I started.

A first, minimal view over the workflow layer's queries; the full inbox UI is the next issue.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import Select, func, select

from webapp.database import get_session
from workflows import queries
from workflows.models import TaskIndexEntry

bp = Blueprint("inbox", __name__)


@bp.route("/")
@login_required
def index() -> str:
    session = get_session()
    user = current_user.user

    def count(query: Select[TaskIndexEntry]) -> int:
        return session.scalar(select(func.count()).select_from(query.subquery())) or 0

    return render_template(
        "inbox.html",
        user=user,
        my_tasks=queries.my_tasks(session, user),
        queue=queries.department_queue(session, user),
        started=queries.started_by_me(session, user),
        my_count=count(queries.my_tasks_query(user)),
        queue_count=count(queries.department_queue_query(user)),
    )


@bp.route("/healthz")
def healthz() -> dict[str, str]:
    get_session().execute(select(1))
    return {"status": "ok"}
