"""The 责任分工 pages (issue #8): the dashboard per seat, an item with its rows, urge history and 尚未上线 processes,
the drill-down, 催办 through the form, and refusals (unknown period, outsiders, other units' rows).

The app runs on the test's rolled-back `world` connection (tests/plan_helpers.py `web`), so a request sees the
cases a test started and the test's rollback undoes what a request wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.plan_helpers import Web, plan_item, unit, web_on
from tests.workflow_helpers import start_report
from workflows.models import Notification, PlanUrge


@pytest.fixture
def web(world: Session, seeded_engine: Engine, tmp_path: Path) -> Iterator[Web]:
    yield from web_on(world, seeded_engine, tmp_path)


def items_listed(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-item="(\d+)"', html)]


def units_listed(html: str) -> list[str]:
    return re.findall(r'<tr data-unit="([^"]+)"', html)


def test_dashboard_for_a_department_head(world: Session, web: Web) -> None:
    start_report(world)  # a hazard report waiting at 甘井子区
    client = web.as_user("jingji_head", world)
    page = client.get("/plans/?period=2026")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # 我的部门 by default: the items the plan gives 经济技术和劳动保护部, as lead (4–7, 12, 13) or co-operating (14).
    assert items_listed(html) == [4, 5, 6, 7, 12, 13, 14]
    assert 'data-scope="mine"' in html and "大工办发〔2017〕28号" in html and "2026年" in html
    assert re.search(r'<tr data-item="13" data-light="yellow">', html)  # the new report is due within two days
    assert "年度目标 20 个" in html and "大工办发〔2017〕28号 第5项" in html  # item 5's goals with their source
    everything = client.get("/plans/?period=2026-Q4&scope=all").get_data(as_text=True)
    assert items_listed(everything) == list(range(1, 16)) and "2026年第四季度" in everything


def test_a_district_sees_only_its_own_row(world: Session, web: Web) -> None:
    start_report(world)
    client = web.as_user("ganjingzi1", world)
    html = client.get("/plans/").get_data(as_text=True)
    assert items_listed(html) == list(range(1, 16)) and 'data-scope="mine"' not in html
    item = plan_item(world, 13)
    page = client.get(f"/plans/items/{item.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert units_listed(html) == ["210211"] and "大连市总工会经济技术和劳动保护部</a>" not in html
    assert "data-urge-form" not in html  # districts do not urge
    own = client.get(f"/plans/items/{item.id}/units/{unit(world, '210211').id}")
    assert own.status_code == 200 and "安全隐患" in own.get_data(as_text=True)
    assert client.get(f"/plans/items/{item.id}/units/{unit(world, '210204').id}").status_code == 404
    city = unit(world, "210200").id
    assert client.get(f"/plans/items/{item.id}/units/{city}?department=econ-labour").status_code == 404


def test_item_page_urge_and_drill_down(world: Session, web: Web) -> None:
    case = start_report(world)
    item = plan_item(world, 13)
    ganjingzi = unit(world, "210211")
    client = web.as_user("jingji_head", world)
    html = client.get(f"/plans/items/{item.id}").get_data(as_text=True)
    assert "鼓励职工向上级工会报告、举报事故隐患" in html  # the item's text as the document prints it
    assert len(units_listed(html)) == 1 + 15 + 6  # the lead department, the districts, the industry unions
    assert 'data-urge-count="0"' in html and html.count("data-urge-form") == 21

    form = {"org_unit_id": str(ganjingzi.id), "department_code": "", "message": "请尽快登记。"}
    sent = client.post(f"/plans/items/{item.id}/urge", data=form)
    assert sent.status_code == 302
    html = client.get(f"/plans/items/{item.id}").get_data(as_text=True)
    assert 'data-urge-count="1"' in html and "请尽快登记。" in html and "张志强" in html
    assert world.scalar(select(func.count()).select_from(Notification).where(Notification.plan_item_id == item.id)) == 3
    again = client.post(f"/plans/items/{item.id}/urge", data={"org_unit_id": str(ganjingzi.id), "message": ""})
    assert again.status_code == 409 and "请勿频繁催办" in again.get_data(as_text=True)
    forged = client.post(f"/plans/items/{item.id}/urge", data={"org_unit_id": "999999"})
    assert forged.status_code == 422 and "不是第13项的责任单位" in forged.get_data(as_text=True)
    assert world.scalar(select(func.count()).select_from(PlanUrge)) == 1

    drill = client.get(f"/plans/items/{item.id}/units/{ganjingzi.id}?period=2026").get_data(as_text=True)
    assert case.case_number in drill and "登记查重" in drill and "部门待办（未认领）" in drill
    assert f'action="/cases/{case.id}/urge"' in drill  # a task holder is urged through the case's own 催办

    official = web.as_user("jingji1", world)
    assert official.post(f"/plans/items/{item.id}/urge", data={"org_unit_id": str(ganjingzi.id)}).status_code == 403
    assert "data-urge-form" not in official.get(f"/plans/items/{item.id}").get_data(as_text=True)


def test_processes_not_yet_deployed_and_read_only_province(world: Session, web: Web) -> None:
    client = web.as_user("shengzong_baozhang1", world)
    html = client.get(f"/plans/items/{plan_item(world, 1).id}").get_data(as_text=True)
    assert 'data-process="fee_remittance"' in html and "尚未上线" in html
    assert "data-urge-form" not in html
    assert items_listed(client.get("/plans/").get_data(as_text=True)) == list(range(1, 16))


def test_refusals(world: Session, web: Web) -> None:
    client = web.as_user("jingji_head", world)
    bad = client.get("/plans/?period=2026-Q5")
    assert bad.status_code == 400 and "统计期间“2026-Q5”无效" in bad.get_data(as_text=True)
    assert client.get("/plans/ledger.pdf?period=abc").status_code == 400
    assert client.get("/plans/items/999999").status_code == 404
    outsider = web.as_user("haichang_gonghui", world)
    refused = outsider.get("/plans/")
    assert refused.status_code == 403 and "责任分工方案" in refused.get_data(as_text=True)
    assert outsider.get(f"/plans/items/{plan_item(world, 13).id}").status_code == 404
    assert web.as_user("zhuanjia1", world).get("/plans/").status_code == 403
