"""批量审批 (issue #4): tasks ticked in 待办 or 部门待办, one form filled in once, each case completed on its own.

POST /batch (the ticked task ids) shows the step's form once with the cases it will apply to; nothing changes yet.
POST /batch/complete validates the form once (an error that concerns every task, such as a missing opinion, comes
back as the form with 422, not as every task skipped), then `workflows.batch.batch_complete` completes each task
and reports the ones it could not complete with the reason; the result page lists both.

Refusals of the selection as a whole (nothing ticked, tasks of different steps) go back to the inbox list as a
flash message (PRG), whichever of the two posts they come from.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

import forms
from forms.html_form import field_views, flat_values, submission_from_post, unplaced_errors
from webapp.database import get_session
from workflows.acting import authority_on, principals_of
from workflows.batch import MAX_BATCH, BatchResult, batch_complete, batch_step
from workflows.comments import phrases_for
from workflows.errors import OperationRefused
from workflows.inbox import View, on_behalf_names
from workflows.models import ApprovalStep, ProcessInstance, TaskIndexEntry, TaskStatus, User
from workflows.routing import Action, RoutingTable, load_routing

bp = Blueprint("batch", __name__, url_prefix="/batch")

RESULT_KEY = "batch_result"
# The result travels to the result page in the signed session cookie; browsers drop cookies over ~4 KB (and
# the sign-in with them), so a larger result is shown at once instead of after a redirect.
MAX_STORED_RESULT = 2500
MAX_REASON_LENGTH = 300
OPINION_FIELD = "opinion"


def _back_view() -> str:
    view = request.form.get("view", "")
    return view if view in (View.MINE, View.QUEUE) else View.MINE


def _refuse(message: str) -> Response:
    flash(message, "error")
    return redirect(url_for("inbox.index", view=_back_view()), 303)


def _selected() -> list[str]:
    ids = list(dict.fromkeys(value for value in request.form.getlist("task_id") if value))
    if not ids:
        raise OperationRefused(_("请至少选择一项任务"))
    if len(ids) > MAX_BATCH:
        raise OperationRefused(_("一次最多批量审批 %(count)s 项", count=MAX_BATCH))
    return ids


def _visible(db: Session, user: User, ids: list[str], routing: RoutingTable) -> list[TaskIndexEntry]:
    """The selected tasks this user may see (in the order ticked); the others are reported as skipped later."""
    found = {e.task_id: e for e in db.scalars(select(TaskIndexEntry).where(TaskIndexEntry.task_id.in_(ids)))}
    return [
        found[task_id]
        for task_id in ids
        if task_id in found and Action.VIEW in authority_on(db, user, found[task_id], routing).actions
    ]


def _step_form(entries: list[TaskIndexEntry]) -> forms.FormDefinition | None:
    if not entries:
        raise OperationRefused(_("所选任务不存在或无权查看"))
    form_name = batch_step(entries)[2]  # OperationRefused when they are of different steps
    return forms.load_form(form_name) if form_name else None


def _render_form(
    ids: list[str],
    entries: list[TaskIndexEntry],
    form: forms.FormDefinition | None,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    db = get_session()
    user = current_user.user
    routing = load_routing()
    fields = field_views(form) if form else ()
    errors = errors or {}
    if values is None:
        # Schema defaults only, as on the single task page: case data must not prefill this step.
        props = form.fields.items() if form else ()
        values = flat_values({n: p["default"] for n, p in props if isinstance(p, dict) and "default" in p})
    first = entries[0]
    html = render_template(
        "batch.html",
        ids=ids,
        entries=entries,
        hidden_count=len(ids) - len(entries),
        step_title=first.title,
        process_title=routing.processes[first.process_key].title if first.process_key in routing.processes else "",
        form=form,
        fields=fields,
        values=values,
        errors=errors,
        other_errors=unplaced_errors(fields, errors),
        on_behalf=on_behalf_names(user, principals_of(db, user), entries),
        phrases=phrases_for(db, user) if any(f.name == OPINION_FIELD for f in fields) else [],
        view=_back_view(),
    )
    return html, status


@bp.route("", methods=["POST"])
@login_required
def select_tasks() -> Response | tuple[str, int]:
    """The form of the ticked tasks' step, once; a read, so it changes nothing."""
    db = get_session()
    try:
        ids = _selected()
        entries = _visible(db, current_user.user, ids, load_routing())
        form = _step_form(entries)
    except OperationRefused as exc:
        return _refuse(str(exc))
    return _render_form(ids, entries, form)


@bp.route("/complete", methods=["POST"])
@login_required
def complete() -> Response | tuple[str, int]:
    db = get_session()
    user = current_user.user
    routing = load_routing()
    try:
        ids = _selected()
        entries = _visible(db, user, ids, routing)
        form = _step_form(entries)
    except OperationRefused as exc:
        return _refuse(str(exc))
    data = submission_from_post(form, request.form) if form else {}
    if form is not None:
        try:
            forms.validate_submission(form, data)
        except forms.FormValidationError as exc:
            flash(_("提交未成功，请按提示修改后重新提交"), "error")
            return _render_form(ids, entries, form, values=flat_values(data), errors=exc.errors, status=422)
    try:
        # Every selected id goes in, the invisible ones too, so they come back as skipped with their reason.
        result = batch_complete(db, user, ids, data, routing=routing)
        db.commit()
    except OperationRefused as exc:
        db.rollback()
        return _refuse(str(exc))
    payload = _payload(result)
    if len(json.dumps(payload)) > MAX_STORED_RESULT:
        return _render_result(payload), 200
    session[RESULT_KEY] = payload
    return redirect(url_for("batch.result"), 303)


def _payload(result: BatchResult) -> dict[str, Any]:
    return {
        "view": _back_view(),
        "steps": [completion.approval_step.id for completion in result.completed],
        "skipped": [[s.task_id, s.case_number, s.reason[:MAX_REASON_LENGTH]] for s in result.skipped],
    }


def _render_result(payload: dict[str, Any]) -> str:
    """What was completed, read back from the approval steps the user wrote, and what was skipped and why."""
    db = get_session()
    user = current_user.user
    step_ids = [int(step_id) for step_id in payload.get("steps", [])]
    query = (
        select(ApprovalStep, ProcessInstance)
        .join(ProcessInstance, ProcessInstance.id == ApprovalStep.instance_id)
        .where(ApprovalStep.id.in_(step_ids), ApprovalStep.actor_id == user.id)
        .order_by(ApprovalStep.id)
    )
    completed = [(step, case) for step, case in db.execute(query)] if step_ids else []
    # A step with signers added after it is decided but still open: it waits for them (加签).
    waiting = set(
        db.scalars(
            select(TaskIndexEntry.task_id).where(
                TaskIndexEntry.task_id.in_([step.task_id for step, _case in completed]),
                TaskIndexEntry.status == TaskStatus.READY.value,
            )
        )
    )
    skipped = [{"task_id": t, "case_number": number, "reason": reason} for t, number, reason in payload["skipped"]]
    return render_template(
        "batch_result.html", completed=completed, waiting=waiting, skipped=skipped, view=payload.get("view", "mine")
    )


@bp.route("/result")
@login_required
def result() -> Response | str:
    payload = session.get(RESULT_KEY)
    if not isinstance(payload, dict):
        return redirect(url_for("inbox.index"), 303)
    return _render_result(payload)
