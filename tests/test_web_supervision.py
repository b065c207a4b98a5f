"""The 督办 pages (issue 8): 立项 through its page, the ledger and the matter as each user concerned sees them, and
the matter's panel beside a supervision task. Steps are driven through the workflow layer on the app's database."""

from __future__ import annotations

import html
import io
import re
from urllib.parse import parse_qs, urlsplit

import openpyxl
from flask import Flask, render_template
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.plan_helpers import plan_item
from tests.supervision_helpers import assign, in_days, item_of, register, report, sign
from tests.workflow_helpers import open_task
from workflows.calendar import beijing_today
from workflows.models import ProcessInstance
from workflows.queries import DEFAULT_PAGE_SIZE


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    answer = client.get(path)
    assert answer.status_code == status, (path, answer.status_code)
    return answer.get_data(as_text=True)


def test_a_department_registers_a_matter_on_its_page(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    auth.login("jingji1")
    form = page(client, "/supervision/new")
    assert '<option value="210200:finance"' in form and ">大连市总工会财务部</option>" in form
    assert '<option value="210211"' in form and 'name="co_units" multiple' in form
    data = {
        "title": "核实困难职工帮扶资金发放",
        "source": "会议议定",
        "content": "年底前全部发放到位。",
        "lead_unit": "210211",
        "co_units": ["210200:finance", "210211"],
        "deadline": "2000-01-01",
    }
    refused = client.post("/supervision/new", data=data)
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "办结时限：不能早于今天" in text and "协办单位：甘井子区总工会已是主办单位" in text
    assert 'value="210200:finance" selected' in text  # what was chosen stays chosen

    valid = {**data, "co_units": ["210200:finance", "210204"], "deadline": in_days(20)}
    accepted = client.post("/supervision/new", data=valid)
    assert accepted.status_code == 302
    case_number = accepted.headers["Location"].rsplit("/", 1)[-1]
    assert re.fullmatch(r"DB-\d{4}-\d{6}", case_number)
    shown = page(client, f"/supervision/{case_number}")
    assert f"已立项：{case_number}" in shown and "核实困难职工帮扶资金发放" in shown
    assert shown.count('data-state="未交办"') == 3 and 'data-step="assign"' in shown
    app_db.expire_all()
    case = app_db.query(ProcessInstance).filter_by(case_number=case_number).one()
    assert [unit.role for unit in item_of(app_db, case).units] == ["lead", "co", "co"]

    auth.logout()
    auth.login("haichang_gonghui")
    page(client, "/supervision/new", 404)  # a grassroots union registers nothing


def test_the_ledger_and_the_matter_follow_who_is_concerned(
    app: Flask, client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case = register(app_db, deadline=beijing_today().isoformat(), co_units="210204")
    assign(app_db, case)
    sign(app_db, case)
    report(app_db, case)
    handle = open_task(app_db, case, "handle")
    app_db.commit()

    auth.login("ganjingzi1")  # the lead unit
    ledger = page(client, "/supervision/")
    assert f'data-case="{case.case_number}"' in ledger and 'data-light="yellow"' in ledger
    assert "今天到期" in ledger and '<td data-figure="feedback-count">1</td>' in ledger
    assert f'data-case="{case.case_number}"' not in page(client, "/supervision/?light=red")
    matter = page(client, f"/supervision/{case.case_number}")
    assert f'href="/tasks/{handle.task_id}"' in matter and "已完成辖区摸底" in matter
    assert 'data-unit="甘井子区总工会" data-state="已签收"' in matter
    assert 'data-unit="沙河口区总工会" data-state="待反馈"' in matter

    auth.logout()
    auth.login("caiwu1")  # another department, not named
    assert f'data-case="{case.case_number}"' not in page(client, "/supervision/")
    page(client, f"/supervision/{case.case_number}", 404)

    auth.logout()
    auth.login("jingji_head")
    assert f'data-case="{case.case_number}"' in page(client, "/supervision/")
    waiting = open_task(app_db, register(app_db), "assign")
    app_db.commit()
    assign_page = page(client, f"/tasks/{waiting.task_id}")
    assert "交办决定" in assign_page and "不予交办" in assign_page

    with app.test_request_context():
        panel = render_template("supervision/task_panel.html", entry=handle)
    assert "按市总主席批示" in panel and "进展反馈" in panel and "沙河口区总工会" in panel


# --- One page at a time (issue 9 §2) ---------------------------------------------------------------------------------

SHOWN = re.compile(r'<tr data-case="([^"]+)"')
NEXT = re.compile(r'<a rel="next" href="([^"]+)"')


def shown(text: str) -> list[str]:
    return SHOWN.findall(text)


def next_link(text: str) -> str | None:
    found = NEXT.search(text)
    return html.unescape(found.group(1)) if found else None


def linked_matters(app_db: Session, count: int = 5) -> tuple[int, list[str]]:
    """`count` matters of plan item 11, due one day apart (so the ledger lists them in this order), and one more
    matter linked to nothing: a filter by the item leaves it out."""
    item = plan_item(app_db, 11)
    cases = [register(app_db, title=f"第{n}件帮扶督办", deadline=in_days(10 + n), plan_item_id=str(item.id))
             for n in range(count)]  # fmt: skip
    register(app_db, title="未关联事项的督办", deadline=in_days(3))
    app_db.commit()
    return item.id, [case.case_number or "" for case in cases]


def test_the_ledger_pages_and_keeps_its_filters(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    item_id, numbers = linked_matters(app_db)
    auth.login("jingji_head")

    first = page(client, f"/supervision/?plan_item={item_id}&per_page=2")
    assert shown(first) == numbers[:2]
    assert '<p class="hint" data-figure="total">督办事项 5 件</p>' in first and "第 1 / 3 页，共 5 条" in first
    assert 'rel="prev"' not in first
    link = next_link(first)
    assert link is not None
    assert parse_qs(urlsplit(link).query) == {"plan_item": [str(item_id)], "per_page": ["2"], "page": ["2"]}

    second = page(client, link)
    assert shown(second) == numbers[2:4] and "第 2 / 3 页，共 5 条" in second and 'rel="prev"' in second
    third_link = next_link(second)
    assert third_link is not None
    third = page(client, third_link)
    assert shown(third) == numbers[4:] and next_link(third) is None and "第 3 / 3 页，共 5 条" in third
    # The filter form keeps the chosen page size; choosing a filter starts again at page 1.
    assert '<input type="hidden" name="per_page" value="2">' in third
    assert 'name="page"' not in third

    everything = page(client, "/supervision/")  # unfiltered, 20 a page: the unlinked matter too
    assert set(numbers) < set(shown(everything)) and len(shown(everything)) == 6
    assert "督办事项 6 件" in everything and 'name="per_page"' not in everything


def test_a_nonsense_page_is_clamped_not_an_error(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    item_id, numbers = linked_matters(app_db)
    auth.login("jingji_head")
    listed = f"/supervision/?plan_item={item_id}"
    for arguments, rows, where in [
        ("page=abc&per_page=2", numbers[:2], "第 1 / 3 页"),
        ("page=-4&per_page=2", numbers[:2], "第 1 / 3 页"),
        ("page=0&per_page=2", numbers[:2], "第 1 / 3 页"),
        ("page=99&per_page=2", numbers[4:], "第 3 / 3 页"),  # past the end: the last page
        ("page=99999999999999999999&per_page=2", numbers[:2], "第 1 / 3 页"),
        ("page=2&per_page=0", numbers[1:2], "第 2 / 5 页"),  # at least one a page
        ("per_page=1000", numbers, "第 1 / 1 页"),  # at most MAX_PER_PAGE
        ("per_page=zwei", numbers, "第 1 / 1 页"),  # the default, 20
    ]:
        text = page(client, f"{listed}&{arguments}")
        assert shown(text) == rows and where in text, arguments


def test_the_plan_ledger_export_lists_every_matter_not_one_page(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    """The 督办台账 page has no export of its own; the plan's 台账 workbook lists the plan's matters, all of them."""
    _item_id, numbers = linked_matters(app_db, count=DEFAULT_PAGE_SIZE + 2)
    auth.login("jingji_head")
    assert len(shown(page(client, "/supervision/"))) == DEFAULT_PAGE_SIZE
    answer = client.get("/plans/ledger.xlsx?period=2026&scope=all")
    assert answer.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(answer.data), read_only=True)
    exported = [row[1] for row in book["督办事项"].iter_rows(min_row=3, values_only=True)]
    assert set(numbers) <= set(exported) and len(exported) == len(numbers)
