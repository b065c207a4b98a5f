"""Handling a step besides deciding it (issue #4): 转办, 退回, 撤回, 加签, 催办 and 批量审批 under /api/v1/tasks.

Every change runs through run_action (one transaction, re-run once when a parallel step won a race). The task is
looked up with the caller's visibility first, so a task the caller may not see is 404 whatever the body says.
The hand-over operations answer the 流转记录 entry they wrote and the case as it now stands.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

import forms
from webapp.api.auth import api_user
from webapp.api.body import fields_renamed, json_object, object_member, optional_text, text, text_list, user_named
from webapp.api.shapes import Shapes, timestamp
from webapp.api.tasks import step_data
from webapp.api.transaction import run_action
from webapp.database import get_session
from workflows import batch, rollback, signing
from workflows.acting import authority_on
from workflows.engine.runtime import load_workflow
from workflows.errors import PermissionDenied, TaskAlreadyHandled
from workflows.handover import transfer_task
from workflows.models import CaseAction, ProcessInstance, TaskIndexEntry, TaskStatus, User
from workflows.queries import visible_task
from workflows.reminders import urge_task
from workflows.routing import Action, RoutingTable, load_routing
from workflows.steps import engine_task
from workflows.task_index import COMPLETED_BY


def _handled(session: Session, user: User, routing: RoutingTable, action: CaseAction) -> dict[str, Any]:
    shapes = Shapes(session, user, routing)
    instance = session.get_one(ProcessInstance, action.instance_id)
    return {"action": shapes.case_action(action), "instance": shapes.instance(instance)}


def _position(body: dict[str, Any]) -> signing.SignPosition:
    raw = optional_text(body, "position")
    if raw not in {position.value for position in signing.SignPosition}:
        raise forms.FormValidationError({"position": _("必须是 before（前加签）或 after（后加签）")})
    return signing.SignPosition(raw)


def _visible(session: Session, user: User, task_ids: list[str], routing: RoutingTable) -> list[TaskIndexEntry]:
    entries = session.scalars(select(TaskIndexEntry).where(TaskIndexEntry.task_id.in_(task_ids))).all()
    return [entry for entry in entries if Action.VIEW in authority_on(session, user, entry, routing).actions]


def register(bp: Blueprint) -> None:
    @bp.post("/tasks/<task_id>/transfer")
    def transfer(task_id: str) -> Response:
        routing, body = load_routing(), json_object()

        def action(session: Session, user: User) -> dict[str, Any]:
            entry = visible_task(session, user, task_id, routing)
            colleague = user_named(session, body, "to_user")
            reason = text(body, "reason")
            done = transfer_task(session, user, entry.instance_id, task_id, colleague, reason, routing=routing)
            return _handled(session, user, routing, done)

        return jsonify(run_action(action))

    @bp.get("/tasks/<task_id>/return-targets")
    def return_targets(task_id: str) -> Response:
        session, user, routing = get_session(), api_user(), load_routing()
        entry = visible_task(session, user, task_id, routing)
        if entry.status != TaskStatus.READY:
            raise TaskAlreadyHandled()
        if Action.RETURN not in authority_on(session, user, entry, routing).actions:
            raise PermissionDenied(_("无权退回此任务"))
        shapes = Shapes(session, user, routing)
        targets = rollback.return_targets(engine_task(load_workflow(entry.instance), task_id))
        return jsonify(
            [
                {
                    "task_id": str(target.id),
                    "bpmn_id": target.task_spec.bpmn_id,
                    "title": target.task_spec.bpmn_name or target.task_spec.bpmn_id,
                    "completed_by": shapes.username(target.internal_data.get(COMPLETED_BY)),
                }
                for target in targets
            ]
        )

    @bp.post("/tasks/<task_id>/return")
    def return_task(task_id: str) -> Response:
        routing, body = load_routing(), json_object()

        def action(session: Session, user: User) -> dict[str, Any]:
            entry = visible_task(session, user, task_id, routing)
            target = text(body, "target_task_id").strip()
            reason = text(body, "reason")
            done = rollback.return_task(session, user, entry.instance_id, task_id, target, reason, routing=routing)
            return _handled(session, user, routing, done)

        return jsonify(run_action(action))

    @bp.post("/tasks/<task_id>/withdraw")
    def withdraw(task_id: str) -> Response:
        routing, body = load_routing(), json_object()

        def action(session: Session, user: User) -> dict[str, Any]:
            entry = visible_task(session, user, task_id, routing)
            reason = text(body, "reason")
            done = rollback.withdraw_task(session, user, entry.instance_id, task_id, reason, routing=routing)
            return _handled(session, user, routing, done)

        return jsonify(run_action(action))

    @bp.post("/tasks/<task_id>/signers")
    def add_signer(task_id: str) -> Response:
        routing, body = load_routing(), json_object()

        def action(session: Session, user: User) -> dict[str, Any]:
            entry = visible_task(session, user, task_id, routing)
            signer = user_named(session, body, "user")
            position = _position(body)
            with fields_renamed({"signer": "user"}):
                done = signing.add_signer(
                    session, user, entry.instance_id, task_id, signer, position, text(body, "reason"), routing=routing
                )
            return _handled(session, user, routing, done)

        return jsonify(run_action(action))

    @bp.post("/tasks/<task_id>/urge")
    def urge(task_id: str) -> tuple[Response, int]:
        routing, body = load_routing(), json_object()

        def action(session: Session, user: User) -> dict[str, Any]:
            entry = visible_task(session, user, task_id, routing)
            own = authority_on(session, user, entry, routing).actions
            reminder = urge_task(session, user, entry, own, text(body, "message"))
            shapes = Shapes(session, user, routing)
            return {
                "task_id": reminder.task_id,
                "to": shapes.username(reminder.recipient_id),
                "message": reminder.message,
                "at": timestamp(reminder.created_at),
            }

        return jsonify(run_action(action)), 201

    @bp.post("/tasks/batch-complete")
    def batch_complete() -> Response:
        routing, body = load_routing(), json_object()
        task_ids = text_list(body, "task_ids")
        submitted = object_member(body, "data")
        decision, opinion = optional_text(body, "decision"), optional_text(body, "opinion")

        def action(session: Session, user: User) -> dict[str, Any]:
            data = dict(submitted)
            visible = _visible(session, user, task_ids, routing)
            if visible:
                # One step for all (409 otherwise, before reading the body against a form): its form places the
                # top-level decision and opinion.
                batch.batch_step(visible)
                data = step_data(visible[0], submitted, decision, opinion)
            result = batch.batch_complete(session, user, task_ids, data, routing=routing)
            shapes = Shapes(session, user, routing)
            return {
                "completed": [
                    {
                        "task_id": completion.approval_step.task_id,
                        "instance_id": completion.instance.id,
                        "case_number": completion.instance.case_number,
                        "next_tasks": [shapes.task(entry) for entry in completion.next_tasks],
                    }
                    for completion in result.completed
                ],
                "skipped": [
                    {"task_id": skipped.task_id, "case_number": skipped.case_number or None, "reason": skipped.reason}
                    for skipped in result.skipped
                ],
            }

        return jsonify(run_action(action))
