"""Task pages (issue #3 §2): open a task (case on the left, form on the right), claim, release, complete."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

import forms
from forms.html_form import field_views, flat_values, leaf_fields, submission_from_post, unplaced_errors
from webapp.database import get_session
from workflows import queries
from workflows.db import utcnow
from workflows.errors import CaseChanged, TaskAlreadyClaimed, TaskAlreadyHandled
from workflows.inbox import due_light, near_due_limit
from workflows.models import ApprovalStep, TaskIndexEntry, TaskStatus, User
from workflows.operations import claim_task, complete_task, release_task, version_start_form
from workflows.routing import Action, first_task_to_do, load_routing, task_actions

bp = Blueprint("tasks", __name__)


def _defaults(form: forms.FormDefinition) -> dict[str, Any]:
    """Schema defaults only: case data carries earlier steps' decisions, which must not prefill this step."""
    return {name: prop["default"] for name, prop in form.fields.items() if isinstance(prop, dict) and "default" in prop}


def _start_details(entry: TaskIndexEntry, steps: list[ApprovalStep]) -> list[tuple[str, Any]]:
    """What the case was started with, labelled by the start form, without confidential fields (the reporter).

    A process with a start form writes its start step first, so it is the first approval step of the case.
    """
    form = version_start_form(entry.instance.process_version)
    if form is None or not steps:
        return []
    start_step = steps[0]
    titles = {view.name: view.title for view in leaf_fields(field_views(form)) if not view.confidential}
    return [
        (titles[name], value)
        for name, value in flat_values(start_step.data).items()
        if name in titles and value not in (None, "")
    ]


def _render(
    entry: TaskIndexEntry,
    user: User,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = get_session()
    routing = load_routing()
    form = forms.load_form(entry.form_name) if entry.form_name else None
    steps = list(queries.case_approval_steps(session, entry.instance_id))
    now = utcnow()
    near = near_due_limit(now, int(current_app.config["NEAR_DUE_WORKING_DAYS"]))
    holder = session.get(User, entry.claimed_by_id) if entry.claimed_by_id else None
    fields = field_views(form) if form else ()
    errors = errors or {}
    html = render_template(
        "task.html",
        entry=entry,
        case=entry.instance,
        process_title=routing.processes[entry.process_key].title if entry.process_key in routing.processes else "",
        actions=task_actions(user, entry, routing),
        Action=Action,
        form=form,
        fields=fields,
        values=values if values is not None else (flat_values(_defaults(form)) if form else {}),
        errors=errors,
        other_errors=unplaced_errors(fields, errors),
        steps=steps,
        start_details=_start_details(entry, steps),
        holder=holder,
        light=due_light(entry.due_at, now, near) if entry.status == TaskStatus.READY else None,
    )
    return html, status


@bp.route("/tasks/<task_id>")
@login_required
def show(task_id: str) -> tuple[str, int]:
    entry = queries.visible_task(get_session(), current_user.user, task_id, load_routing())
    return _render(entry, current_user.user)


@bp.route("/tasks/<task_id>", methods=["POST"])
@login_required
def complete(task_id: str) -> Response | tuple[str, int]:
    session = get_session()
    user = current_user.user
    routing = load_routing()
    entry = queries.visible_task(session, user, task_id, routing)
    form = forms.load_form(entry.form_name) if entry.form_name else None
    data = submission_from_post(form, request.form) if form else {}
    instance_id = entry.instance_id
    try:
        try:
            completion = complete_task(session, user, instance_id, task_id, data, routing=routing)
        except CaseChanged:
            # Another branch of the case (or a timer) committed first: once more on fresh state, like the API.
            session.rollback()
            completion = complete_task(session, user, instance_id, task_id, data, routing=routing)
        session.commit()
    except forms.FormValidationError as exc:
        session.rollback()
        entry = queries.visible_task(session, user, task_id, routing)
        flash(_("提交未成功，请按提示修改后重新提交"), "error")
        return _render(entry, user, values=flat_values(data), errors=exc.errors, status=422)
    except CaseChanged as exc:
        # Still racing: keep what the official typed and let them submit again.
        session.rollback()
        flash(str(exc), "error")
        return _render(
            queries.visible_task(session, user, task_id, routing), user, values=flat_values(data), status=409
        )
    except (TaskAlreadyHandled, TaskAlreadyClaimed) as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("cases.show", instance_id=instance_id))
    flash(_("已提交：%(step)s（%(case)s）", step=entry.title, case=entry.case_number), "success")
    following = first_task_to_do(user, completion.next_tasks, routing)
    if following is not None:
        return redirect(url_for("tasks.show", task_id=following.task_id))
    return redirect(url_for("inbox.index"))


@bp.route("/tasks/<task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: str) -> Response:
    session = get_session()
    user = current_user.user
    entry = queries.visible_task(session, user, task_id, load_routing())
    try:
        claim_task(session, user, entry.instance_id, task_id)
        session.commit()
    except (TaskAlreadyClaimed, TaskAlreadyHandled, CaseChanged) as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("inbox.index", view="queue"))
    flash(_("已认领：%(step)s（%(case)s）", step=entry.title, case=entry.case_number), "success")
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.route("/tasks/<task_id>/release", methods=["POST"])
@login_required
def release(task_id: str) -> Response:
    session = get_session()
    user = current_user.user
    entry = queries.visible_task(session, user, task_id, load_routing())
    try:
        release_task(session, user, entry.instance_id, task_id)
        session.commit()
    except (TaskAlreadyHandled, CaseChanged) as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("inbox.index"))
    flash(_("已退回部门待办：%(step)s（%(case)s）", step=entry.title, case=entry.case_number), "success")
    return redirect(url_for("inbox.index"))
