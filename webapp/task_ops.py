"""The approval conventions of issue #4 as web forms: 转办, 退回, 加签, 撤回 on a task; 催办, 抄送, 评论 and 附件 on
a case.

Every action is a POST of a CSRF-protected form, one transaction, then a redirect (PRG) with a flash message. The
objects are looked up through the visibility queries first, so a task or case the user may not see answers 404.
A refused form (FormValidationError) re-renders the page it came from with 422 and the Chinese message next to the
field; a conflict (the case moved on, the next holder already opened the task, urged too often) answers 409.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

import forms
from webapp.cases import render_case, upload_policy
from webapp.database import get_session
from webapp.edge import form_id
from webapp.tasks import render_task
from workflows import queries
from workflows.acting import authority_on
from workflows.attachments import store_attachment
from workflows.comments import add_comment
from workflows.copies import copy_case
from workflows.errors import CaseChanged, NotFound, PermissionDenied
from workflows.handover import transfer_task
from workflows.models import ProcessInstance, TaskIndexEntry, TaskStatus, User
from workflows.reminders import urge_task
from workflows.rollback import return_task, withdraw_task
from workflows.routing import Action, load_routing
from workflows.signing import POSITION_LABELS, SignPosition, add_signer

bp = Blueprint("task_ops", __name__)

T = TypeVar("T")


def _text(name: str) -> str:
    return (request.form.get(name) or "").strip()


def _perform(operation: Callable[[], T]) -> T:
    """Run one operation and commit; once more on fresh state when a parallel branch committed first.

    Whatever fails is rolled back before the error page or the re-rendered form queries the database again.
    """
    session = get_session()
    try:
        try:
            result = operation()
        except CaseChanged:
            session.rollback()
            result = operation()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def _chosen_user(session: Session, field: str, message: str) -> User:
    """The user picked in a <select>; a missing or forged id is a form error, not a server error."""
    chosen_id = form_id(request.form.get(field))
    chosen = session.get(User, chosen_id) if chosen_id is not None else None
    if chosen is None:
        raise forms.FormValidationError({field: message})
    return chosen


def _refused_on_task(task_id: str, op: str, exc: forms.FormValidationError) -> tuple[str, int]:
    """The task page again, with the refused form's messages and what was typed into it."""
    session = get_session()
    user = current_user.user
    entry = queries.visible_task(session, user, task_id, load_routing())
    flash(_("操作未成功，请按提示修改后重新提交"), "error")
    return render_task(
        entry, user, op_errors={op: exc.errors}, op_values={op: request.form.to_dict(flat=False)}, status=422
    )


def _task_entry(task_id: str, needed: Action | None = None) -> TaskIndexEntry:
    """The visible task (404 otherwise); with `needed`, 403 before any form field is read if the user may not."""
    session, user, routing = get_session(), current_user.user, load_routing()
    entry = queries.visible_task(session, user, task_id, routing)
    if needed is not None and needed not in authority_on(session, user, entry, routing).actions:
        raise PermissionDenied(_("无权执行此操作"))
    return entry


@bp.route("/tasks/<task_id>/transfer", methods=["POST"])
@login_required
def transfer(task_id: str) -> Response | tuple[str, int]:
    session, user, routing = get_session(), current_user.user, load_routing()
    entry = _task_entry(task_id, Action.TRANSFER)
    instance_id, title, case_number = entry.instance_id, entry.title, entry.case_number
    try:
        colleague = _chosen_user(session, "to_user", _("转办给：请选择同事"))
        action = _perform(
            lambda: transfer_task(session, user, instance_id, task_id, colleague, _text("reason"), routing=routing)
        )
    except forms.FormValidationError as exc:
        return _refused_on_task(task_id, "transfer", exc)
    flash(_("已转办给%(name)s：%(step)s（%(case)s）", name=action.target, step=title, case=case_number), "success")
    return redirect(url_for("inbox.index"))


@bp.route("/tasks/<task_id>/return", methods=["POST"], endpoint="return")
@login_required
def send_back(task_id: str) -> Response | tuple[str, int]:
    session, user, routing = get_session(), current_user.user, load_routing()
    entry = _task_entry(task_id, Action.RETURN)
    instance_id, case_number = entry.instance_id, entry.case_number
    target = _text("target_task_id")
    try:
        action = _perform(
            lambda: return_task(session, user, instance_id, task_id, target, _text("reason"), routing=routing)
        )
    except forms.FormValidationError as exc:
        return _refused_on_task(task_id, "return", exc)
    flash(_("已退回至“%(step)s”（%(case)s）", step=action.target, case=case_number), "success")
    return redirect(url_for("inbox.index"))


@bp.route("/tasks/<task_id>/add-signer", methods=["POST"], endpoint="add_signer")
@login_required
def ask_signer(task_id: str) -> Response | tuple[str, int]:
    session, user, routing = get_session(), current_user.user, load_routing()
    entry = _task_entry(task_id, Action.ADD_SIGNER)
    instance_id = entry.instance_id
    try:
        signer = _chosen_user(session, "signer", _("加签人：请选择加签人"))
        try:
            position = SignPosition(request.form.get("position", ""))
        except ValueError:
            raise forms.FormValidationError({"position": _("加签方式：请选择前加签或后加签")}) from None
        reason = _text("reason")
        _perform(lambda: add_signer(session, user, instance_id, task_id, signer, position, reason, routing=routing))
    except forms.FormValidationError as exc:
        return _refused_on_task(task_id, "add_signer", exc)
    flash(
        _("已加签：%(name)s（%(position)s）", name=signer.display_name, position=POSITION_LABELS[position]), "success"
    )
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.route("/tasks/<task_id>/withdraw", methods=["POST"])
@login_required
def withdraw(task_id: str) -> Response | tuple[str, int]:
    session, user, routing = get_session(), current_user.user, load_routing()
    entry = _task_entry(task_id)
    instance_id, title = entry.instance_id, entry.title
    reason = _text("reason")
    try:
        _perform(lambda: withdraw_task(session, user, instance_id, task_id, reason, routing=routing))
    except forms.FormValidationError as exc:
        return _refused_on_case(instance_id, "withdraw", exc)
    flash(_("已撤回：%(step)s，请重新办理", step=title), "success")
    return redirect(url_for("tasks.show", task_id=task_id))


# --- Operations on a case (also posted from a task page, which names its task in the form) ----------------------


def _visible_case(instance_id: int) -> ProcessInstance:
    return queries.case_to_act_on(get_session(), current_user.user, instance_id, load_routing())


def _case_task(case: ProcessInstance, task_id: str) -> TaskIndexEntry:
    """A task named in a case form: it must belong to this case (a forged id of another case is not found)."""
    entry = get_session().scalar(
        select(TaskIndexEntry).where(TaskIndexEntry.instance_id == case.id, TaskIndexEntry.task_id == task_id)
    )
    if entry is None:
        raise NotFound(_("任务不存在"))
    return entry


def _page_task(instance_id: int) -> str | None:
    """The task page a form was posted from (its `back_task` field), if it is a task of this case the user sees."""
    task_id = _text("back_task")
    if not task_id:
        return None
    try:
        entry = _task_entry(task_id)
    except NotFound:
        return None
    return task_id if entry.instance_id == instance_id else None


def _back(case: ProcessInstance) -> Response:
    """Back to the page the form was on: its task page while the user may still open it, else the case page."""
    task_id = _page_task(case.id)
    if task_id is not None:
        return redirect(url_for("tasks.show", task_id=task_id))
    return redirect(url_for("cases.show", instance_id=case.id))


def _refused_on_case(instance_id: int, op: str, exc: forms.FormValidationError) -> tuple[str, int]:
    """The page the refused form was on again (task or case page), with its messages and what was typed."""
    task_id = _page_task(instance_id)
    if task_id is not None:
        return _refused_on_task(task_id, op, exc)
    flash(_("操作未成功，请按提示修改后重新提交"), "error")
    case, values = _visible_case(instance_id), {op: request.form.to_dict(flat=False)}
    return render_case(case, current_user.user, op_errors={op: exc.errors}, op_values=values, status=422)


@bp.route("/cases/<int:instance_id>/urge", methods=["POST"])
@login_required
def urge(instance_id: int) -> Response:
    session, user = get_session(), current_user.user
    case = _visible_case(instance_id)
    task_id = _text("task_id")
    entry = _case_task(case, task_id)
    own = authority_on(session, user, entry, load_routing()).actions
    reminder = _perform(lambda: urge_task(session, user, entry, own, _text("message")))
    recipient = session.get(User, reminder.recipient_id) if reminder.recipient_id else None
    whom = recipient.display_name if recipient else _("部门待办")
    flash(_("已催办：%(step)s（%(whom)s）", step=entry.title, whom=whom), "success")
    return _back(case)


@bp.route("/cases/<int:instance_id>/copy", methods=["POST"])
@login_required
def copy(instance_id: int) -> Response | tuple[str, int]:
    session, user = get_session(), current_user.user
    case = _visible_case(instance_id)
    task_id = _text("task_id")
    step_title = _case_task(case, task_id).title if task_id else ""
    ids = {chosen for chosen in map(form_id, request.form.getlist("recipients")) if chosen is not None}
    recipients = list(session.scalars(select(User).where(User.id.in_(ids)))) if ids else []
    try:
        copies = _perform(
            lambda: copy_case(
                session, user, case, recipients, _text("note"), task_id=task_id or None, step_title=step_title
            )
        )
    except forms.FormValidationError as exc:
        return _refused_on_case(instance_id, "copy", exc)
    flash(_("已抄送 %(count)d 人", count=len(copies)), "success")
    return _back(case)


@bp.route("/cases/<int:instance_id>/comments", methods=["POST"])
@login_required
def comment(instance_id: int) -> Response | tuple[str, int]:
    session, user = get_session(), current_user.user
    case = _visible_case(instance_id)
    task_id = _text("task_id")
    if task_id:
        _case_task(case, task_id)
    try:
        _perform(lambda: add_comment(session, user, case, request.form.get("body", ""), task_id=task_id or None))
    except forms.FormValidationError as exc:
        return _refused_on_case(instance_id, "comment", exc)
    flash(_("评论已发表"), "success")
    return _back(case)


@bp.route("/cases/<int:instance_id>/attachments", methods=["POST"])
@login_required
def upload(instance_id: int) -> Response | tuple[str, int]:
    """A file for the case (anyone who may see it) or for an open step (only whoever may decide that step)."""
    session, user = get_session(), current_user.user
    case = _visible_case(instance_id)
    task_id = _text("task_id")
    if task_id:
        entry = _case_task(case, task_id)
        actions = authority_on(session, user, entry, load_routing()).actions
        if Action.VIEW not in actions:
            raise NotFound(_("任务不存在"))
        if entry.status != TaskStatus.READY or Action.COMPLETE not in actions:
            raise PermissionDenied(_("只有本环节的办理人可以上传环节附件"))
    sent = request.files.get("file")
    try:
        if sent is None or not sent.filename:
            raise forms.FormValidationError({"file": _("附件：请选择要上传的文件")})
        data = sent.read()
        stored = _perform(
            lambda: store_attachment(
                session,
                current_app.config["UPLOAD_DIR"],
                case.id,
                task_id or None,
                filename=sent.filename or "",
                data=data,
                uploaded_by_id=user.id,
                policy=upload_policy(),
                field="file",
            )
        )
    except forms.FormValidationError as exc:
        return _refused_on_case(instance_id, "attachment", exc)
    flash(_("已上传附件：%(name)s", name=stored.filename), "success")
    return _back(case)
