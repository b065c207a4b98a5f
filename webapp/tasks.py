"""Task pages (issue #3 §2, issue #4): open a task (case on the left, form on the right), claim, release, complete,
and the panel of what else its holder may do (转办, 退回, 加签, 抄送) or an onlooker may do (催办, 评论)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from SpiffWorkflow.exceptions import TaskNotFoundException
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

import forms
from forms.html_form import FieldView, field_views, flat_values, leaf_fields, submission_from_post, unplaced_errors
from webapp.cases import upload_hint
from webapp.database import get_session
from workflows import queries
from workflows.acting import Authority, authority_on
from workflows.comments import case_comments, phrases_for
from workflows.copies import copy_recipients
from workflows.db import utcnow
from workflows.engine.runtime import load_workflow
from workflows.errors import CaseChanged, TaskAlreadyClaimed, TaskAlreadyHandled
from workflows.handover import transfer_candidates
from workflows.inbox import due_light, near_due_limit
from workflows.models import (
    ActionKind,
    ApprovalStep,
    Attachment,
    CaseAction,
    OrgUnit,
    Reminder,
    ReminderKind,
    TaskIndexEntry,
    TaskStatus,
    User,
)
from workflows.notification_centre import mark_task_read
from workflows.operations import claim_task, complete_task, release_task, version_start_form
from workflows.processes import hooks_for
from workflows.rollback import note_opened, return_reason_for, return_targets, withdrawable
from workflows.routing import Action, first_task_to_do, load_routing
from workflows.signing import may_add_as_signer
from workflows.task_index import ADDED_SIGN_FORM, COMPLETED_BY
from workflows.working_days import calendar_overrides

bp = Blueprint("tasks", __name__)

# Per-operation form errors and values: several forms on one page share field names (reason), so each form's
# errors are kept under its own key ("transfer", "return", ...) and shown only inside that form.
OpErrors = dict[str, dict[str, str]]


@dataclass(frozen=True)
class ReturnTarget:
    task_id: str
    title: str
    completed_by: str


def _defaults(form: forms.FormDefinition) -> dict[str, Any]:
    """Schema defaults only: case data carries earlier steps' decisions, which must not prefill this step."""
    return {name: prop["default"] for name, prop in form.fields.items() if isinstance(prop, dict) and "default" in prop}


def _initial_values(session: Session, entry: TaskIndexEntry, form: forms.FormDefinition | None) -> dict[str, Any]:
    if form is None:
        return {}
    prefilled = hooks_for(entry.process_key).form_values(session, entry.instance, entry.bpmn_id)
    return flat_values({**_defaults(form), **prefilled})


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


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(ids)))}


def _return_targets(session: Session, entry: TaskIndexEntry) -> list[ReturnTarget]:
    """The earlier steps of this task's path, from the engine (the index does not know the path)."""
    workflow = load_workflow(entry.instance)
    try:
        task = workflow.get_task_from_id(UUID(entry.task_id))
    except TaskNotFoundException:
        return []
    targets = return_targets(task)
    names = _names(session, {t.internal_data[COMPLETED_BY] for t in targets})
    # Nearest first: the usual choice is the step just before this one.
    return [
        ReturnTarget(
            str(t.id), t.task_spec.bpmn_name or t.task_spec.bpmn_id, names.get(t.internal_data[COMPLETED_BY], "")
        )
        for t in reversed(targets)
    ]


def _signer_candidates(session: Session, entry: TaskIndexEntry, holder: User) -> list[User]:
    """Officials and heads of the step's unit and the units above it (signing.may_add_as_signer decides)."""
    chain: list[int] = []
    unit: OrgUnit | None = entry.org_unit
    while unit is not None:
        chain.append(unit.id)
        unit = unit.parent
    users = session.scalars(select(User).where(User.org_unit_id.in_(chain), User.active.is_(True)).order_by(User.id))
    return [u for u in users if may_add_as_signer(u, holder, entry.org_unit) is None]


def _sign_request(session: Session, entry: TaskIndexEntry) -> CaseAction | None:
    """Who asked the current added signer to sign, and why: the latest 加签 of this task naming them."""
    if entry.form_name != ADDED_SIGN_FORM or entry.status != TaskStatus.READY:
        return None
    return session.scalar(
        select(CaseAction)
        .where(
            CaseAction.task_id == entry.task_id,
            CaseAction.kind == ActionKind.ADD_SIGNER.value,
            CaseAction.target_user_id == entry.assigned_to_id,
        )
        .order_by(CaseAction.id.desc())
        .limit(1)
    )


def _urges(session: Session, entry: TaskIndexEntry) -> list[tuple[Reminder, str]]:
    reminders = session.scalars(
        select(Reminder)
        .where(Reminder.task_id == entry.task_id, Reminder.kind == ReminderKind.URGE.value)
        .order_by(Reminder.id.desc())
    ).all()
    names = _names(session, {r.sent_by_id for r in reminders if r.sent_by_id is not None})
    return [(r, names.get(r.sent_by_id, "") if r.sent_by_id else "") for r in reminders]


def _panel(
    session: Session, entry: TaskIndexEntry, user: User, authority: Authority, fields: tuple[FieldView, ...]
) -> dict[str, Any]:
    """What the operations panel offers this user on this task, computed only for what they may do."""
    actions = authority.actions
    ready = entry.status == TaskStatus.READY
    holder = authority.principal
    has_opinion = any(f.name == "opinion" and f.kind == "textarea" for f in leaf_fields(fields))
    return {
        "transfer_candidates": transfer_candidates(session, entry, holder)
        if ready and Action.TRANSFER in actions
        else [],
        "return_targets": _return_targets(session, entry) if ready and Action.RETURN in actions else [],
        "signer_candidates": _signer_candidates(session, entry, holder)
        if ready and Action.ADD_SIGNER in actions
        else [],
        # Added signers sign only (signing.py): no copies from them either.
        "copy_recipients": [u for u in copy_recipients(session, entry.instance) if u.id != user.id]
        if ready and Action.COMPLETE in actions and entry.form_name != ADDED_SIGN_FORM
        else [],
        "can_urge": ready and Action.COMPLETE not in actions,
        "can_withdraw": withdrawable(session, user, entry),
        "phrases": phrases_for(session, user) if ready and Action.COMPLETE in actions and has_opinion else [],
        "returned": return_reason_for(session, entry),
        "sign_request": _sign_request(session, entry),
        "urges": _urges(session, entry),
        "comments": case_comments(session, entry.instance_id),
        "step_attachments": session.scalars(
            select(Attachment).where(Attachment.task_id == entry.task_id).order_by(Attachment.id)
        ).all(),
    }


def render_task(
    entry: TaskIndexEntry,
    user: User,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    op_errors: OpErrors | None = None,
    op_values: dict[str, Any] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = get_session()
    routing = load_routing()
    authority = authority_on(session, user, entry, routing)
    form = forms.load_form(entry.form_name) if entry.form_name else None
    steps = queries.readable_approval_steps(session, user, entry.instance)
    now = utcnow()
    near = near_due_limit(now, int(current_app.config["NEAR_DUE_WORKING_DAYS"]), calendar_overrides(session))
    holder = session.get(User, entry.claimed_by_id) if entry.claimed_by_id else None
    fields = field_views(form) if form else ()
    errors = errors or {}
    html = render_template(
        "task.html",
        entry=entry,
        case=entry.instance,
        process_title=routing.processes[entry.process_key].title if entry.process_key in routing.processes else "",
        authority=authority,
        actions=authority.actions,
        Action=Action,
        form=form,
        fields=fields,
        values=values if values is not None else _initial_values(session, entry, form),
        errors=errors,
        other_errors=unplaced_errors(fields, errors),
        op_errors=op_errors or {},
        op_values=op_values or {},
        steps=steps,
        start_details=_start_details(entry, steps),
        holder=holder,
        light=due_light(entry.due_at, now, near) if entry.status == TaskStatus.READY else None,
        upload_hint=upload_hint(),
        **_panel(session, entry, user, authority, fields),
    )
    return html, status


@bp.route("/tasks/<task_id>")
@login_required
def show(task_id: str) -> tuple[str, int]:
    session = get_session()
    user = current_user.user
    routing = load_routing()
    entry = queries.visible_task(session, user, task_id, routing)
    # A holder opening the task ends the previous step's chance to withdraw (撤回): recorded in its own small
    # transaction, before the page is drawn, so a withdraw racing this page view sees it.
    note_opened(session, entry, authority_on(session, user, entry, routing))
    # Opening the task reads the user's notifications about it (新待办, 催办, 退回, 临期, 超期), in the same commit.
    mark_task_read(session, user, task_id)
    session.commit()
    return render_task(entry, user)


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
        return render_task(entry, user, values=flat_values(data), errors=exc.errors, status=422)
    except CaseChanged as exc:
        # Still racing: keep what the official typed and let them submit again.
        session.rollback()
        flash(str(exc), "error")
        return render_task(
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
