"""The 督办 pages (issue 8): 立项 through its page, the ledger and the matter as each user concerned sees them, and
the matter's panel beside a supervision task. Steps are driven through the workflow layer on the app's database."""

from __future__ import annotations

import re

from flask import Flask, render_template
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.supervision_helpers import assign, in_days, item_of, register, report, sign
from tests.workflow_helpers import open_task
from workflows.calendar import beijing_today
from workflows.models import ProcessInstance


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
