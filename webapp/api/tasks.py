"""Task lists and actions: /api/v1/tasks. A task's public id is its engine task UUID."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, object_session
from werkzeug.wrappers import Response

import forms
from webapp.api.auth import api_user
from webapp.api.body import int_arg, json_object, object_member, optional_text
from webapp.api.shapes import Shapes, timestamp
from webapp.api.transaction import run_action
from webapp.database import get_session
from workflows.acting import authority_on
from workflows.db import utcnow
from workflows.engine.deployment import properties, specs_for
from workflows.inbox import MAX_PER_PAGE, InboxFilter, Light, Sort, View, default_sort, near_due_limit, task_page
from workflows.models import ApprovalStep, ProcessInstance, ProcessVersion, TaskIndexEntry, TaskStatus, User
from workflows.operations import DECISION_PROPERTY, claim_task, complete_task, jsonable, release_task
from workflows.queries import DEFAULT_PAGE_SIZE, visible_task
from workflows.records import redact
from workflows.rollback import note_opened, return_reason_for, withdrawable
from workflows.routing import load_routing
from workflows.task_index import ADDED_SIGN_FORM
from workflows.working_days import calendar_overrides

TASK_VIEWS = (View.MINE, View.QUEUE, View.DONE)


def _choice(name: str, kind: type[Any], allowed: tuple[Any, ...], default: Any) -> Any:
    raw = request.args.get(name)
    if not raw:
        return default
    if raw not in {str(item.value) for item in allowed}:
        choices = "、".join(str(item.value) for item in allowed)
        raise forms.FormValidationError({name: _("必须是以下之一：%(choices)s", choices=choices)})
    return kind(raw)


def form_of(entry: TaskIndexEntry) -> forms.FormDefinition | None:
    return forms.load_form(entry.form_name) if entry.form_name else None


def decision_field(version: ProcessVersion, bpmn_id: str, form: forms.FormDefinition | None) -> str | None:
    """The form field the top-level `decision` goes to: `decisionField` of the step, else `decision`, if declared."""
    spec, subprocess_specs = specs_for(version)
    for process_spec in (spec, *subprocess_specs.values()):
        for task_spec in process_spec.task_specs.values():
            if getattr(task_spec, "bpmn_id", None) == bpmn_id:
                name = properties(task_spec).get(DECISION_PROPERTY, "decision")
                return name if form is not None and name in form.fields else None
    return None


def current_values(session: Session, entry: TaskIndexEntry, form: forms.FormDefinition | None) -> dict[str, Any]:
    """The step's form values: as submitted once the step is done, its schema defaults while it is open.

    Not the engine's task data: a task inherits the case data, where earlier steps' answers sit under the same names
    (decision, opinion) and are not this step's (the web form does the same). Identity and card numbers are left
    out, even masked: a value a client cannot send back is not a form value.
    """
    if form is None:
        return {}
    fields = form.fields
    if entry.status == TaskStatus.COMPLETED.value:
        step = session.scalar(
            select(ApprovalStep)
            .where(ApprovalStep.instance_id == entry.instance_id, ApprovalStep.task_id == entry.task_id)
            .order_by(ApprovalStep.id.desc())
            .limit(1)
        )
        values = dict(step.data) if step is not None else {}
    else:
        declared = {name: field for name, field in fields.items() if isinstance(field, dict)}
        values = {name: field["default"] for name, field in declared.items() if "default" in field}
    return jsonable(forms.without_sensitive(form, {name: value for name, value in values.items() if name in fields}))


def _merge(data: dict[str, Any], given: str, value: str | None, field: str | None) -> None:
    """Put a top-level `decision` / `opinion` into the form data, refusing what the step would silently drop."""
    if value is None:
        return
    if field is None:
        raise forms.FormValidationError({given: _("此步骤的表单没有这一项")})
    if field in data and data[field] != value:
        raise forms.FormValidationError({given: _("与 data.%(field)s 的值不一致", field=field)})
    data[field] = value


def task_decision_field(entry: TaskIndexEntry, form: forms.FormDefinition | None) -> str | None:
    """Where `decision` goes for this task: an added signer (加签) answers 同意/不同意 in the sign form's own field."""
    if entry.form_name == ADDED_SIGN_FORM:
        return "decision"
    return decision_field(case_version(entry), entry.bpmn_id, form)


def case_version(entry: TaskIndexEntry) -> ProcessVersion:
    """The deployed version the task's case runs, read without loading the case: its row carries the engine state,
    the largest column, and completing the task reads that row again under its lock (issue #9)."""
    session = object_session(entry)
    assert session is not None  # entries come from the request's session
    version = session.scalar(_CASE_VERSION, {"instance_id": entry.instance_id})
    assert version is not None  # a case always has its version (foreign key)
    return version


_CASE_VERSION = (
    select(ProcessVersion)
    .join(ProcessInstance, ProcessInstance.process_version_id == ProcessVersion.id)
    .where(ProcessInstance.id == bindparam("instance_id"))
)


def step_data(
    entry: TaskIndexEntry, submitted: dict[str, Any], decision: str | None, opinion: str | None
) -> dict[str, Any]:
    """The form data to complete `entry` with: `data` plus the top-level `decision` and `opinion`, if given."""
    form = form_of(entry)
    data = dict(submitted)
    _merge(data, "decision", decision, task_decision_field(entry, form))
    _merge(data, "opinion", opinion, "opinion" if form is not None and "opinion" in form.fields else None)
    return data


def returned(session: Session, entry: TaskIndexEntry) -> dict[str, Any] | None:
    """Why the case came back to this open step (退回), for its holder: who sent it back, from where, and why."""
    action = return_reason_for(session, entry)
    if action is None:
        return None
    by = session.get(User, action.actor_id) if action.actor_id is not None else None
    return {
        "by": by.username if by is not None else None,
        "by_name": action.actor_name,
        "from_step": action.step_title,
        "reason": redact(action.reason),
        "at": timestamp(action.created_at),
    }


def register(bp: Blueprint) -> None:
    @bp.get("/tasks")
    def list_tasks() -> Response:
        session, user, routing = get_session(), api_user(), load_routing()
        view = _choice("view", View, TASK_VIEWS, View.MINE)
        wanted = InboxFilter(
            process=request.args.get("process") or None,
            light=_choice("light", Light, tuple(Light), None),
            search=(request.args.get("q") or "").strip() or None,
            sort=_choice("sort", Sort, tuple(Sort), default_sort(view)),
        )
        page = int_arg("page", 1, 1)
        per_page = int_arg("per_page", DEFAULT_PAGE_SIZE, 1, MAX_PER_PAGE)
        now = utcnow()
        near = near_due_limit(now, int(current_app.config["NEAR_DUE_WORKING_DAYS"]), calendar_overrides(session))
        found = task_page(session, user, view, wanted, now=now, near_limit=near, page=page, per_page=per_page)
        shapes = Shapes(session, user, routing)
        return jsonify(
            {
                "items": [shapes.task(entry) for entry in found.items],
                "total": found.total,
                "page": found.page,
                "per_page": found.per_page,
            }
        )

    @bp.get("/tasks/<task_id>")
    def get_task(task_id: str) -> Response:
        session, user, routing = get_session(), api_user(), load_routing()
        entry = visible_task(session, user, task_id, routing)
        form = form_of(entry)
        # Reading a task one may act on counts as opening it, as the task page does: from now on the previous
        # step's author can no longer withdraw it (撤回).
        note_opened(session, entry, authority_on(session, user, entry, routing))
        answer = {
            **Shapes(session, user, routing).task(entry),
            "form": form.schema if form is not None else None,
            "decision_field": task_decision_field(entry, form),
            "data": current_values(session, entry, form),
            "returned": returned(session, entry),
            "withdrawable": withdrawable(session, user, entry),
        }
        session.commit()
        return jsonify(answer)

    @bp.post("/tasks/<task_id>/claim")
    def claim(task_id: str) -> Response:
        routing = load_routing()

        def action(session: Session, user: User) -> dict[str, Any]:
            entry = visible_task(session, user, task_id, routing)
            claimed = claim_task(session, user, entry.instance_id, task_id, routing=routing)
            return Shapes(session, user, routing).task(claimed)

        return jsonify(run_action(action))

    @bp.post("/tasks/<task_id>/release")
    def release(task_id: str) -> Response:
        routing = load_routing()

        def action(session: Session, user: User) -> dict[str, Any]:
            entry = visible_task(session, user, task_id, routing)
            released = release_task(session, user, entry.instance_id, task_id, routing=routing)
            return Shapes(session, user, routing).task(released)

        return jsonify(run_action(action))

    @bp.post("/tasks/<task_id>/complete")
    def complete(task_id: str) -> Response:
        routing = load_routing()
        body = json_object()
        submitted = object_member(body, "data")
        decision, opinion = optional_text(body, "decision"), optional_text(body, "opinion")

        def action(session: Session, user: User) -> dict[str, Any]:
            entry = visible_task(session, user, task_id, routing)
            data = step_data(entry, submitted, decision, opinion)
            completion = complete_task(session, user, entry.instance_id, task_id, data, routing=routing)
            shapes = Shapes(session, user, routing)
            return {
                "instance": shapes.instance(completion.instance),
                "next_tasks": [shapes.task(next_entry) for next_entry in completion.next_tasks],
            }

        return jsonify(run_action(action))
