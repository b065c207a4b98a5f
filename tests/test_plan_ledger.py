"""The plan's ledger (台账, issue #8 "ledger export contents"): the Excel workbook read back with openpyxl, the PDF
read back with pypdf: the title with the document number and period, item headings, units, figures, goals with
their sources, supervised matters; a period with nothing in it is all zeros, and a district's ledger is its own."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import openpyxl
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.plan_helpers import (
    DOCUMENT_NUMBER,
    NOW,
    Web,
    beijing,
    demo_plan,
    pdf_text,
    period,
    plan_item,
    supervised_matter,
    unit,
    web_on,
)
from tests.workflow_helpers import open_task, start_report, user
from workflows.inbox import near_due_limit
from workflows.models import SupervisionFeedback
from workflows.plans.ledger import ledger_xlsx, plan_ledger
from workflows.plans.urging import urge_unit

Rows = list[tuple[str, ...]]


@pytest.fixture
def web(world: Session, seeded_engine: Engine, tmp_path: Path) -> Iterator[Web]:
    yield from web_on(world, seeded_engine, tmp_path)


def sheets(data: bytes) -> dict[str, Rows]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return {
        sheet.title: [tuple("" if v is None else str(v) for v in row) for row in sheet.iter_rows(values_only=True)]
        for sheet in book.worksheets
    }


def line(rows: Rows, item: str, unit_name: str) -> tuple[str, ...]:
    found = [row for row in rows if row[0].startswith(item) and row[1] == unit_name]
    assert len(found) == 1, (item, unit_name)
    return found[0]


def test_ledger_workbook_contents(world: Session) -> None:
    case = start_report(world)
    open_task(world, case, "register_report").due_at = beijing(date(2026, 11, 17))  # overdue as of NOW
    urge_unit(world, user(world, "jingji_head"), plan_item(world, 13), unit(world, "210211").id, None, "请尽快登记。",
              now=NOW)  # fmt: skip
    matter = supervised_matter(world, plan_item(world, 11), title="帮扶资金发放督办")
    matter.escalated_at = NOW
    author = user(world, "baozhang1")
    world.add(SupervisionFeedback(item_id=matter.id, kind="progress", org_unit_id=author.org_unit_id,
                                  author_id=author.id, author_name=author.display_name, body="已发放一半"))  # fmt: skip
    world.flush()

    ledger = plan_ledger(world, demo_plan(world), period("2026"), now=NOW, near_limit=near_due_limit(NOW))
    book = sheets(ledger_xlsx(ledger))
    assert list(book) == ["责任分工台账", "督办事项"]
    lines = book["责任分工台账"]
    assert lines[0][0] == f"{DOCUMENT_NUMBER}责任分工落实台账（2026年）"
    assert lines[0][1].startswith("制表时间：2026年11月18日")
    assert lines[1] == ("事项", "责任单位", "牵头/配合", "待办", "超期", "临期", "本期办结", "灯", "本期催办次数",
                        "目标与进度")  # fmt: skip
    heading = "第13项 深入开展“查身边隐患、保职工安康、促企业发展”"
    assert line(lines, heading, "甘井子区总工会")[2:9] == ("配合", "1", "1", "0", "0", "红灯", "1")
    assert line(lines, heading, "合计")[3:9] == ("1", "1", "0", "0", "红灯", "1")
    assert line(lines, heading, "大连市总工会经济技术和劳动保护部")[2:9] == ("牵头", "0", "0", "0", "0", "绿灯", "0")
    assert line(lines, heading, "沙河口区总工会")[9] == "核查属实的隐患报告：0 件\n第一报告人奖励发放：0.00 元"
    total_5 = line(lines, "第5项", "合计")[9]
    assert "授予五一劳动奖状：0 个／年度目标20 个，完成0.0%（依据：大工办发〔2017〕28号 第5项" in total_5
    assert line(lines, "第11项", "大连市总工会生活保障部")[3] == "1"  # the supervised matter's open task
    assert "专项帮扶资金：暂无数据来源" in line(lines, "第11项", "合计")[9]

    matters = book["督办事项"]
    assert matters[1] == ("事项", "案件编号", "督办事项", "主办/协办单位", "办理期限", "状态", "反馈次数", "超期升级")
    assert len(matters) == 3
    row = matters[2]
    assert row[0] == "第11项" and row[1] == matter.instance.case_number and row[2] == "帮扶资金发放督办"
    assert row[3] == "主办：大连市总工会生活保障部" and row[4].startswith("2026-12-31") and row[6] == "1"
    assert row[7] == "已升级（2026年11月18日 10:00）"


def test_an_empty_period_is_all_zeros(world: Session, web: Web) -> None:
    client = web.as_user("jingji_head", world)
    answer = client.get("/plans/ledger.xlsx?period=2019&scope=all")
    assert answer.status_code == 200
    assert "2019年" in unquote(answer.headers["Content-Disposition"])
    lines = sheets(answer.data)["责任分工台账"][2:]
    assert sum(row[1] == "合计" for row in lines) == 15 and len(lines) == 15 + 3 * 16 + 10 * 22 + 2 * 23
    assert {row[3:9] for row in lines} == {("0", "0", "0", "0", "绿灯", "0")}
    assert {row[0].split(" ")[0] for row in lines} == {f"第{n}项" for n in range(1, 16)}

    pdf = client.get("/plans/ledger.pdf?period=2019-Q3")  # 我的部门 by default, as on the dashboard
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data)
    assert f"{DOCUMENT_NUMBER}责任分工落实台账（2019年第三季度）" in text and "制表时间" in text
    assert "第14项 加强对产业工人宣传" in text and "没有督办事项" in text and "第1项" not in text
    assert "长海县总工会 配合 0 0 0 0 绿灯 0" in text


def test_ledger_pdf_figures_and_a_districts_own_ledger(world: Session, web: Web) -> None:
    start_report(world)
    text = pdf_text(web.as_user("jingji_head", world).get("/plans/ledger.pdf?period=2026").data)
    assert "第13项 深入开展“查身边隐患" in text and "甘井子区总工会 配合 1 0 1 0 黄灯 0" in text
    district = web.as_user("ganjingzi1", world)
    lines = sheets(district.get("/plans/ledger.xlsx?period=2026").data)["责任分工台账"][2:]
    assert {row[1] for row in lines} == {"甘井子区总工会"} and len(lines) == 15
    assert line(lines, "第13项", "甘井子区总工会")[3:9] == ("1", "0", "1", "0", "黄灯", "0")
