"""The caller's own lists and settings (issue #4): 抄送我, 委托 (delegations) and 常用语 (phrases).

Each is about the token's user only: another user's delegation or phrase is 404, like a case one may not see.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

import forms
from webapp.api.auth import api_user
from webapp.api.body import date_member, int_arg, json_object, required_text, text, user_named
from webapp.api.shapes import Shapes
from webapp.api.transaction import run_action
from webapp.database import get_session
from workflows import acting, comments
from workflows.copies import copied_to_me_query
from workflows.db import utcnow
from workflows.inbox import MAX_PER_PAGE
from workflows.models import CommonPhrase, User
from workflows.queries import DEFAULT_PAGE_SIZE
from workflows.routing import load_routing


def _flag(name: str) -> bool:
    raw = (request.args.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise forms.FormValidationError({name: _("必须是 1 或 0")})


def _phrase(phrase: CommonPhrase | None, text: str) -> dict[str, Any]:
    return {"id": phrase.id if phrase is not None else None, "text": text, "own": phrase is not None}


def register(bp: Blueprint) -> None:
    @bp.get("/copies")
    def list_copies() -> Response:
        session, user, routing = get_session(), api_user(), load_routing()
        query = copied_to_me_query(user, unread_only=_flag("unread"))
        page = int_arg("page", 1, 1)
        per_page = int_arg("per_page", DEFAULT_PAGE_SIZE, 1, MAX_PER_PAGE)
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        rows = session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
        shapes = Shapes(session, user, routing)
        return jsonify(
            {
                "items": [shapes.copy(copy, instance) for copy, instance in rows],
                "total": total,
                "page": page,
                "per_page": per_page,
            }
        )

    @bp.get("/delegations")
    def list_delegations() -> Response:
        session, user, routing = get_session(), api_user(), load_routing()
        shapes = Shapes(session, user, routing)
        return jsonify([shapes.delegation(delegation) for delegation in acting.delegations_of(session, user)])

    @bp.post("/delegations")
    def create_delegation() -> tuple[Response, int]:
        routing, body = load_routing(), json_object()

        def action(session: Session, user: User) -> dict[str, Any]:
            today = acting.beijing_date(utcnow())
            delegate = user_named(session, body, "delegate")
            starts_on = date_member(body, "starts_on", today)
            ends_on = date_member(body, "ends_on", starts_on)
            reason = text(body, "reason")
            delegation = acting.create_delegation(session, user, delegate, starts_on, ends_on, reason, today=today)
            return Shapes(session, user, routing).delegation(delegation)

        return jsonify(run_action(action)), 201

    @bp.delete("/delegations/<int:delegation_id>")
    def revoke_delegation(delegation_id: int) -> tuple[str, int]:
        run_action(lambda session, user: acting.revoke_delegation(session, user, delegation_id))
        return "", 204

    @bp.get("/phrases")
    def list_phrases() -> Response:
        session, user = get_session(), api_user()
        own = comments.own_phrases(session, user)
        texts = {phrase.text for phrase in own}
        defaults = [_phrase(None, phrase) for phrase in comments.DEFAULT_PHRASES if phrase not in texts]
        return jsonify([*defaults, *(_phrase(phrase, phrase.text) for phrase in own)])

    @bp.post("/phrases")
    def add_phrase() -> tuple[Response, int]:
        body = json_object()

        def action(session: Session, user: User) -> dict[str, Any]:
            phrase = comments.add_phrase(session, user, required_text(body, "text"))
            return _phrase(phrase, phrase.text)

        return jsonify(run_action(action)), 201

    @bp.delete("/phrases/<int:phrase_id>")
    def delete_phrase(phrase_id: int) -> tuple[str, int]:
        run_action(lambda session, user: comments.delete_phrase(session, user, phrase_id))
        return "", 204
