"""Studio and honour documents (issue 7 "Records"): the application record, naming list, funding ledger, registry
export and honour list, and who may fetch them.

The business rows are written directly with the models on the seeded `world` (the documents read tables, not the
engine), so these tests do not depend on the studio diagrams. The web app runs on the same rolled-back connection
(`web`), so a request sees the rows without a commit. Step forms are test forms in a temporary folder: the record
must title every field from whatever form a step used, so these forms are not the process's. PDFs are read back with
pdftotext (poppler-utils, installed by dev.sh), spreadsheets with openpyxl.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

import forms.loader
from tests.workflow_helpers import ENTERPRISE_USCC, user
from webapp import create_app
from webapp import database as webapp_database
from workflows.models import (
    ApplicationStatus,
    ApprovalStep,
    Enterprise,
    HonourNomination,
    NoticeObjection,
    OrgUnit,
    ProcessInstance,
    ProcessVersion,
    PublicNotice,
    Studio,
    StudioApplication,
    StudioAssessment,
    StudioCall,
    StudioExpertScore,
    StudioFunding,
    TaskIndexEntry,
    User,
)
from workflows.policy.parameters import effective_parameter
from workflows.policy.studio import studio_funding, studio_parameters
from workflows.studio.reports import funding_ledger, honour_list, naming_list
from workflows.studio.step_fields import StepForms

DALIAN, SHENYANG = "210200", "210100"
MODEL, WORKER = "劳模创新工作室", "职工创新工作室"
T0 = datetime(2021, 3, 22, 1, 0, tzinfo=UTC)  # 09:00 Beijing

# Test forms: titles a process's forms could have. The record must print these titles, whatever the keys.
FORMS: dict[str, dict[str, Any]] = {
    "t-recommend": {"decision": {"type": "string", "title": "推荐结论"},
                    "rank": {"type": "integer", "title": "本单位推荐排序"},
                    "opinion": {"type": "string", "title": "推荐意见"}},
    "t-review": {"site_visit_date": {"type": "string", "format": "date", "title": "实地考察日期"},
                 "scores": {"type": "object", "title": "实地考察评分表", "properties": {
                     "team": {"type": "integer", "title": "创新团队（15分）"},
                     "site": {"type": "integer", "title": "固定场所（10分）"},
                     "results": {"type": "integer", "title": "创新成效（30分）"}}},
                 "materials_complete": {"type": "boolean", "title": "申报材料齐全"},
                 "decision": {"type": "string", "title": "审核结论"},
                 "opinion": {"type": "string", "title": "审核意见"}},
    "t-expert": {"score": {"type": "number", "title": "评分"}, "decision": {"type": "string", "title": "表决意见"},
                 "opinion": {"type": "string", "title": "评审意见"}},
    "t-meeting": {"meeting_name": {"type": "string", "title": "会议名称"},
                  "minutes_number": {"type": "string", "title": "会议纪要编号"},
                  "decision": {"type": "string", "title": "会议决定"},
                  "opinion": {"type": "string", "title": "会议意见"}},
    "t-verify": {"conclusion": {"type": "string", "title": "核实结论"},
                 "finding": {"type": "string", "title": "核实情况"}},
    "t-naming": {"document_number": {"type": "string", "title": "命名文号"},
                 "named_on": {"type": "string", "format": "date", "title": "命名日期"}},
    "t-funding": {"amount": {"type": "number", "format": "money", "title": "拨付金额（元）"},
                  "voucher_number": {"type": "string", "title": "拨付凭证号"}},
}  # fmt: skip


def pdf_text(data: bytes, *, layout: bool = True) -> str:
    """The PDF's text: laid out as printed (a table row on one line), or in drawing order (a cell's lines together)."""
    assert data.startswith(b"%PDF")
    mode = "-layout" if layout else "-raw"
    done = subprocess.run(["pdftotext", mode, "-", "-"], input=data, capture_output=True, check=True)
    return done.stdout.decode("utf-8")


def compact(text: str) -> str:
    """Without spaces and line breaks: a cell may wrap anywhere."""
    return re.sub(r"\s", "", text)


def unit(session: Session, code: str) -> OrgUnit:
    found = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    assert found is not None
    return found


def enterprise(session: Session) -> Enterprise:
    found = session.scalar(select(Enterprise).where(Enterprise.uscc == ENTERPRISE_USCC))
    assert found is not None
    return found


# --- The web app on the test's own connection --------------------------------------------------------------------


@dataclass
class Web:
    client: FlaskClient

    def as_user(self, account: User | None) -> FlaskClient:
        with self.client.session_transaction() as cookie:
            cookie.clear()
            if account is not None:
                cookie["_user_id"], cookie["_fresh"] = str(account.id), True
        return self.client


@pytest.fixture
def web(world: Session, seeded_engine: Engine, tmp_path: Path) -> Iterator[Web]:
    """The app with every request's session on `world`'s connection: it sees the test's flushed rows, and the
    rollback at the end of the test undoes whatever a request wrote."""
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False, "UPLOAD_DIR": str(tmp_path / "files"),
         "DATABASE_URL": seeded_engine.url.render_as_string(hide_password=False)}
    )  # fmt: skip
    engine, _factory = app.extensions[webapp_database.EXTENSION]
    factory = sessionmaker(bind=world.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)
    app.extensions[webapp_database.EXTENSION] = (engine, factory)
    yield Web(app.test_client())
    engine.dispose()


@pytest.fixture
def test_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "forms"
    folder.mkdir()
    for name, fields in FORMS.items():
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": fields}
        (folder / f"{name}-schema.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(forms.loader, "FORMS_DIR", folder)


# --- Building the rows -------------------------------------------------------------------------------------------


def new_case(session: Session, title: str, number: str, starter: str = "haichang_gonghui") -> ProcessInstance:
    version = session.scalars(select(ProcessVersion).order_by(ProcessVersion.id)).first()
    assert version is not None
    by = user(session, starter)
    case = ProcessInstance(case_number=number, process_version_id=version.id, process_key="studio_naming",
                           title=title, started_by_id=by.id, home_unit_id=by.org_unit_id, created_at=T0)  # fmt: skip
    session.add(case)
    session.flush()
    return case


def call(session: Session, year: int, model_quota: int = 30, worker_quota: int = 50) -> StudioCall:
    params = studio_parameters(session, year)
    opened = StudioCall(
        city_unit_id=unit(session, DALIAN).id, year=year, deadline=date(year, 3, 31), model_worker_quota=model_quota,
        worker_quota=worker_quota, model_worker_funding=studio_funding(MODEL, year, params),
        worker_funding=studio_funding(WORKER, year, params), quota_source="大工办发〔2017〕28号 第4项（措施四）",
        funding_source=effective_parameter(session, "studio.worker.funding", date(year, 1, 1)).source,
        opened_by_id=user(session, "jingji1").id,
    )  # fmt: skip
    session.add(opened)
    session.flush()
    return opened


def application(session: Session, opened: StudioCall, name: str, studio_type: str = WORKER,
                tech: bool = False) -> StudioApplication:  # fmt: skip
    number = f"GZS-{opened.year}-{uuid.uuid4().hex[:6]}"
    applicant = user(session, "haichang_gonghui").org_unit
    row = StudioApplication(
        instance_id=new_case(session, f"{name}命名申报", number).id, call_id=opened.id, studio_name=name,
        studio_type=studio_type, enterprise_id=enterprise(session).id, tech_enterprise=tech,
        applicant_unit_id=applicant.id, district_unit_id=unit(session, "210211").id, lead_name="赵志刚",
        lead_honour="市级劳动模范", lead_position="数控车间主任、高级技师", members="王强 技师\n李娜 工程师",
        running_since=date(2015, 6, 1), patents=7, economic_benefit=Decimal("1234567.80"), techniques=12,
        results_summary="攻克大型曲轴加工变形难题，年节约成本百万元。", training_sessions=24, trained_workers=380,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def named(session: Session, row: StudioApplication, on: date, document: str) -> Studio:
    studio = Studio(application_id=row.id, name=row.studio_name, studio_type=row.studio_type, year=row.call.year,
                    city_unit_id=row.call.city_unit_id, enterprise_id=row.enterprise_id, lead_name=row.lead_name,
                    document_number=document, named_on=on)  # fmt: skip
    row.status = ApplicationStatus.NAMED.value
    session.add(studio)
    session.flush()
    return studio


def funded(session: Session, studio: Studio, voucher: str, paid_on: date) -> StudioFunding:
    """The naming year's amount by that year's rule (2017: 30,000 / 50,000 yuan; 2021: 100,000 yuan)."""
    amount = studio_funding(studio.studio_type, studio.year, studio_parameters(session, studio.year))
    rule = effective_parameter(session, "studio.worker.funding", date(studio.year, 1, 1)).source
    payment = StudioFunding(studio_id=studio.id, year=studio.year, amount=amount, rule_source=rule,
                            voucher_number=voucher, paid_on=paid_on,
                            recorded_by_id=user(session, "caiwu1").id)  # fmt: skip
    session.add(payment)
    session.flush()
    return payment


def step(session: Session, case: ProcessInstance, username: str, title: str, form: str, data: dict[str, Any],
         at: datetime) -> ApprovalStep:  # fmt: skip
    """A decided step as the engine layer writes it, and its completed task-index row (which names its form)."""
    actor, task_id = user(session, username), str(uuid.uuid4())
    decided = ApprovalStep(
        instance_id=case.id, task_id=task_id, bpmn_id=form.replace("-", "_"), step_title=title, actor_id=actor.id,
        actor_name=actor.display_name, actor_role=actor.role, org_unit_id=actor.org_unit_id,
        org_unit_name=actor.org_unit.name, department_code=actor.department_code, decision=data.get("decision"),
        opinion=data.get("opinion"), data=data, data_hash="0" * 64, completed_at=at,
    )  # fmt: skip
    session.add(decided)
    session.add(
        TaskIndexEntry(
            instance_id=case.id, task_id=task_id, bpmn_id=decided.bpmn_id, title=title, process_key=case.process_key,
            case_number=case.case_number or "", case_title=case.title, lane="—", org_unit_id=actor.org_unit_id,
            department_code=actor.department_code, form_name=form, status="completed", ready_at=at,
            completed_by_id=actor.id, completed_at=at,
        )
    )  # fmt: skip
    session.flush()
    return decided


# --- 申报审批表 ------------------------------------------------------------------------------------------------

RECOMMEND = "该工作室创新成果突出，同意推荐。"
REVIEW = "材料齐全，现场考察情况良好，提交专家评审。"
# Experts who take no other step of the case, so their names appear only with their votes.
VOTES = [("xuanjiao1", Decimal("86.5"), "同意", "团队结构合理，成果转化好。"),
         ("bangong1", Decimal("90.0"), "同意", "建议命名。"),
         ("shengzong_jingji1", Decimal("78.0"), "不同意", "培训覆盖面偏小。")]  # fmt: skip
MEETING = "经主席办公会研究，同意命名。"
OBJECTION = "反映该工作室部分专利并非团队成员取得。"
FINDING = "经核实，相关专利发明人均为工作室成员，异议不成立。"


def decided_application(session: Session) -> StudioApplication:
    """A 2021 application through every opinion: recommendation, review with its score sheet, a panel of three,
    the meeting, a notice with one objection found unfounded, naming and funding."""
    row = application(session, call(session, 2021), "赵志刚劳模创新工作室", MODEL, tech=True)
    row.district_rank, row.site_score = 2, Decimal("49.0")
    case = row.instance
    at = [T0 + timedelta(days=n) for n in range(30)]
    step(session, case, "ganjingzi1", "区县工会推荐", "t-recommend",
         {"decision": "推荐", "rank": 2, "opinion": RECOMMEND}, at[0])  # fmt: skip
    step(session, case, "jingji1", "市总工会审核", "t-review",
         {"site_visit_date": "2021-03-24", "scores": {"team": 13, "site": 9, "results": 27},
          "materials_complete": True, "decision": "提交专家评审", "opinion": REVIEW}, at[3])  # fmt: skip
    for n, (expert, score, vote, opinion) in enumerate(VOTES):
        when = at[5] + timedelta(hours=n)
        step(session, case, expert, "专家评审", "t-expert",
             {"score": str(score), "decision": vote, "opinion": opinion}, when)  # fmt: skip
        session.add(StudioExpertScore(application_id=row.id, panel_round=1, expert_id=user(session, expert).id,
                                      score=score, decision=vote, opinion=opinion, scored_at=when))  # fmt: skip
    step(session, case, "jingji_head", "领导班子会议决定", "t-meeting",
         {"meeting_name": "市总工会主席办公会", "minutes_number": "纪要〔2021〕5号", "decision": "同意命名",
          "opinion": MEETING}, at[9])  # fmt: skip
    # 公示 from Tuesday 6 April (after the 清明 holiday) for 5 working days; one letter, found unfounded.
    notice = PublicNotice(instance_id=case.id, starts_on=date(2021, 4, 6), ends_on=date(2021, 4, 12), working_days=5,
                          closed_at=at[22])  # fmt: skip
    notice.objections.append(
        NoticeObjection(received_on=date(2021, 4, 8), channel="来信", objector_name="王某",
                        objector_contact="13904111234", content=OBJECTION, registered_by_id=user(session, "jingji1").id,
                        upheld=False, finding=FINDING, verified_by_id=user(session, "jingji2").id, verified_at=at[19])
    )  # fmt: skip
    session.add(notice)
    step(session, case, "jingji2", "异议核实", "t-verify", {"conclusion": "异议不成立", "finding": FINDING}, at[19])
    step(session, case, "jingji1", "命名", "t-naming",
         {"document_number": "大工发〔2021〕12号", "named_on": "2021-04-20"}, at[29])  # fmt: skip
    studio = named(session, row, date(2021, 4, 20), "大工发〔2021〕12号")
    payment = funded(session, studio, "财拨〔2021〕88号", date(2021, 4, 28))
    step(session, case, "caiwu1", "拨付资金", "t-funding",
         {"amount": str(payment.amount), "voucher_number": "财拨〔2021〕88号"}, at[29] + timedelta(days=8))  # fmt: skip
    return row


@pytest.mark.usefixtures("test_forms")
def test_the_application_record_prints_every_opinion_and_score_in_order(world: Session, web: Web) -> None:
    row = decided_application(world)

    answer = web.as_user(user(world, "jingji1")).get(f"/studio/applications/{row.id}/record.pdf")

    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.headers["Cache-Control"] == "private, no-store"
    assert f"studio-application-{row.instance.case_number}.pdf" in answer.headers["Content-Disposition"]
    text, flat = pdf_text(answer.data), compact(pdf_text(answer.data, layout=False))
    # The application.
    for value in ("赵志刚劳模创新工作室", ENTERPRISE_USCC, "市级劳动模范", "1,234,567.80", "攻克大型曲轴加工变形难题"):
        assert value in flat, value
    # Each step with its form's titles: the ranking, the score sheet with its total (13 + 9 + 27), the meeting.
    assert "本单位推荐排序2" in flat and RECOMMEND in flat
    assert "实地考察日期2021年3月24日" in flat and "申报材料齐全是" in flat and "推荐排序2" in flat
    assert re.search(r"创新团队（15分）\s+13", text) and re.search(r"合计\s+49\b", text), text
    assert "会议纪要编号纪要〔2021〕5号" in flat and MEETING in flat
    # The panel: every expert's score, vote and opinion once (their own steps are folded into the round).
    assert "专家评审（第1轮）" in flat
    for expert, score, vote, opinion in VOTES:
        name = user(world, expert).display_name
        assert re.search(rf"{name}\s+{score}\s+{vote}", text), (name, text)
        assert flat.count(compact(opinion)) == 1, opinion
    assert re.search(r"平均分\s+84\.83", text) and "同意2票，共3票" in flat
    # The notice: the objection, its finding, the objector's mobile masked.
    assert "2021年4月6日至2021年4月12日（5个工作日）" in flat
    assert OBJECTION in flat and FINDING in flat and "异议不成立" in flat
    assert "王某（139****1234）" in flat and "13904111234" not in flat
    # Naming and the 2021 funding by its rule.
    assert "命名文号大工发〔2021〕12号" in flat and "100,000.00" in flat and "财拨〔2021〕88号" in flat
    # In the order given: recommendation, review, panel, meeting, verification, naming, funding.
    marks = [RECOMMEND, REVIEW, "专家评审（第1轮）", MEETING, "核实结论异议不成立", "命名日期2021年4月20日",
             "拨付凭证号"]  # fmt: skip
    positions = [flat.index(compact(mark)) for mark in marks]
    assert positions == sorted(positions), list(zip(marks, positions, strict=True))


@pytest.mark.usefixtures("test_forms")
def test_the_applicant_reads_the_record_without_expert_scores_or_the_objector(world: Session, web: Web) -> None:
    """Each expert's score and vote and the objector are for the city's econ-labour department (studio.access)."""
    row = decided_application(world)

    answer = web.as_user(user(world, "haichang_gonghui")).get(f"/studio/applications/{row.id}/record.pdf")

    assert answer.status_code == 200
    flat = compact(pdf_text(answer.data, layout=False))
    assert "共3名专家评审" in flat and RECOMMEND in flat and MEETING in flat and OBJECTION in flat
    for expert, _score, _vote, opinion in VOTES:
        assert user(world, expert).display_name not in flat and compact(opinion) not in flat
    assert "平均分" not in flat and "84.83" not in flat and "评审专家" not in flat
    assert "王某" not in flat and "1234" not in flat and "不公开" in flat


def test_the_record_is_only_for_those_who_may_see_the_case(world: Session, web: Web) -> None:
    row = application(world, call(world, 2021), "王军职工创新工作室")
    assert web.as_user(user(world, "zhongshan1")).get(f"/studio/applications/{row.id}/record.pdf").status_code == 404
    assert web.as_user(user(world, "haichang_gonghui")).get("/studio/applications/999999/record.pdf").status_code == 404
    anonymous = web.as_user(None).get(f"/studio/applications/{row.id}/record.pdf")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_a_step_without_an_index_row_takes_its_form_from_the_deployed_diagram(world: Session) -> None:
    hazard = world.scalars(select(ProcessVersion).where(ProcessVersion.process_key == "hazard_report")).first()
    assert hazard is not None
    case = new_case(world, "隐患", "YH-TEST-1")
    case.process_version_id, case.process_key = hazard.id, "hazard_report"
    world.flush()
    verify = ApprovalStep(instance_id=case.id, task_id="gone", bpmn_id="verify", step_title="现场核查", actor_id=1,
                          actor_name="x", actor_role="official", org_unit_id=1, org_unit_name="x", data={},
                          data_hash="0")  # fmt: skip
    world.refresh(case)

    form = StepForms(world, case).form(verify)

    assert form is not None and form.name == "hazard-verify"


# --- 命名名单 -----------------------------------------------------------------------------------------------------


def named_studios(session: Session) -> dict[str, Studio]:
    """2021 (quotas 30 / 50): two model-worker studios, one worker studio; 2017: one worker studio."""
    this, earlier = call(session, 2021), call(session, 2017)
    on, document = date(2021, 5, 20), "大工发〔2021〕12号"
    return {
        "乙": named(session, application(session, this, "乙劳模创新工作室", MODEL, tech=True), on, document),
        "甲": named(session, application(session, this, "甲劳模创新工作室", MODEL), on, document),
        "丙": named(session, application(session, this, "丙职工创新工作室", WORKER), on, document),
        "丁": named(session, application(session, earlier, "丁职工创新工作室", WORKER), date(2017, 6, 1),
                   "大工发〔2017〕30号"),
    }  # fmt: skip


def test_the_naming_list_counts_each_type_against_the_quota(world: Session, web: Web) -> None:
    named_studios(world)
    listed = naming_list(world, unit(world, DALIAN), 2021)
    assert [(s.studio_type, s.name) for s in listed.studios] == [
        (MODEL, "乙劳模创新工作室"), (MODEL, "甲劳模创新工作室"), (WORKER, "丙职工创新工作室")
    ]  # fmt: skip
    assert [(c.label, c.count, c.quota, c.left) for c in listed.counts] == [(MODEL, 2, 30, 28), (WORKER, 1, 50, 49)]

    answer = web.as_user(user(world, "jingji1")).get("/studio/2021/naming-list.pdf")

    assert answer.status_code == 200
    text = pdf_text(answer.data)
    assert "大连市总工会2021年度创新工作室命名名单" in compact(text)
    assert re.search(rf"{MODEL}\s+2\s+30\s+28", text) and re.search(rf"{WORKER}\s+1\s+50\s+49", text), text
    assert re.search(r"合计\s+3\b", text) and "丁职工创新工作室" not in text
    assert compact(text).index("乙劳模创新工作室") < compact(text).index("丙职工创新工作室")


# --- 资金拨付台账 -------------------------------------------------------------------------------------------------


def test_the_funding_ledger_totals_each_year_to_the_fen(world: Session, web: Web) -> None:
    studios = named_studios(world)
    funded(world, studios["丁"], "财拨〔2017〕7号", date(2017, 7, 1))  # 2017 worker studio: 30,000.00
    funded(world, studios["甲"], "财拨〔2021〕88号", date(2021, 6, 1))  # 2021: 100,000.00 each
    funded(world, studios["丙"], "财拨〔2021〕89号", date(2021, 6, 2))
    dalian = unit(world, DALIAN)

    ledger = funding_ledger(world, dalian)
    assert [(y.year, y.count, y.amount) for y in ledger.years] == [
        (2017, 1, Decimal("30000.00")), (2021, 2, Decimal("200000.00"))
    ]  # fmt: skip
    assert ledger.amount == Decimal("230000.00") and [r.number for g in ledger.years for r in g.rows] == [1, 2, 3]
    assert funding_ledger(world, dalian, 2021).amount == Decimal("200000.00")

    answer = web.as_user(user(world, "caiwu1")).get("/studio/funding-ledger.pdf")
    assert answer.status_code == 200
    text = pdf_text(answer.data)
    assert re.search(r"2017年小计\s+1\s*笔\s+30,000\.00", text), text
    assert re.search(r"2021年小计\s+2\s*笔\s+200,000\.00", text), text
    assert re.search(r"总计\s+3\s*笔\s+230,000\.00", text), text
    assert re.search(r"30,000\.00\s+依据1", text) and re.search(r"依据1\s+大工办发〔2017〕28号 第4项", text), text
    assert "财拨〔2017〕7号" in compact(pdf_text(answer.data, layout=False))
    one_year = pdf_text(web.client.get("/studio/funding-ledger.pdf?year=2017").data)
    assert re.search(r"总计\s+1\s*笔\s+30,000\.00", one_year) and "财拨〔2021〕" not in one_year
    assert web.client.get("/studio/funding-ledger.pdf?year=二〇二一").status_code == 400


# --- 工作室名录 (Excel) --------------------------------------------------------------------------------------------


def test_the_registry_exports_studios_and_their_assessment_history(world: Session, web: Web) -> None:
    studios = named_studios(world)
    assessor = user(world, "jingji1").id
    funded(world, studios["丁"], "财拨〔2017〕7号", date(2017, 7, 1))
    yellow = StudioAssessment(studio_id=studios["丁"].id, year=2018, result="黄牌", opinion="活动记录不全。",
                              rectification_deadline=date(2018, 12, 31), assessed_by_id=assessor, recheck_passed=True,
                              recheck_opinion="已整改到位。")  # fmt: skip
    red = StudioAssessment(
        studio_id=studios["丁"].id, year=2019, result="红牌", opinion="=停止活动一年", assessed_by_id=assessor
    )  # a leading = is escaped, never a formula
    studios["丁"].standing, studios["丁"].revoked_on = "已摘牌", date(2019, 12, 20)
    world.add_all([yellow, red])
    world.flush()

    answer = web.as_user(user(world, "bangong1")).get("/studio/registry.xlsx")  # any department of the city

    assert answer.status_code == 200 and "attachment" in answer.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(answer.data))
    assert book.sheetnames == ["工作室名录", "考核记录"]
    rows = list(book["工作室名录"].iter_rows(values_only=True))
    assert rows[0][:4] == ("序号", "工作室名称", "工作室类型", "命名年度") and len(rows) == 5
    first = rows[1]  # 2017 first
    assert first[1:4] == ("丁职工创新工作室", WORKER, "2017") and first[5] == ENTERPRISE_USCC
    assert first[10:] == ("已摘牌", "2019-12-20", "30000.00", "2019年 红牌")
    assert [r[1] for r in rows[2:]] == ["乙劳模创新工作室", "甲劳模创新工作室", "丙职工创新工作室"]
    assert rows[2][6] == "是" and rows[3][6] == "否"
    history = list(book["考核记录"].iter_rows(values_only=True))
    assert history[1:] == [
        (
            "丁职工创新工作室",
            WORKER,
            "2017",
            "2018",
            "黄牌",
            "活动记录不全。",
            "2018-12-31",
            "复查通过",
            "已整改到位。",
        ),
        ("丁职工创新工作室", WORKER, "2017", "2019", "红牌", "'=停止活动一年", None, None, None),
    ]


# --- 荣誉授予名单 -------------------------------------------------------------------------------------------------


def nomination(session: Session, honour: str, name: str, tech: bool, status: str = ApplicationStatus.AWARDED.value,
               year: int = 2021) -> HonourNomination:  # fmt: skip
    row = HonourNomination(
        instance_id=new_case(session, f"{name}荣誉推荐", f"RY-{year}-{uuid.uuid4().hex[:6]}").id,
        city_unit_id=unit(session, DALIAN).id, year=year, honour_type=honour,
        nominee_kind="集体" if honour in ("五一劳动奖状", "工人先锋号") else "个人", nominee_name=name,
        enterprise_id=enterprise(session).id, tech_enterprise=tech,
        nominating_unit_id=user(session, "haichang_gonghui").org_unit_id, district_unit_id=unit(session, "210211").id,
        project_name="大连湾海底隧道工程", deeds="攻坚克难，提前完成节点目标。", status=status,
        document_number="大工发〔2021〕20号" if status == ApplicationStatus.AWARDED else None,
        awarded_on=date(2021, 4, 28) if status == ApplicationStatus.AWARDED else None,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def test_the_honour_list_shows_quotas_and_the_tech_enterprise_share(world: Session, web: Web) -> None:
    nomination(world, "五一劳动奖状", "海昌机械一车间", tech=True)
    nomination(world, "五一劳动奖状", "海昌机械二车间", tech=False)
    nomination(world, "五一劳动奖章", "赵志刚", tech=True)
    nomination(world, "工人先锋号", "公示中的班组", tech=False, status=ApplicationStatus.ON_NOTICE.value)
    nomination(world, "工人先锋号", "上一年的班组", tech=False, year=2020)

    honours = honour_list(world, unit(world, DALIAN), 2021)
    assert [(g.honour_type, g.count, g.quota, g.left) for g in honours.groups] == [
        ("五一劳动奖状", 2, 20, 18), ("五一劳动奖章", 1, 30, 29), ("工人先锋号", 0, 50, 50), ("优秀班组长", 0, 50, 50)
    ]  # fmt: skip
    assert (honours.count, honours.tech_count, honours.tech_share) == (3, 2, Decimal("66.7"))
    assert honours.groups[0].tech_share == Decimal("50.0") and honours.groups[2].tech_share is None

    answer = web.as_user(user(world, "shengzong_jingji1")).get(f"/honours/2021/list.pdf?city={DALIAN}")
    assert answer.status_code == 200
    text = pdf_text(answer.data)
    assert re.search(r"五一劳动奖状\s+2\s+20\s+18\s+1\s+50\.0%", text), text
    assert re.search(r"合计\s+3\s+2\s+66\.7%", text) and "公示中的班组" not in text and "上一年的班组" not in text
    assert "赵志刚（个人）" in compact(text) and "海昌机械一车间（集体）" in compact(text)


# --- Who may fetch the city's lists ------------------------------------------------------------------------------


def test_the_city_lists_are_for_the_city_federation_and_the_province(world: Session, web: Web) -> None:
    named_studios(world)
    other_city = User(username="shenyang1", display_name="沈阳市经办人", password_hash="x",
                      org_unit_id=unit(world, SHENYANG).id)  # fmt: skip
    # An expert panel account: the city federation's, outside every department; it sees only its panel tasks.
    expert = User(username="zhuanjia_t", display_name="专家", password_hash="x", org_unit_id=unit(world, DALIAN).id)
    world.add_all([other_city, expert])
    world.flush()
    ledger, registry = "/studio/funding-ledger.pdf", "/studio/registry.xlsx"

    for refused in (user(world, "ganjingzi1"), user(world, "haichang_gonghui"), expert):
        answer = web.as_user(refused).get(ledger)
        assert answer.status_code == 403 and "市总工会和省总工会" in answer.get_data(as_text=True), refused
    assert web.as_user(other_city).get(f"{registry}?city={DALIAN}").status_code == 403
    assert web.client.get("/honours/2021/list.pdf").status_code == 200  # their own city: an empty list
    assert web.as_user(user(world, "baozhang1")).get(f"{registry}?city={SHENYANG}").status_code == 403
    assert web.client.get(f"{registry}?city=999999").status_code == 404
    province = web.as_user(user(world, "shengzong_baozhang1"))
    without_city = province.get(registry)
    assert without_city.status_code == 400 and "city=" in without_city.get_data(as_text=True)
    assert province.get(f"{registry}?city={DALIAN}").status_code == 200
    assert web.as_user(user(world, "baozhang1")).get("/studio/1800/naming-list.pdf").status_code == 404
    anonymous = web.as_user(None).get(registry)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
