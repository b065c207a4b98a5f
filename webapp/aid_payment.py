"""代发 (issue #6 step 7): bank payment files, the bank's result, and the districts' corrections of failed rows.

- The batch page shows a batch's totals, status counts and rows (identity and card numbers masked), 200 rows a
  page; the city's livelihood and finance departments download the payment file (.xlsx / .csv, the one place with
  full numbers) and the result template; finance uploads the bank's result (every row checked, all or nothing;
  problems by row and column, 422). Batches are made by the city's process step, never here.
- The corrections page lists a district union's failed rows with the bank's reason; each row takes new bank
  details, or is withheld with a reason.
Anyone else gets 404, as for any object of another unit.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

import forms
from webapp.database import get_session
from webapp.edge import form_id
from workflows.aid.access import may_handle_bank_files, may_import_bank_result
from workflows.aid.payment import (
    COMMON_FAILURE_REASONS,
    batch_file_csv,
    batch_file_xlsx,
    city_batches,
    correct_bank_details,
    failed_rows,
    import_bank_result,
    load_batch,
    result_template,
    status_counts,
    visible_batch,
    withhold_payment,
)
from workflows.aid.review import may_review, review_years
from workflows.aid.validation import ListRejected, RowProblem
from workflows.errors import OperationRefused
from workflows.inbox import Page
from workflows.models import AidBatch, AidPayment, OrgUnit, User
from workflows.tabular import TableLimits

bp = Blueprint("aid_payment", __name__, url_prefix="/aid")
# Card numbers in lists are masked like identity numbers (the full number is in the bank file only).
bp.add_app_template_filter(forms.mask_bank_card, "mask_bank_card")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ROWS_PER_PAGE = 200


def _handled_batch(batch_id: int) -> AidBatch:
    """The batch with its rows, for those who handle its city's bank files; 404 for anyone else."""
    session = get_session()
    batch = load_batch(session, batch_id)
    city = session.get(OrgUnit, batch.city_unit_id) if batch is not None else None
    if batch is None or city is None or not may_handle_bank_files(current_user.user, city):
        abort(404)
    return batch


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


@bp.get("/batches/<int:batch_id>.xlsx")
@login_required
def batch_xlsx(batch_id: int) -> Response:
    batch = _handled_batch(batch_id)
    return _download(batch_file_xlsx(batch), XLSX, f"代发清单-{batch.batch_number}.xlsx")


@bp.get("/batches/<int:batch_id>.csv")
@login_required
def batch_csv(batch_id: int) -> Response:
    batch = _handled_batch(batch_id)
    return _download(batch_file_csv(batch), "text/csv; charset=utf-8", f"代发清单-{batch.batch_number}.csv")


@bp.get("/batches/<int:batch_id>/result-template.xlsx")
@login_required
def result_template_xlsx(batch_id: int) -> Response:
    batch = _handled_batch(batch_id)
    return _download(result_template(batch), XLSX, f"银行回盘-{batch.batch_number}.xlsx")


def _render_batch(
    batch: AidBatch, problems: list[RowProblem] | None = None, error: str = "", status: int = 200
) -> Response:
    session, user = get_session(), current_user.user
    city = session.get(OrgUnit, batch.city_unit_id)
    page_number = form_id(request.args.get("page")) or 1
    rows = session.scalars(
        select(AidPayment)
        .where(AidPayment.batch_id == batch.id)
        .options(joinedload(AidPayment.worker))
        .order_by(AidPayment.id)
        .limit(ROWS_PER_PAGE)
        .offset((page_number - 1) * ROWS_PER_PAGE)
    ).all()
    total = session.scalar(select(func.count()).where(AidPayment.batch_id == batch.id)) or 0
    context: dict[str, Any] = {
        "batch": batch,
        "city": city,
        "creator": session.get(User, batch.created_by_id),
        "importer": session.get(User, batch.result_imported_by_id) if batch.result_imported_by_id else None,
        "counts": status_counts(session, batch),
        "page": Page(rows, total, page_number, ROWS_PER_PAGE),
        "first_serial": (page_number - 1) * ROWS_PER_PAGE + 1,
        "others": city_batches(session, batch.year, batch.city_unit_id),
        "may_download": city is not None and may_handle_bank_files(user, city),
        "may_upload": city is not None and may_import_bank_result(user, city),
        "problems": problems or [],
        "error": error,
    }
    return Response(render_template("aid/payment/batch.html", **context), status=status, mimetype="text/html")


@bp.get("/batches/<int:batch_id>")
@login_required
def batch(batch_id: int) -> Response:
    return _render_batch(visible_batch(get_session(), current_user.user, batch_id))


def _local(target: str | None) -> str | None:
    """`target` if it is a path on this site (never another host: an open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return None


@bp.post("/batches/<int:batch_id>/result")
@login_required
def upload_result(batch_id: int) -> Response:
    session, user = get_session(), current_user.user
    batch = visible_batch(session, user, batch_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _render_batch(batch, error=_("回盘文件：请选择 .xlsx 或 .csv 文件"), status=422)
    limits = TableLimits(max_bytes=int(current_app.config.get("AID_LIST_MAX_BYTES", TableLimits.max_bytes)))
    try:
        outcome = import_bank_result(session, user, batch.id, upload.read(), upload.filename, limits=limits)
        session.commit()
    except ListRejected as rejected:
        session.rollback()
        return _render_batch(visible_batch(session, user, batch_id), problems=rejected.problems, status=422)
    except OperationRefused as refused:
        session.rollback()
        return _render_batch(visible_batch(session, user, batch_id), error=str(refused), status=409)
    if outcome.already_imported:
        flash(_("该回盘文件此前已导入，未作任何更改"), "info")
    else:
        message = _("已导入银行回盘：成功 %(paid)d 笔，失败 %(failed)d 笔", paid=outcome.paid, failed=outcome.failed)
        flash(message, "success")
    return redirect(_local(request.form.get("next")) or url_for("aid_payment.batch", batch_id=batch.id))


# --- The district's corrections ---------------------------------------------------------------------------------------


def _year(years: list[int]) -> int | None:
    raw = request.values.get("year", "")
    if raw.isascii() and raw.isdecimal() and int(raw) in years:
        return int(raw)
    return years[0] if years else None


def _render_corrections(
    errors: dict[int, dict[str, str]] | None = None, values: dict[str, str] | None = None, status: int = 200
) -> Response:
    session, user = get_session(), current_user.user
    years = review_years(session, user)
    year = _year(years)
    rows = failed_rows(session, user, year) if year is not None else []
    html = render_template(
        "aid/payment/corrections.html",
        years=years,
        year=year,
        rows=rows,
        errors=errors or {},
        values=values or {},
        reasons=COMMON_FAILURE_REASONS,
    )
    return Response(html, status=status, mimetype="text/html")


@bp.get("/corrections")
@login_required
def corrections() -> Response:
    if not may_review(current_user.user):
        abort(404)
    return _render_corrections()


@bp.post("/corrections")
@login_required
def correct() -> Response:
    session, user = get_session(), current_user.user
    if not may_review(user):
        abort(404)
    payment_id = form_id(request.form.get("payment_id"))
    if payment_id is None:
        abort(404)
    action = request.form.get("action", "")
    values = {name: request.form.get(name, "") for name in ("bank_name", "card_number", "reason")}
    try:
        if action == "withhold":
            payment = withhold_payment(session, user, payment_id, values["reason"])
        elif action == "correct":
            payment = correct_bank_details(session, user, payment_id, values["bank_name"], values["card_number"])
        else:
            abort(400)
        session.commit()
    except forms.FormValidationError as exc:
        session.rollback()
        return _render_corrections(errors={payment_id: exc.errors}, values=values, status=422)
    name = payment.worker.name
    if action == "withhold":
        flash(_("已暂缓发放：%(name)s", name=name), "success")
    else:
        flash(_("已更正 %(name)s 的银行卡信息，将列入下一批代发清单", name=name), "success")
    return redirect(url_for("aid_payment.corrections", year=payment.worker.year))
