"""Personal settings (issue #4): 委托 (who acts on my tasks while I am away) and 常用语 (opinions I pick instead
of typing). Each page lists, creates and removes the signed-in user's own entries only."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

import forms
from webapp.database import get_session
from webapp.edge import form_id
from workflows.acting import beijing_date, create_delegation, delegations_of, revoke_delegation
from workflows.comments import DEFAULT_PHRASES, add_phrase, delete_phrase, own_phrases
from workflows.db import utcnow
from workflows.errors import PermissionDenied
from workflows.models import Role, User

bp = Blueprint("settings", __name__, url_prefix="/settings")

# Only officials and heads hold tasks, so only they have anything to delegate or to pick opinions for.
_TASK_HOLDERS = (Role.OFFICIAL, Role.HEAD)
_DELEGATION_FIELDS = ("delegate", "starts_on", "ends_on", "reason")


def _colleagues(user: User) -> list[User]:
    """The delegate picker: active officials and heads of the user's own unit, the user excluded."""
    found = get_session().scalars(
        select(User)
        .where(User.org_unit_id == user.org_unit_id, User.active.is_(True), User.id != user.id)
        .order_by(User.id)
    )
    return [colleague for colleague in found if colleague.role in _TASK_HOLDERS]


def _render_delegations(
    values: dict[str, str] | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    user = current_user.user
    today = beijing_date(utcnow())
    mine = delegations_of(get_session(), user)
    html = render_template(
        "settings/delegations.html",
        given=[d for d in mine if d.principal_id == user.id],
        received=[d for d in mine if d.delegate_id == user.id],
        colleagues=_colleagues(user),
        values=values or {"starts_on": today.isoformat()},
        errors=errors or {},
        other_errors=[message for name, message in (errors or {}).items() if name not in _DELEGATION_FIELDS],
        today=today,
        active_view="settings",
    )
    return html, status


def _parse_date(raw: str, label: str, field: str, errors: dict[str, str]) -> date | None:
    if not raw.strip():
        errors[field] = _("%(label)s：必须填写", label=label)
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        errors[field] = _("%(label)s：不是有效日期", label=label)
        return None


@bp.route("/delegations")
@login_required
def delegations() -> tuple[str, int]:
    return _render_delegations()


@bp.route("/delegations", methods=["POST"])
@login_required
def create() -> Response | tuple[str, int]:
    session = get_session()
    user = current_user.user
    if user.role not in _TASK_HOLDERS:
        raise PermissionDenied(_("只有经办人和负责人可以委托"))
    values = {name: request.form.get(name, "") for name in _DELEGATION_FIELDS}
    errors: dict[str, str] = {}
    delegate = None
    delegate_id = form_id(values["delegate"])
    if delegate_id is not None:
        delegate = session.get(User, delegate_id)
    if delegate is None:
        errors["delegate"] = _("受托人：请选择")
    starts_on = _parse_date(values["starts_on"], _("开始日期"), "starts_on", errors)
    ends_on = _parse_date(values["ends_on"], _("结束日期"), "ends_on", errors)
    if errors:
        return _render_delegations(values, errors, 422)
    assert delegate is not None and starts_on is not None and ends_on is not None
    try:
        delegation = create_delegation(
            session, user, delegate, starts_on, ends_on, values["reason"].strip(), today=beijing_date(utcnow())
        )
        session.commit()
    except forms.FormValidationError as exc:
        session.rollback()
        return _render_delegations(values, exc.errors, 422)
    flash(
        _(
            "已委托%(name)s代为办理（%(start)s至%(end)s）",
            name=delegate.display_name,
            start=delegation.starts_on.isoformat(),
            end=delegation.ends_on.isoformat(),
        ),
        "success",
    )
    return redirect(url_for("settings.delegations"), 303)


@bp.route("/delegations/<int:delegation_id>/revoke", methods=["POST"])
@login_required
def revoke(delegation_id: int) -> Response:
    session = get_session()
    # NotFound (someone else's delegation, or already revoked) becomes the 404 page.
    delegation = revoke_delegation(session, current_user.user, delegation_id)
    session.commit()
    flash(_("已撤销对%(name)s的委托", name=delegation.delegate.display_name), "success")
    return redirect(url_for("settings.delegations"), 303)


def _render_phrases(
    values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    html = render_template(
        "settings/phrases.html",
        defaults=DEFAULT_PHRASES,
        own=own_phrases(get_session(), current_user.user),
        values=values or {},
        errors=errors or {},
        active_view="settings",
    )
    return html, status


@bp.route("/phrases")
@login_required
def phrases() -> tuple[str, int]:
    return _render_phrases()


@bp.route("/phrases", methods=["POST"])
@login_required
def add() -> Response | tuple[str, int]:
    session = get_session()
    text = request.form.get("text", "")
    try:
        phrase = add_phrase(session, current_user.user, text)
        session.commit()
    except forms.FormValidationError as exc:
        session.rollback()
        return _render_phrases({"text": text}, exc.errors, 422)
    flash(_("已添加常用语：%(text)s", text=phrase.text), "success")
    return redirect(url_for("settings.phrases"), 303)


@bp.route("/phrases/<int:phrase_id>/delete", methods=["POST"])
@login_required
def delete(phrase_id: int) -> Response:
    session = get_session()
    # NotFound (someone else's phrase, or a default) becomes the 404 page.
    delete_phrase(session, current_user.user, phrase_id)
    session.commit()
    flash(_("已删除常用语"), "success")
    return redirect(url_for("settings.phrases"), 303)
