"""Issue #7 §7: the administrators' working-day table (节假日表) over the `chinese_calendar` package.

The table decides first, then the package, then Monday–Friday; a year the package lacks never raises. A task's
`dueWorkingDays` and the inbox's near-due window count on it, and a change of the table moves the deadlines it
touches. The admin page is for administrators only and names the field of every refusal.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from forms import FormValidationError
from tests.conftest import AuthActions
from tests.workflow_helpers import open_task, start_report, user
from workflows.calendar import SHANGHAI, add_working_days, is_working_day
from workflows.engine.runtime import load_workflow
from workflows.errors import PermissionDenied
from workflows.inbox import near_due_limit
from workflows.models import AuditEvent, WorkingDayOverride
from workflows.routing import load_routing
from workflows.task_index import index_matches_engine
from workflows.working_days import (
    calendar_overrides,
    package_covers,
    remove_working_day,
    set_working_day,
    year_calendar,
)

NATIONAL_DAY_2026 = date(2026, 10, 1)  # a Thursday the package lists as 国庆节
EVE_2026 = date(2026, 9, 30)  # an ordinary Wednesday
MONDAY_2027 = date(2027, 2, 8)  # a Monday in a year the package does not cover


def html_of(answer: TestResponse) -> str:
    return answer.get_data(as_text=True)


def table(session: Session) -> dict[date, bool]:
    session.expire_all()
    return calendar_overrides(session)


def test_the_table_overrides_the_package_both_ways(world: Session) -> None:
    admin = user(world, "admin")
    assert add_working_days(date(2026, 9, 29), 1) == EVE_2026
    assert not is_working_day(NATIONAL_DAY_2026)

    set_working_day(world, NATIONAL_DAY_2026, True, "  本地调整  ", admin)
    set_working_day(world, EVE_2026, False, "临时闭馆", admin)
    overrides = calendar_overrides(world)
    assert overrides == {NATIONAL_DAY_2026: True, EVE_2026: False}
    assert is_working_day(NATIONAL_DAY_2026, overrides) and not is_working_day(EVE_2026, overrides)
    assert add_working_days(date(2026, 9, 29), 1, overrides) == NATIONAL_DAY_2026
    # The near-due (黄灯) window counts on the table too.
    tuesday = datetime.combine(date(2026, 9, 29), time(9), tzinfo=SHANGHAI)
    assert near_due_limit(tuesday, 1).date() == EVE_2026
    assert near_due_limit(tuesday, 1, overrides).date() == NATIONAL_DAY_2026

    # Saving a day again changes it; the note is stored trimmed; each change is an audit event.
    changed = set_working_day(world, EVE_2026, True, "", admin)
    assert (changed.is_working_day, changed.note, changed.updated_by_id) == (True, "", admin.id)
    assert world.scalar(select(func.count(WorkingDayOverride.id))) == 2
    remove_working_day(world, NATIONAL_DAY_2026, admin)
    assert table(world) == {EVE_2026: True}
    actions = world.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "working_day").order_by(AuditEvent.id)
    ).all()
    assert actions == ["working_day.set", "working_day.set", "working_day.set", "working_day.removed"]

    page = year_calendar(world, 2026)
    assert page.covered and [row.entry.day for row in page.overrides] == [EVE_2026]
    assert page.overrides[0].package_says is True and page.overrides[0].updated_by == admin.display_name
    assert any(item.day == NATIONAL_DAY_2026 and item.name == "国庆节" for item in page.package_days)
    assert any(item.is_working_day and item.day == date(2026, 10, 10) for item in page.package_days)  # 调休上班


def test_a_year_the_package_lacks_counts_monday_to_friday_plus_the_table(world: Session) -> None:
    assert package_covers(2026) and not package_covers(2027)
    friday = MONDAY_2027 - timedelta(days=3)
    assert add_working_days(friday, 1) == MONDAY_2027  # no exception: plain Monday–Friday

    set_working_day(world, MONDAY_2027, False, "春节", user(world, "admin"))
    assert add_working_days(friday, 1, calendar_overrides(world)) == MONDAY_2027 + timedelta(days=1)
    page = year_calendar(world, 2027)
    assert not page.covered and page.package_days == []
    assert [(row.entry.day, row.package_says) for row in page.overrides] == [(MONDAY_2027, None)]


def test_bad_input_and_non_admins_are_refused_and_change_nothing(world: Session) -> None:
    admin = user(world, "admin")
    with pytest.raises(FormValidationError) as refused:
        set_working_day(world, date(1999, 12, 31), False, "x" * 201, admin)
    assert refused.value.errors == {"day": "日期：必须在 2000 年至 2099 年之间", "note": "说明：不能超过 200 字"}
    with pytest.raises(PermissionDenied):
        set_working_day(world, MONDAY_2027, False, "", user(world, "jingji1"))
    with pytest.raises(FormValidationError):
        year_calendar(world, 2100)
    assert calendar_overrides(world) == {}


def test_a_tasks_due_date_honours_the_table_and_moves_with_it(world: Session) -> None:
    """register_report is due 1 working day after it became ready (bpmn/hazard_report.bpmn)."""
    now = datetime.now(UTC)
    today = now.astimezone(SHANGHAI).date()
    plain_due = add_working_days(today, 1)
    admin = user(world, "admin")
    set_working_day(world, plain_due, False, "临时休息", admin)

    case = start_report(world)
    entry = open_task(world, case, "register_report")
    # Counted from the step's own ready day (the same as `today` unless Beijing's midnight just passed).
    ready_day = entry.ready_at.astimezone(SHANGHAI).date()
    assert entry.due_at is not None
    assert entry.due_at.astimezone(SHANGHAI).date() == add_working_days(ready_day, 1, {plain_due: False})
    if ready_day == today:
        assert entry.due_at.astimezone(SHANGHAI).date() > plain_due

    # Taking the day out of the table moves the deadline back at once, and the index still equals the engine.
    remove_working_day(world, plain_due, admin)
    world.refresh(entry)
    assert entry.due_at is not None and entry.due_at.astimezone(SHANGHAI).date() == add_working_days(ready_day, 1)
    assert index_matches_engine(world, case, load_workflow(case), load_routing()) == []
    assert rebuilt_cases(world) == 1
    # A day before the step became ready cannot move its deadline: no case is rebuilt.
    set_working_day(world, ready_day - timedelta(days=3), True, "", admin)
    assert rebuilt_cases(world) == 0


def rebuilt_cases(session: Session) -> int:
    """How many cases the last change of the table rebuilt, from its audit event."""
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    count: int = json.loads(event.payload)["cases_rebuilt"]
    return count


# --- the admin page -----------------------------------------------------------------------------------------------


def test_only_administrators_reach_the_calendar_page(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    assert client.get("/settings/calendar").status_code == 302  # to the sign-in page
    auth.login("jingji1")
    assert "/settings/calendar" not in html_of(client.get("/"))
    assert client.get("/settings/calendar").status_code == 403
    answer = client.post("/settings/calendar", data={"day": "2027-02-08", "is_working_day": "0", "note": ""})
    assert answer.status_code == 403
    assert client.post("/settings/calendar/remove", data={"day": "2027-02-08"}).status_code == 403
    assert calendar_overrides(app_db) == {}


def test_an_administrator_adds_changes_and_removes_a_day(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    auth.login("admin")
    assert "/settings/calendar" in html_of(client.get("/"))  # linked beside the other settings
    assert "该年度节假日已由 chinese_calendar 收录" in html_of(client.get("/settings/calendar?year=2026"))
    page = html_of(client.get("/settings/calendar?year=2027"))
    assert "该年度未收录：按周一至周五计算，请在下表录入国务院公布的节假日和调休上班日" in page

    added = client.post("/settings/calendar", data={"day": "2027-02-08", "is_working_day": "0", "note": "春节"})
    assert added.status_code == 303 and added.headers["Location"].endswith("/settings/calendar?year=2027")
    row = re.search(r'<tr data-day="2027-02-08">.*?</tr>', html_of(client.get("/settings/calendar?year=2027")), re.S)
    assert row is not None and "休息日" in row.group(0) and "春节" in row.group(0) and "周一" in row.group(0)
    assert table(app_db) == {MONDAY_2027: False}

    changed = client.post("/settings/calendar", data={"day": "2027-02-08", "is_working_day": "1", "note": "调休"})
    assert changed.status_code == 303
    assert table(app_db) == {MONDAY_2027: True}

    refusals = [
        ({"day": "2027-02-30", "is_working_day": "0"}, "day", "日期：不是有效日期"),
        ({"day": "", "is_working_day": "0"}, "day", "日期：必须填写"),
        ({"day": "1999-12-31", "is_working_day": "0"}, "day", "日期：必须在 2000 年至 2099 年之间"),
        ({"day": "2027-02-08", "is_working_day": "maybe"}, "is_working_day", "类型：请选择工作日或休息日"),
        ({"day": "2027-02-08", "is_working_day": "0", "note": "长" * 201}, "note", "说明：不能超过 200 字"),
    ]
    for data, field, message in refusals:
        answer = client.post("/settings/calendar", data=data)
        assert answer.status_code == 422, message
        found = re.search(rf'data-field="{field}">.*?class="field-error"[^>]*>([^<]*)<', html_of(answer), re.S)
        assert found is not None and found.group(1) == message
    assert table(app_db) == {MONDAY_2027: True}
    bad_year = client.get("/settings/calendar?year=12027")
    assert bad_year.status_code == 400 and "年份：必须是 2000 至 2099 之间的年份" in html_of(bad_year)

    removed = client.post("/settings/calendar/remove", data={"day": "2027-02-08"})
    assert removed.status_code == 303
    assert table(app_db) == {}
    assert client.post("/settings/calendar/remove", data={"day": "2027-02-08"}).status_code == 404
