"""Documents of innovation studios and honours (issue 7 "Records"): PDFs and the registry's Excel export.

- `/studio/applications/<id>/record.pdf`: the application record with every opinion and score, for whoever may see
  the case (routing.can_view_case through `visible_case`; anyone else gets 404, as for every case page). Each
  expert's score and vote and an objector's name are printed only for those workflows.studio.access lets see them
  (the econ-labour department); anyone else reads how many experts sat and 不公开.
- `/studio/<year>/naming-list.pdf`, `/studio/funding-ledger.pdf?year=`, `/studio/registry.xlsx`,
  `/honours/<year>/list.pdf`: the city's lists, for the city federation's users (any department) and the province's
  (`workflows.studio.access.may_see_city_overview`); district and grassroots unions, the expert panel's accounts and
  other cities get 403.
  The city is the user's own; a province user names it with `?city=<code>` (a city user may too, for their own).

Data from `workflows.studio.reports`; PDFs through `webapp.records.html_to_pdf` (static files only, one render per
request) in the record locale, laid out by the aid documents' stylesheet and base template; Excel through
`workflows.tabular.write_xlsx_sheets` (formula-escaped).
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.aid_documents import PDF, document_download
from webapp.database import get_session
from webapp.records import RECORD_LOCALE, html_to_pdf
from workflows.db import utcnow
from workflows.errors import PermissionDenied
from workflows.models import Level, OrgUnit, StudioApplication
from workflows.queries import visible_case
from workflows.records import redact
from workflows.routing import load_routing
from workflows.studio.access import may_handle_objections, may_see_city_overview, may_see_panel_scores
from workflows.studio.calls import city_of
from workflows.studio.experts import hidden_panel_steps
from workflows.studio.reports import (
    RegistryRow,
    application_record,
    funding_ledger,
    honour_list,
    naming_list,
    registry_rows,
)
from workflows.tabular import CellValue, write_xlsx_sheets

bp = Blueprint("studio_documents", __name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Years a list can be asked for: the studio rules start in 2017; anything far outside is no list at all (404).
YEARS = range(2000, 2101)


class _BadParameter(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@bp.errorhandler(_BadParameter)
def _bad_parameter(exc: _BadParameter) -> tuple[str, int]:
    return render_template("error.html", title=_("请求无效"), message=exc.message, status=400), 400


def _pdf(template: str, **context: object) -> bytes:
    with force_locale(RECORD_LOCALE):
        html = render_template(template, generated_at=utcnow(), **context)
    return html_to_pdf(html)


def _year(year: int) -> int:
    if year not in YEARS:
        abort(404)
    return year


def _optional_year() -> int | None:
    text = request.args.get("year", "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and int(text) in YEARS):
        raise _BadParameter(_("年度（year）应为四位年份，如 2021；不填则列出全部年度"))
    return int(text)


def _city(session: Session) -> OrgUnit:
    """The city whose lists are asked for: `?city=<code>`, else the user's own; refused unless they may see it."""
    user = current_user.user
    code = request.args.get("city", "").strip()
    if code:
        city = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
        if city is None or city.level != Level.CITY:
            abort(404)
    else:
        own = city_of(session, user.org_unit)  # their unit at the city level, the city above them below it
        if own is None:
            if user.org_unit.level == Level.PROVINCE:
                raise _BadParameter(_("省总工会用户请在地址中指定城市：city=市总工会组织代码（如 210200）"))
            raise PermissionDenied(_("只有市总工会和省总工会的用户可以查看创新工作室和荣誉名单"))
        city = own
    if not may_see_city_overview(user, city):
        raise PermissionDenied(_("只有本市总工会和省总工会的用户可以查看本市的创新工作室和荣誉名单"))
    return city


# --- 申报审批表 ---------------------------------------------------------------------------------------------------


@bp.get("/studio/applications/<int:application_id>/record.pdf")
@login_required
def application_record_pdf(application_id: int) -> Response:
    session = get_session()
    application = session.get(StudioApplication, application_id)
    if application is None:
        abort(404)
    user = current_user.user
    instance = visible_case(session, user, application.instance_id, load_routing())  # NotFound: 404
    if hidden_panel_steps(session, user, instance):
        abort(403)  # an expert reads no other expert's vote while the round is open
    city = application.call.city_unit
    record = application_record(session, application, panel_scores=may_see_panel_scores(user, city),
                                objectors=may_handle_objections(user, city))  # fmt: skip
    data = _pdf("studio/documents/application_record.html", record=record)
    return document_download(data, PDF, f"创新工作室申报审批表-{record.case_number}.pdf",
                     f"studio-application-{record.case_number}.pdf")  # fmt: skip


# --- 命名名单、资金台账、名录、荣誉名单 ---------------------------------------------------------------------


@bp.get("/studio/<int:year>/naming-list.pdf")
@login_required
def naming_list_pdf(year: int) -> Response:
    session = get_session()
    city = _city(session)
    listed = naming_list(session, city, _year(year))
    data = _pdf("studio/documents/naming_list.html", listed=listed)
    return document_download(
        data, PDF, f"{year}年{city.name}创新工作室命名名单.pdf", f"studio-naming-{year}-{city.code}.pdf"
    )


@bp.get("/studio/funding-ledger.pdf")
@login_required
def funding_ledger_pdf() -> Response:
    session = get_session()
    city, year = _city(session), _optional_year()
    ledger = funding_ledger(session, city, year)
    data = _pdf("studio/documents/funding_ledger.html", ledger=ledger)
    period = f"{year}年" if year is not None else "全部年度"
    return document_download(data, PDF, f"{city.name}创新工作室资金拨付台账（{period}）.pdf",
                     f"studio-funding-{city.code}-{year if year is not None else 'all'}.pdf")  # fmt: skip


@bp.get("/studio/registry.xlsx")
@login_required
def registry_xlsx() -> Response:
    session = get_session()
    city = _city(session)
    with force_locale(RECORD_LOCALE):  # like the PDFs: the federation's Chinese document, whatever the UI language
        data = _registry_workbook(registry_rows(session, city))
    return document_download(data, XLSX, f"{city.name}创新工作室名录.xlsx", f"studio-registry-{city.code}.xlsx")


def _registry_workbook(rows: list[RegistryRow]) -> bytes:
    studios: list[Sequence[CellValue]] = [
        (r.number, r.name, r.studio_type, r.year, r.enterprise, r.uscc, r.tech_enterprise, r.lead_name,
         r.document_number, r.named_on, r.standing, r.revoked_on, r.funded,
         f"{r.assessments[-1].year}年 {r.assessments[-1].result}" if r.assessments else "")
        for r in rows
    ]  # fmt: skip
    history: list[Sequence[CellValue]] = [
        (r.name, r.studio_type, r.year, a.year, a.result, redact(a.opinion), a.rectification_deadline, a.recheck,
         redact(a.recheck_opinion))
        for r in rows
        for a in r.assessments
    ]  # fmt: skip
    return write_xlsx_sheets(
        [
            (_("工作室名录"), [_("序号"), _("工作室名称"), _("工作室类型"), _("命名年度"), _("所在单位"),
                              _("统一社会信用代码"), _("科技型企业"), _("领衔人"), _("命名文号"), _("命名日期"),
                              _("状态"), _("摘牌日期"), _("累计拨付资金（元）"), _("最近一次考核")], studios),
            (_("考核记录"), [_("工作室名称"), _("工作室类型"), _("命名年度"), _("考核年度"), _("考核结果"),
                            _("考核意见"), _("整改期限"), _("复查结果"), _("复查意见")], history),
        ]
    )  # fmt: skip


@bp.get("/honours/<int:year>/list.pdf")
@login_required
def honour_list_pdf(year: int) -> Response:
    session = get_session()
    city = _city(session)
    honours = honour_list(session, city, _year(year))
    data = _pdf("studio/documents/honour_list.html", honours=honours)
    return document_download(
        data, PDF, f"{year}年{city.name}劳动竞赛荣誉授予名单.pdf", f"honour-list-{year}-{city.code}.pdf"
    )
