"""Documents of the aid list (issue #6 records): review summary, payment roster, reconciliation, per-worker record.

The city documents are for one city's part of one year, `/aid/<year>/<city code>/…`, and open to those who hold
that part (`workflows.aid.access.may_see_city_list`: the city's livelihood and finance departments, the province's
livelihood department); a worker's record also to the worker's district union (`may_see_worker`). Anyone else, an
unknown city or a year that sent the city nobody gets 404, as for any object of another unit. The data comes from
`workflows.aid.reports` / `worker_record` with every identity and card number already masked; PDFs are rendered
through `webapp.records.html_to_pdf` (static files only) in the record locale, Excel through `workflows.tabular`.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from flask import Blueprint, Response, abort, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.database import get_session
from webapp.fixed_pitch import Column, PitchTable
from webapp.records import RECORD_LOCALE, html_to_pdf
from workflows.aid.access import may_see_city_list, may_see_worker
from workflows.aid.reports import (
    Reconciliation,
    Roster,
    RosterRow,
    find_city,
    payment_roster,
    reconciliation,
    review_summary,
    summary_workers,
)
from workflows.aid.worker_record import worker_record
from workflows.db import utcnow
from workflows.models import AidCityList, AidWorker, ApprovalStep, OrgUnit
from workflows.records import redact
from workflows.tabular import CellValue, write_xlsx_sheets

bp = Blueprint("aid_documents", __name__, url_prefix="/aid")

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def consolidation_opinion(session: Session, city: OrgUnit, year: int) -> str:
    """The city's opinion from its latest consolidation step (issue #6 step 3), printed on the summary; empty (a box
    to fill in by hand) until the city has consolidated."""
    opinion = session.scalar(
        select(ApprovalStep.opinion)
        .join(AidCityList, AidCityList.instance_id == ApprovalStep.instance_id)
        .where(
            AidCityList.year == year,
            AidCityList.city_unit_id == city.id,
            ApprovalStep.bpmn_id == "consolidate",
            ApprovalStep.withdrawn_at.is_(None),
        )
        .order_by(ApprovalStep.id.desc())
        .limit(1)
    )
    return opinion or ""


def _city(year: int, city_code: str) -> OrgUnit:
    city = find_city(get_session(), city_code, year)
    if city is None or not may_see_city_list(current_user.user, city):
        abort(404)
    return city


def document_download(data: bytes, mimetype: str, filename: str, ascii_name: str) -> Response:
    """PDFs `inline` (the browser shows them), spreadsheets as attachments; the Chinese name RFC 5987-encoded."""
    disposition = "inline" if mimetype == PDF else "attachment"
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )
    # Personal data: never kept by shared caches.
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _city_download(data: bytes, mimetype: str, year: int, city: OrgUnit, title: str, slug: str) -> Response:
    extension = "pdf" if mimetype == PDF else "xlsx"
    filename, ascii_name = f"{year}年{city.name}{title}.{extension}", f"aid-{slug}-{year}-{city.code}.{extension}"
    return document_download(data, mimetype, filename, ascii_name)


def _pdf(template: str, **context: object) -> bytes:
    with force_locale(RECORD_LOCALE):
        html = render_template(template, generated_at=utcnow(), **context)
    return html_to_pdf(html)


# --- 审查结果汇总表 ------------------------------------------------------------


@bp.get("/<int:year>/<city_code>/summary.pdf")
@login_required
def summary_pdf(year: int, city_code: str) -> Response:
    session, city = get_session(), _city(year, city_code)
    summary = review_summary(session, city, year, consolidation_opinion(session, city, year))
    data = _pdf("aid/documents/summary.html", summary=summary)
    return _city_download(data, PDF, year, city, "审查结果汇总表", "review-summary")


@bp.get("/<int:year>/<city_code>/summary.xlsx")
@login_required
def summary_xlsx(year: int, city_code: str) -> Response:
    session, city = get_session(), _city(year, city_code)
    with force_locale(RECORD_LOCALE):  # like the PDF: the federation's Chinese document, whatever the UI language
        data = _summary_workbook(session, city, year)
    return _city_download(data, XLSX, year, city, "审查结果汇总表", "review-summary")


def _summary_workbook(session: Session, city: OrgUnit, year: int) -> bytes:
    summary = review_summary(session, city, year, consolidation_opinion(session, city, year))
    by_district: list[Sequence[CellValue]] = [
        (line.district.name, line.sent, line.eligible, line.not_eligible, line.pending,
         "；".join(f"{redact(item.reason)}：{item.count} 人" for item in line.reasons))
        for line in [*summary.districts, summary.total]
    ]  # fmt: skip
    if summary.opinion:
        by_district.append((_("市总工会意见"), None, None, None, None, redact(summary.opinion)))
    workers = (
        # Free text is redacted as on every page: an ID typed into a reason must not leave unmasked.
        (w.number, w.name, w.resident_id, w.district, w.conclusion, redact(w.reason), w.reemployed_on)
        for w in summary_workers(session, city, year)
    )
    return write_xlsx_sheets(
        [
            (_("审查结果汇总"), [_("区县（产业）工会"), _("报送人数"), _("符合"), _("不符合"), _("未审查"),
                                _("不符合原因（人数）")], by_district),
            (_("审查明细"), [_("序号"), _("姓名"), _("身份证号"), _("区县"), _("审查结论"), _("不符合原因"),
                            _("再就业日期")], workers),
        ]
    )  # fmt: skip


# --- 发放花名册 ---------------------------------------------------------------

# The roster's columns in half-width cells of the mono face, padding included (webapp.fixed_pitch): 序号, 姓名 (five
# characters), 身份证号 (18), 区县 and 安置方式 (eight), 援助金额 (to 99,999,999.99), 开户银行 (fourteen), 银行卡号
# (19 digits), 发放状态, 批次号 (210200-2018-01) and the rest of the line, 196 cells at 8pt (A4 landscape: 784 of
# 785pt), for the signature.
ROSTER_TABLE = PitchTable(
    (Column(7, right=True), Column(12), Column(20), Column(18), Column(18), Column(15, right=True), Column(30),
     Column(21), Column(10), Column(16), Column(29))
)  # fmt: skip


def roster_line(row: RosterRow) -> str:
    """A worker's row of the roster as one line of ROSTER_TABLE; the signature column stays empty."""
    return ROSTER_TABLE.line([str(row.number), row.name, row.resident_id, row.district, row.placement_type,
                              f"{row.amount:,.2f}", row.bank_name, row.card_number, row.status, row.batch_number,
                              ""])  # fmt: skip


def roster_context(roster: Roster) -> dict[str, object]:
    """What aid/documents/roster.html needs besides `generated_at`."""
    return {"roster": roster, "pitch": ROSTER_TABLE, "roster_line": roster_line}


@bp.get("/<int:year>/<city_code>/roster.pdf")
@login_required
def roster_pdf(year: int, city_code: str) -> Response:
    session, city = get_session(), _city(year, city_code)
    data = _pdf("aid/documents/roster.html", **roster_context(payment_roster(session, city, year)))
    return _city_download(data, PDF, year, city, "发放花名册", "roster")


# --- 发放情况报告 -------------------------------------------------------------


@bp.get("/<int:year>/<city_code>/reconciliation.pdf")
@login_required
def reconciliation_pdf(year: int, city_code: str) -> Response:
    session, city = get_session(), _city(year, city_code)
    report = reconciliation(session, city, year)
    data = _pdf("aid/documents/reconciliation.html", report=report)
    return _city_download(data, PDF, year, city, "发放情况报告", "reconciliation")


@bp.get("/<int:year>/<city_code>/reconciliation.xlsx")
@login_required
def reconciliation_xlsx(year: int, city_code: str) -> Response:
    session, city = get_session(), _city(year, city_code)
    report = reconciliation(session, city, year)
    with force_locale(RECORD_LOCALE):
        data = _reconciliation_workbook(report)
    return _city_download(data, XLSX, year, city, "发放情况报告", "reconciliation")


def _reconciliation_workbook(report: Reconciliation) -> bytes:
    header = [_("区县（产业）工会")]
    for label in (_("确认发放"), _("已发放"), _("待回盘"), _("失败待更正"), _("暂缓发放"), _("未发放合计")):
        header += [_("%(label)s人数", label=label), _("%(label)s金额", label=label)]
    keys = ("confirmed", "paid", "awaiting_bank", "failed", "withheld", "outstanding")
    rows: list[list[CellValue]] = [
        [line.district.name, *(value for key in keys for value in (getattr(line, key), getattr(line, f"{key}_amount")))]
        for line in [*report.districts, report.total]
    ]
    blank: list[CellValue] = [None] * (len(header) - 2)
    rows.append([_("省总工会拨付金额"), report.allocated if report.allocated is not None else _("尚未拨付"), *blank])
    rows.append([_("拨付文号"), report.allocation_document, *blank])
    rows.append([_("拨付日期"), report.allocated_on, *blank])
    verdict = {None: _("尚未拨付，无法核对"), True: _("已发放金额未超过拨付金额"), False: _("已发放金额超过拨付金额")}
    rows.append([_("核对结果"), verdict[report.within_allocation], *blank])
    return write_xlsx_sheets([(_("发放情况"), header, rows)])


# --- 个人档案 -----------------------------------------------------------------


@bp.get("/workers/<int:worker_id>/record.pdf")
@login_required
def worker_record_pdf(worker_id: int) -> Response:
    session = get_session()
    worker = session.get(AidWorker, worker_id)
    if worker is None or not may_see_worker(current_user.user, worker):
        abort(404)
    record = worker_record(session, worker)
    return document_download(_pdf("aid/documents/worker_record.html", record=record), PDF,
                     f"{worker.year}年援助个人档案-{worker.name}.pdf", f"aid-worker-{worker.id}.pdf")  # fmt: skip
