"""Working on a case besides its steps (issue #4): 抄送, comments and attachments under /api/v1/instances/<id>.

Anyone who may see the case may copy it, comment on it and attach a file to it, as on its web page; the case is
looked up with the caller's visibility first, so a case the caller may not see is 404 whatever the request holds.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request, send_file
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

import forms
from webapp.api.auth import api_user
from webapp.api.body import fields_renamed, json_object, optional_text, required_text, text, text_list, users_named
from webapp.api.shapes import Shapes
from webapp.api.transaction import run_action
from webapp.cases import upload_policy
from webapp.database import get_session
from workflows import comments, copies
from workflows.attachments import open_attachment, store_attachment
from workflows.errors import NotFound
from workflows.models import Attachment, ProcessInstance, TaskIndexEntry, User
from workflows.queries import case_to_act_on, visible_case
from workflows.routing import load_routing


def _case_task(session: Session, instance: ProcessInstance, task_id: str | None) -> str | None:
    """A step of this very case the comment or file belongs to (None: the case as a whole)."""
    if task_id is None or task_id == "":
        return None
    found = session.scalar(
        select(TaskIndexEntry.task_id).where(
            TaskIndexEntry.instance_id == instance.id, TaskIndexEntry.task_id == task_id
        )
    )
    if found is None:
        raise forms.FormValidationError({"task_id": _("不是本案件的任务")})
    return found


def register(bp: Blueprint) -> None:
    @bp.post("/instances/<int:instance_id>/copies")
    def copy_case(instance_id: int) -> tuple[Response, int]:
        routing, body = load_routing(), json_object()

        def action(session: Session, user: User) -> list[dict[str, Any]]:
            instance = case_to_act_on(session, user, instance_id, routing)
            recipients = users_named(session, text_list(body, "users"), "users")
            with fields_renamed({"recipients": "users"}):
                made = copies.copy_case(session, user, instance, recipients, text(body, "note"))
            shapes = Shapes(session, user, routing)
            return [shapes.copy(copy, instance) for copy in made]

        return jsonify(run_action(action)), 201

    @bp.get("/instances/<int:instance_id>/comments")
    def list_comments(instance_id: int) -> Response:
        session, user, routing = get_session(), api_user(), load_routing()
        instance = visible_case(session, user, instance_id, routing)
        shapes = Shapes(session, user, routing)
        return jsonify([shapes.comment(comment) for comment in comments.case_comments(session, instance.id)])

    @bp.post("/instances/<int:instance_id>/comments")
    def add_comment(instance_id: int) -> tuple[Response, int]:
        routing, body = load_routing(), json_object()

        def action(session: Session, user: User) -> dict[str, Any]:
            instance = case_to_act_on(session, user, instance_id, routing)
            task_id = _case_task(session, instance, optional_text(body, "task_id"))
            comment = comments.add_comment(session, user, instance, required_text(body, "body"), task_id=task_id)
            return Shapes(session, user, routing).comment(comment)

        return jsonify(run_action(action)), 201

    @bp.post("/instances/<int:instance_id>/attachments")
    def upload_attachment(instance_id: int) -> tuple[Response, int]:
        routing, policy = load_routing(), upload_policy()
        directory = current_app.config["UPLOAD_DIR"]
        upload = request.files.get("file")
        # Read once, here: a re-run of the action after a lost race must see the same bytes.
        filename, data = (upload.filename or "", upload.read()) if upload is not None else ("", None)
        raw_task_id = request.form.get("task_id")

        def action(session: Session, user: User) -> dict[str, Any]:
            instance = case_to_act_on(session, user, instance_id, routing)
            task_id = _case_task(session, instance, raw_task_id)
            if data is None:
                raise forms.FormValidationError({"file": _("请以 multipart/form-data 上传 file 字段")})
            # Content-addressed: a re-run writes the same file again, harmlessly.
            stored = store_attachment(
                session,
                directory,
                instance.id,
                task_id,
                filename=filename,
                data=data,
                uploaded_by_id=user.id,
                policy=policy,
                field="file",
            )
            return Shapes(session, user, routing).attachment(stored)

        return jsonify(run_action(action)), 201

    @bp.get("/instances/<int:instance_id>/attachments/<int:attachment_id>")
    def get_attachment(instance_id: int, attachment_id: int) -> Response:
        session, user, routing = get_session(), api_user(), load_routing()
        instance = visible_case(session, user, instance_id, routing)
        stored = session.get(Attachment, attachment_id)
        if stored is None or stored.instance_id != instance.id:
            raise NotFound(_("附件不存在"))
        answer = send_file(
            open_attachment(current_app.config["UPLOAD_DIR"], stored.sha256),
            mimetype=stored.content_type,
            as_attachment=True,
            download_name=stored.filename,
        )
        # The type was sniffed on upload; never let a client guess another one from the bytes.
        answer.headers["X-Content-Type-Options"] = "nosniff"
        answer.headers["Cache-Control"] = "no-store"
        return answer
