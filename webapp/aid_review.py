"""审查 (issue #6 step 2): a district union reviews its part of the year's aid list in a grid.

Server-side paging and filters (pending / reviewed, name or ID ending); one form applies a conclusion to every
selected row, so "mark the selected as 符合 with one opinion" is a single submission. Identity and card numbers are
masked in the grid. A union that was sent no workers sees an empty grid, not an error.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

import forms
from webapp.database import get_session
from webapp.edge import form_id
from workflows.aid.review import (
    PAGE_SIZES,
    Conclusion,
    ReviewFilter,
    ReviewInput,
    ReviewStatus,
    may_review,
    open_review_task,
    record_review,
    review_page,
    review_progress,
    review_years,
)
from workflows.errors import OperationRefused
from workflows.models import User

bp = Blueprint("aid_review", __name__, url_prefix="/aid")
REVIEW_FIELDS = ("conclusion", "reason", "reemployed_on", "evidence")


@bp.app_template_global()
def has_aid_review(user: User) -> bool:
    """Whether the topbar links the review grid: the user's union was sent workers of some year's list."""
    return bool(review_years(get_session(), user))


def _per_page() -> int:
    return form_id(request.values.get("per_page")) or PAGE_SIZES[0]


def _state() -> tuple[int | None, ReviewFilter, int]:
    user = current_user.user
    if not may_review(user):
        abort(404)
    years = review_years(get_session(), user)
    raw_year = request.values.get("year", "")
    year = int(raw_year) if raw_year.isascii() and raw_year.isdecimal() and int(raw_year) in years else None
    try:
        status = ReviewStatus(request.values.get("status", "all"))
    except ValueError:
        status = ReviewStatus.ALL
    page = form_id(request.values.get("page")) or 1
    return (year if year is not None else (years[0] if years else None)), ReviewFilter(
        status, request.values.get("q", "")[:40]
    ), page


def _render(errors: dict[str, str] | None = None, values: dict[str, str] | None = None, status: int = 200) -> Response:
    session, user = get_session(), current_user.user
    year, wanted, page = _state()
    context: dict[str, Any] = {
        "year": year,
        "years": review_years(session, user),
        "wanted": wanted,
        "conclusions": list(Conclusion),
        "errors": errors or {},
        "values": values or {},
        "selected": {form_id(raw) for raw in request.form.getlist("worker_id")},
    }
    if year is not None:
        context["page"] = review_page(session, user, year, wanted, page=page, per_page=_per_page())
        context["page_sizes"] = PAGE_SIZES
        context["progress"] = review_progress(session, user, year)
        context["review_task"] = open_review_task(session, year, user.org_unit_id)
        context["open"] = context["review_task"] is not None
    return Response(render_template("aid/review.html", **context), status=status, mimetype="text/html")


@bp.get("/review")
@login_required
def review() -> Response:
    return _render()


@bp.post("/review")
@login_required
def record() -> Response:
    session, user = get_session(), current_user.user
    year, wanted, page = _state()
    if year is None:
        abort(404)
    values = {field: request.form.get(field, "") for field in REVIEW_FIELDS}
    ids = [chosen for chosen in map(form_id, request.form.getlist("worker_id")) if chosen is not None]
    try:
        workers = record_review(session, user, year, ids, ReviewInput(**values))
        session.commit()
    except forms.FormValidationError as exc:
        session.rollback()
        return _render(errors=exc.errors, values=values, status=422)
    except OperationRefused as refused:
        session.rollback()
        return _render(errors={"workers": str(refused)}, values=values, status=409)
    message = _("已记录 %(count)d 人的审查结论：%(conclusion)s", count=len(workers), conclusion=values["conclusion"])
    flash(message, "success")
    return redirect(
        url_for(
            "aid_review.review", year=year, status=wanted.status.value, q=wanted.search, page=page, per_page=_per_page()
        )
    )
