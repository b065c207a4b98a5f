"""援助名单 (issue #6 step 1): the province's livelihood department imports a year's draft hardship-aid list.

The page shows the lists imported so far with their split by city, a template to fill, and the upload form. A
refused file comes back with every problem by row and column and nothing imported (422). Only the drafting
department sees the page; anyone else gets 404, as for any object of another unit.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from webapp.database import get_session
from workflows.aid.importing import city_split, import_aid_list, may_import_aid_list
from workflows.aid.validation import ListRejected, RowProblem, write_template
from workflows.errors import OperationRefused
from workflows.models import AidCityList, AidImport
from workflows.tabular import TableLimits

bp = Blueprint("aid", __name__, url_prefix="/aid")
# The topbar links the page for those who may use it.
bp.add_app_template_global(may_import_aid_list, "may_import_aid_list")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _drafter_only() -> None:
    if not may_import_aid_list(current_user.user):
        abort(404)


def _render(problems: list[RowProblem] | None = None, error: str = "", year: str = "", status: int = 200) -> Response:
    session = get_session()
    imports = list(session.scalars(select(AidImport).order_by(AidImport.year.desc())))
    splits = {aid_import.year: city_split(session, aid_import.year) for aid_import in imports}
    dispatched = {(y, c) for y, c in session.execute(select(AidCityList.year, AidCityList.city_unit_id))}
    undispatched = {
        year_: sum(1 for unit, _count in split if (year_, unit.id) not in dispatched) for year_, split in splits.items()
    }
    html = render_template("aid/lists.html", imports=imports, splits=splits, problems=problems or [], error=error,
                           year=year, dispatched=dispatched, undispatched=undispatched)  # fmt: skip
    return Response(html, status=status, mimetype="text/html")


@bp.get("/lists")
@login_required
def lists() -> Response:
    _drafter_only()
    return _render()


@bp.get("/template.xlsx")
@login_required
def template() -> Response:
    _drafter_only()
    response = Response(write_template(), mimetype=XLSX)
    response.headers["Content-Disposition"] = "attachment; filename*=UTF-8''%E6%8F%B4%E5%8A%A9%E5%90%8D%E5%8D%95.xlsx"
    return response


@bp.post("/lists")
@login_required
def upload_list() -> Response:
    _drafter_only()
    session, user = get_session(), current_user.user
    raw_year, upload = request.form.get("year", "").strip(), request.files.get("file")
    if not (raw_year.isascii() and raw_year.isdecimal() and 2000 <= int(raw_year) <= 2100):
        return _render(error=_("援助年度：请填写四位年份，如 2017"), year=raw_year, status=422)
    if upload is None or not upload.filename:
        return _render(error=_("名单文件：请选择 .xlsx 或 .csv 文件"), year=raw_year, status=422)
    try:
        limits = TableLimits(max_bytes=int(current_app.config.get("AID_LIST_MAX_BYTES", TableLimits.max_bytes)))
        aid_import = import_aid_list(session, user, int(raw_year), upload.read(), upload.filename, limits=limits)
        session.commit()
    except ListRejected as rejected:
        session.rollback()
        return _render(problems=rejected.problems, year=raw_year, status=422)
    except OperationRefused as refused:
        session.rollback()
        return _render(error=str(refused), year=raw_year, status=422)
    flash(_("已导入 %(year)s 年度援助名单：%(count)d 人", year=aid_import.year, count=aid_import.row_count), "success")
    return redirect(url_for("aid.lists"))
