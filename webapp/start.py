"""Start a case (issue #3 §2): the processes this user's unit and department may start, and their start forms."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

import forms
from forms.html_form import field_views, flat_values, submission_from_post, unplaced_errors
from webapp.database import get_session
from workflows.engine.deployment import latest_version
from workflows.errors import NotFound
from workflows.operations import start_case, version_start_form
from workflows.queries import case_tasks
from workflows.routing import ProcessInfo, can_start, first_task_to_do, load_routing

bp = Blueprint("start", __name__)


def _startable(key: str) -> ProcessInfo:
    """The process, if deployed and this user may start it; 404 otherwise (nothing to start here)."""
    info = load_routing().processes.get(key)
    if info is None or latest_version(get_session(), key) is None or not can_start(current_user.user, info):
        raise NotFound(_("没有可发起的流程"))
    return info


@bp.route("/start")
@login_required
def index() -> str:
    session = get_session()
    processes = [
        (key, info)
        for key, info in sorted(load_routing().processes.items())
        if can_start(current_user.user, info) and latest_version(session, key) is not None
    ]
    return render_template("start.html", processes=processes, active_view="start")


@bp.route("/start/<key>", methods=["GET", "POST"])
@login_required
def form(key: str) -> str | Response | tuple[str, int]:
    info = _startable(key)
    session = get_session()
    version = latest_version(session, key)
    assert version is not None
    start_form = version_start_form(version)
    fields = field_views(start_form) if start_form else ()
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        data = submission_from_post(start_form, request.form) if start_form else {}
        try:
            instance = start_case(session, current_user.user, key, data)
            session.commit()
        except forms.FormValidationError as exc:
            session.rollback()
            values, errors = flat_values(data), exc.errors
        else:
            flash(_("已发起：%(case)s", case=instance.case_number), "success")
            first = first_task_to_do(current_user.user, case_tasks(session, instance.id), load_routing())
            if first is not None:
                return redirect(url_for("tasks.show", task_id=first.task_id))
            return redirect(url_for("cases.show", instance_id=instance.id))
    html = render_template(
        "start_form.html",
        key=key,
        info=info,
        form=start_form,
        fields=fields,
        values=values,
        errors=errors,
        other_errors=unplaced_errors(fields, errors),
        active_view="start",
    )
    return html, 422 if errors else 200
