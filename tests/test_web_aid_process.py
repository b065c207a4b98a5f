"""The hardship-aid case through the web (issue #6): the province's 下发, the task panels that lead each office to
its grid, a district's submission refused until every row is reviewed, and the city's overview."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.aid_helpers import DALIAN, YEAR, imported_list
from tests.conftest import AuthActions
from workflows.models import AidWorker, ProcessInstance, TaskIndexEntry, TaskStatus


def open_entry(db: Session, bpmn_id: str, unit_code: str | None = None) -> TaskIndexEntry:
    db.expire_all()
    entries = db.scalars(
        select(TaskIndexEntry).where(TaskIndexEntry.bpmn_id == bpmn_id, TaskIndexEntry.status == TaskStatus.READY.value)
    ).all()
    found = [e for e in entries if unit_code is None or e.org_unit.code == unit_code]
    assert len(found) == 1, (bpmn_id, unit_code, entries)
    return found[0]


def test_from_dispatch_to_the_districts_submission(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    imported_list(app_db, {"甘井子区": 3, "中山区": 1})
    app_db.commit()

    auth.login("shengzong_baozhang1")
    lists = client.get("/aid/lists").get_data(as_text=True)
    assert "下发各市（1 个）" in lists
    dispatched = client.post(f"/aid/lists/{YEAR}/dispatch", follow_redirects=True).get_data(as_text=True)
    assert "已向 1 个市下发 2017 年度援助名单" in dispatched and "已下发" in dispatched
    auth.logout()

    auth.login("baozhang1")
    distribute = open_entry(app_db, "distribute")
    page = client.get(f"/tasks/{distribute.task_id}").get_data(as_text=True)
    assert 'id="aid-panel"' in page and f"/aid/{YEAR}/{DALIAN}" in page
    done = client.post(
        f"/tasks/{distribute.task_id}", data={"review_deadline": "2099-06-30", "opinion": "请按期审查。"}
    )
    assert done.status_code == 302
    overview = client.get(f"/aid/{YEAR}/{DALIAN}").get_data(as_text=True)
    assert "甘井子区总工会" in overview and "审查中" in overview and 'data-figure="workers">4<' in overview
    auth.logout()

    auth.login("ganjingzi1")
    review = open_entry(app_db, "district_review", "210211")
    page = client.get(f"/tasks/{review.task_id}").get_data(as_text=True)
    assert "本单位已审查 0 / 3 人" in page and "/aid/review?year=2017" in page
    refused = client.post(f"/tasks/{review.task_id}", data={"opinion": "已审查。"})
    assert refused.status_code == 422 and "本单位还有 3 名职工没有审查结论" in refused.get_data(as_text=True)
    assert client.get(f"/aid/{YEAR}/{DALIAN}").status_code == 404  # the city's overview is not the district's

    mine = app_db.scalars(select(AidWorker.id).where(AidWorker.district == "甘井子区")).all()
    grid = client.post(f"/aid/review?year={YEAR}", data={"worker_id": [str(i) for i in mine], "conclusion": "符合"})
    assert grid.status_code == 302
    assert client.post(f"/tasks/{review.task_id}", data={"opinion": "已全部审查。"}).status_code == 302

    closed = client.get(f"/aid/review?year={YEAR}").get_data(as_text=True)
    assert "审查结果已经提交" in closed and "应用于所选职工" not in closed
    late = client.post(f"/aid/review?year={YEAR}", data={"worker_id": [str(mine[0])], "conclusion": "不符合",
                                                         "reason": "改变主意"})  # fmt: skip
    assert late.status_code == 409
    case = app_db.scalar(select(ProcessInstance).where(ProcessInstance.process_key == "hardship_aid"))
    assert case is not None and case.case_number.startswith("YZ-")


def test_only_the_drafting_department_dispatches(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    imported_list(app_db, {"甘井子区": 1})
    app_db.commit()
    auth.login("baozhang1")
    assert client.post(f"/aid/lists/{YEAR}/dispatch").status_code == 404
    assert app_db.scalar(select(ProcessInstance).where(ProcessInstance.process_key == "hardship_aid")) is None
