"""The studio and honour pages (issue 7): calls and applications, the registry's assessment, the notice's objections,
the honours, and the panel on their task pages. Cases are driven through the workflow layer on the app's database
(tests.studio_helpers); the pages are what is tested."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.studio_helpers import (
    Clock,
    apply,
    close_notice,
    expert_votes,
    open_studio_call,
    recommend,
    review,
    to_notice,
)
from tests.workflow_helpers import complete, open_task, user
from workflows.calendar import beijing_today
from workflows.models import ProcessInstance, Studio, StudioApplication, TaskIndexEntry, TaskStatus
from workflows.operations import start_case
from workflows.studio.experts import hidden_panel_steps
from workflows.studio.notice import case_notice

TODAY = beijing_today()
THIS_YEAR = TODAY.year


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    answer = client.get(path)
    assert answer.status_code == status, (path, answer.status_code)
    return answer.get_data(as_text=True)


def test_the_city_opens_a_call_and_a_year_is_opened_once(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("jingji1")
    overview = page(client, "/studio/")
    assert 'href="/studio/"' in overview and f'href="/honours/{THIS_YEAR}"' in overview  # the topbar links the pages
    assert "尚未开启申报" in overview and 'action="/studio/calls"' in overview
    # Which figure comes from where: 2017 from seed 000 item 4, this year entered by hand (no quota source).
    assert "第4项" in overview and "须开启人填写" in overview
    deadline = (TODAY + timedelta(days=30)).isoformat()

    missing = client.post("/studio/calls", data={"year": str(THIS_YEAR), "deadline": deadline, "quota_worker": "5"})
    assert missing.status_code == 422
    assert f"劳模创新工作室名额：{THIS_YEAR}年没有名额来源" in missing.get_data(as_text=True)

    form = {"year": str(THIS_YEAR), "deadline": deadline, "quota_model_worker": "2", "quota_worker": "5"}
    assert client.post("/studio/calls", data=form).status_code == 302
    opened = page(client, "/studio/")
    assert f"已开启 {THIS_YEAR} 年创新工作室申报" in opened
    assert "劳模创新工作室：名额 2 个，已用 0 个，剩余 2 个" in opened
    assert "开启申报时由经办人填写" in opened and "100,000.00 元" in opened

    again = client.post("/studio/calls", data=form)
    assert again.status_code == 422
    assert f"申报年度：{THIS_YEAR}年的申报已经开启" in again.get_data(as_text=True)

    bad = client.post("/studio/calls", data={"year": "20x6", "deadline": "tomorrow"})
    assert bad.status_code == 422
    bad_page = bad.get_data(as_text=True)
    assert "申报年度：请填写四位年份" in bad_page and "申报截止日期：请填写日期" in bad_page


def test_each_user_sees_their_part_and_the_others_are_refused(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    open_studio_call(app_db)
    case = apply(app_db)
    app_db.commit()

    auth.login("haichang_gonghui")  # the applicant: the open call, its own application, the link to apply
    mine = page(client, "/studio/")
    assert "于海波劳模创新工作室" in mine and 'href="/start/studio_naming"' in mine
    assert f'href="/cases/{case.id}"' in mine and 'action="/studio/calls"' not in mine
    assert 'href="/start/honour_nomination"' in page(client, f"/honours/{THIS_YEAR}")
    page(client, "/studio/registry", 403)
    auth.logout()

    auth.login("shahekou1")  # another district: the call, not the other district's application
    other = page(client, "/studio/")
    assert "剩余 3 个" in other and "于海波劳模创新工作室" not in other and "/start/studio_naming" not in other
    auth.logout()

    for reader in ("caiwu1", "shengzong_jingji1", "admin"):  # the city's other departments, the province: read only
        auth.login(reader)
        overview = page(client, "/studio/")
        assert "于海波劳模创新工作室" in overview and 'action="/studio/calls"' not in overview
        assert "工作室名录" in page(client, "/studio/registry")
        assert client.post("/studio/calls", data={"year": "2025"}).status_code == 403
        assert client.post("/studio/registry/1/assessment", data={"year": "2026"}).status_code == 403
        auth.logout()

    auth.login("zhuanjia1")  # an expert's account: only the panel tasks given to it
    assert 'href="/studio/"' not in page(client, "/")
    for path in ("/studio/", "/studio/registry", f"/honours/{THIS_YEAR}"):
        page(client, path, 403)


def test_the_applications_table_and_the_panel_keep_scores_from_the_experts(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    open_studio_call(app_db)
    case = apply(app_db)
    recommend(app_db, case)
    review(app_db, case)
    expert_votes(app_db, case, {"zhuanjia1": ("92", "同意")})
    app_db.commit()

    auth.login("zhuanjia2")  # independent scoring: how many have voted, nobody's score
    [own] = [t for t in _expert_tasks(app_db, case) if t.assigned_to_id == user(app_db, "zhuanjia2").id]
    panel = page(client, f"/tasks/{own.task_id}")
    assert "已有 1 / 3 名专家表决" in panel and 'data-expert="zhuanjia1"' not in panel and "92.0" not in panel
    # Of the approval record, the other expert's vote is what this expert must not read; the department reads it.
    assert len(hidden_panel_steps(app_db, user(app_db, "zhuanjia2"), case)) == 1
    assert hidden_panel_steps(app_db, user(app_db, "jingji1"), case) == set()
    # ... nor on the task page's record, the case page, the API, or a printed record.
    assert "周国平" not in page(client, f"/cases/{case.id}")  # zhuanjia1, who has voted
    assert client.get(f"/cases/{case.id}/record.pdf").status_code == 403
    auth.logout()
    auth.login("jingji1")
    assert "周国平" in page(client, f"/cases/{case.id}")
    auth.logout()

    auth.login("jingji1")  # the department follows the round as it scores
    assert "平均 92.00 分，同意 1 / 3 票（评审中）" in page(client, "/studio/")
    auth.logout()

    expert_votes(app_db, case, {"zhuanjia2": ("88.5", "同意"), "zhuanjia3": ("80", "不同意")})
    app_db.commit()
    auth.login("jingji_head")
    overview = page(client, "/studio/")
    row = overview.split(f'data-application="{_application_id(app_db, case)}"')[1].split("</tr>")[0]
    for cell in ("于海波劳模创新工作室", "劳模创新工作室", "大连海昌机械制造有限公司", "甘井子区总工会", "<td>1</td>",
                 "88.0", "平均 86.83 分，同意 2 / 3 票", "申报中"):  # fmt: skip
        assert cell in row, cell
    leadership = page(client, f"/tasks/{open_task(app_db, case, 'leadership').task_id}")
    assert 'data-expert="zhuanjia1"' in leadership and "88.5" in leadership and "不同意" in leadership
    assert "平均分 86.83，同意 2 票，共 3 名专家" in leadership
    assert "劳模创新工作室：名额 3 个，已用 0 个，剩余 3 个" in leadership
    auth.logout()

    auth.login("caiwu1")  # the city's other departments read the table without the panel's figures
    assert "86.83" not in page(client, "/studio/")


def test_yellow_card_recheck_clears_it_and_a_red_card_revokes(
    client: FlaskClient, auth: AuthActions, app_db: Session, clock: Clock
) -> None:
    open_studio_call(app_db, year=THIS_YEAR - 2)  # named two years ago: assessed last year and this year
    case = to_notice(app_db)
    close_notice(app_db, case, clock)
    complete(app_db, "jingji1", case, "naming", {"document_number": "大工发〔2024〕8号", "named_on": TODAY.isoformat()})
    clock.set(TODAY)
    app_db.commit()
    studio = app_db.scalar(select(Studio))
    assert studio is not None
    assess, recheck = f"/studio/registry/{studio.id}/assessment", f"/studio/registry/{studio.id}/recheck"
    auth.login("jingji1")
    registry = page(client, "/studio/registry")
    assert f'data-due="{studio.id}"' in registry and 'data-standing="正常"' in registry

    last_year = {"year": str(THIS_YEAR - 1), "result": "黄牌", "opinion": "台账不全，活动记录缺失。"}
    refused = client.post(assess, data=last_year)
    assert refused.status_code == 422 and "整改期限：黄牌须规定整改期限" in refused.get_data(as_text=True)
    deadline = (TODAY + timedelta(days=60)).isoformat()
    assert client.post(assess, data=last_year | {"rectification_deadline": deadline}).status_code == 302
    yellow = page(client, "/studio/registry")
    assert 'data-standing="黄牌整改"' in yellow and f"整改期限 {deadline}，待复查" in yellow
    assert f'action="{recheck}"' in yellow and f'action="{assess}"' not in yellow

    unchosen = client.post(recheck, data={"recheck_opinion": "已整改。"})
    assert unchosen.status_code == 422 and "复查结论：请选择" in unchosen.get_data(as_text=True)
    assert client.post(recheck, data={"recheck_passed": "true", "recheck_opinion": "台账已补齐。"}).status_code == 302
    cleared = page(client, "/studio/registry")
    assert 'data-standing="正常"' in cleared and "整改到位：台账已补齐。" in cleared

    red = {"year": str(THIS_YEAR), "result": "红牌", "opinion": "工作室已停止活动。"}
    assert client.post(assess, data=red).status_code == 302
    revoked = page(client, "/studio/registry")
    assert 'data-standing="已摘牌"' in revoked and f"{TODAY.isoformat()} 摘牌" in revoked
    assert f'action="{assess}"' not in revoked and f'data-due="{studio.id}"' not in revoked
    again = client.post(assess, data=red)
    assert again.status_code == 422 and "已摘牌，不再考核" in again.get_data(as_text=True)


def test_objections_are_registered_during_the_notice_only(
    client: FlaskClient, auth: AuthActions, app_db: Session, clock: Clock
) -> None:
    open_studio_call(app_db)
    case = to_notice(app_db)
    app_db.commit()
    notice = case_notice(app_db, case)
    path = f"/notices/{case.case_number}"
    auth.login("jingji1")
    shown = page(client, path)
    assert notice.ends_on.isoformat() in shown and "5 个工作日" in shown and "公示期间未收到异议" in shown

    objection = {"received_on": notice.starts_on.isoformat(), "channel": "来信", "objector_name": "张某",
                 "objector_contact": "13904111234", "content": "该工作室申报的经济效益与企业年报不符。"}  # fmt: skip
    assert client.post(path, data=objection).status_code == 302
    registered = page(client, path)
    assert "张某" in registered and "13904111234" in registered and "经济效益与企业年报不符" in registered

    late = client.post(path, data=objection | {"received_on": (notice.ends_on + timedelta(days=1)).isoformat()})
    assert late.status_code == 422 and "收到日期：应在公示期内" in late.get_data(as_text=True)
    undated = client.post(path, data=objection | {"received_on": ""})
    assert undated.status_code == 422 and "收到日期：请填写日期" in undated.get_data(as_text=True)

    task_page = page(client, f"/tasks/{open_task(app_db, case, 'notice').task_id}")
    assert "经济效益与企业年报不符" in task_page and f'href="{path}"' in task_page
    assert "张某" not in task_page and "13904111234" not in task_page  # the objector only on the notice page
    auth.logout()

    for username, status in (("ganjingzi1", 403), ("shengzong_jingji1", 403), ("caiwu1", 404), ("zhongshan1", 404)):
        auth.login(username)
        page(client, path, status)
        assert client.post(path, data=objection).status_code == status
        auth.logout()

    close_notice(app_db, case, clock)
    app_db.commit()
    auth.login("jingji1")
    closed = client.post(path, data=objection)
    assert closed.status_code == 422 and "公示已结束，不能再登记异议" in closed.get_data(as_text=True)
    assert 'action="/notices/' not in page(client, path)


def test_the_honours_page_and_an_honour_on_notice(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    nomination = {"honour_type": "五一劳动奖章", "nominee_name": "王强", "nominee_position": "数控车工、技师",
                  "enterprise_uscc": "91210211MA0Q3R5K70", "tech_enterprise": "false",
                  "project_name": "大连湾海底隧道配套装备制造",
                  "deeds": "牵头攻关大型曲轴加工工艺，合格率由92%提高到99.5%。"}  # fmt: skip
    case = start_case(app_db, user(app_db, "haichang_gonghui"), "honour_nomination", nomination)
    complete(app_db, "ganjingzi1", case, "district_recommend", {"decision": "推荐", "rank": "1", "opinion": "同意。"})
    complete(app_db, "jingji1", case, "city_review", {"decision": "同意授予", "opinion": "同意授予。"})
    app_db.commit()
    auth.login("jingji1")
    honours = page(client, f"/honours/{THIS_YEAR}")
    assert '<tr data-honour="五一劳动奖状"><td>五一劳动奖状</td><td>20</td><td>0</td><td>20</td></tr>' in honours
    assert '<tr data-honour="五一劳动奖章"><td>五一劳动奖章</td><td>30</td><td>1</td><td>29</td></tr>' in honours
    assert "0.0%（0 / 1）" in honours  # the technology-enterprise share (seed 004 reports a percentage)
    assert case.case_number in honours and "王强" in honours and "公示中" in honours
    task_page = page(client, f"/tasks/{open_task(app_db, case, 'notice').task_id}")
    assert f"{THIS_YEAR}年五一劳动奖章" in task_page and "五一劳动奖章：名额 30 个，已用 1 个，剩余 29 个" in task_page
    assert "5 个工作日" in page(client, f"/notices/{case.case_number}")  # the notice page serves honours too
    page(client, "/honours/1999", 404)
    auth.logout()
    auth.login("xinghai_gonghui")  # another union's nomination is not theirs to see
    other = page(client, f"/honours/{THIS_YEAR}")
    assert "王强" not in other and 'href="/start/honour_nomination"' in other


def _expert_tasks(session: Session, case: ProcessInstance) -> list[TaskIndexEntry]:
    return list(
        session.scalars(
            select(TaskIndexEntry).where(
                TaskIndexEntry.instance_id == case.id,
                TaskIndexEntry.bpmn_id == "expert_review",
                TaskIndexEntry.status == TaskStatus.READY.value,
            )
        )
    )


def _application_id(session: Session, case: ProcessInstance) -> int:
    found = session.scalar(select(StudioApplication.id).where(StudioApplication.instance_id == case.id))
    assert found is not None
    return found
