"""The 督办台账 decides visibility on the matters' own columns (issue #9, third session), computing what it did before.

`ledger._ledger_query` names each matter's case by `SupervisionItem.instance_id`, knows its process (`supervision`)
and tests the home unit either on the joined case (SQLite) or as one set of the process's cases (PostgreSQL), and the
viewer's steps either by probing each case's steps (SQLite) or as sets of the process's cases (PostgreSQL). Each
form is run here on whichever database the suite uses, against the Python rule (`routing.can_view_case`) for every
account of the volume world (tests/test_lists_at_volume.py's `volume`: a few hundred synthetic cases of every process,
a delegation, an inactive and a service account, and a head of every department, so the owning department's
oversight of `supervision` (办公室) is exercised). The rows are compared with the way they were built before: the
units' labels from `notifications.unit_label` and the reports counted in Python.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tests.plan_helpers import supervised_matter
from tests.test_lists_at_volume import _python_visible, _tasks_by_case, volume  # noqa: F401  (fixture)
from tests.workflow_helpers import start_report, user
from workflows.db import utcnow
from workflows.inbox import near_due_limit
from workflows.integrity import run_checks
from workflows.models import OrgUnit, ProcessInstance, SupervisionItem, SupervisionUnit, User
from workflows.models.plan import ResponsibilityRole
from workflows.notifications import unit_label
from workflows.queries import CaseColumns, viewable_cases
from workflows.routing import Action, load_routing, task_actions
from workflows.supervision.ledger import (
    PROCESS_KEY,
    LedgerFilter,
    _home_within,
    check_matter_cases,
    ledger_page,
    ledger_rows,
)
from workflows.supervision.records import REPORT_KINDS


@pytest.mark.parametrize(
    ("joined", "task_sets"),
    [(True, False), (False, True), (False, False)],
    ids=["sqlite-form", "postgresql-form", "home-unit-as-set-steps-probed"],
)
def test_ledger_visibility_is_can_view_case_for_every_account(
    volume: Session,  # noqa: F811  (the fixture imported above)
    joined: bool,
    task_sets: bool,
) -> None:
    routing = load_routing()
    matters = set(volume.scalars(select(SupervisionItem.instance_id)))
    cases = [
        case
        for case in volume.scalars(select(ProcessInstance).options(selectinload(ProcessInstance.home_unit)))
        if case.id in matters
    ]
    assert len(cases) >= 20 and {case.process_key for case in cases} == {PROCESS_KEY}
    tasks = _tasks_by_case(volume)
    columns = CaseColumns(id=SupervisionItem.instance_id, process_key=PROCESS_KEY, home_within=_home_within(joined),
                          task_sets=task_sets)  # fmt: skip

    def found(viewers: list[User]) -> set[int]:
        query = select(SupervisionItem.instance_id)
        if joined:
            query = query.join(ProcessInstance, ProcessInstance.id == SupervisionItem.instance_id)
        return set(volume.scalars(query.where(viewable_cases(viewers, routing, columns))))

    accounts = list(volume.scalars(select(User).options(selectinload(User.org_unit)).order_by(User.id)))
    seen_some = owned_only = 0
    for account in accounts:
        expected = _python_visible([account], cases, tasks, routing)
        assert found([account]) == expected, account.username
        seen_some += bool(expected)
        # Cases the account sees only because its department owns the process (no task of theirs, not started).
        owned_only += sum(
            1
            for case in cases
            if case.id in expected
            and case.started_by_id != account.id
            and not any(Action.VIEW in task_actions(account, task, routing) for task in tasks[case.id])
        )
    assert seen_some > len(accounts) // 3 and owned_only > 0  # neither comparison is between empty sets

    delegate, principal = user(volume, "ganjingzi1"), user(volume, "ganjingzi2")
    assert found([delegate, principal]) == _python_visible([delegate, principal], cases, tasks, routing)


@pytest.mark.parametrize("username", ["admin", "jingji_head", "ganjingzi1"])
def test_ledger_rows_show_the_units_reports_and_case_numbers_as_before(
    volume: Session,  # noqa: F811  (the fixture imported above)
    username: str,
) -> None:
    routing = load_routing()
    now = utcnow()
    near = near_due_limit(now)
    account = user(volume, username)
    rows = ledger_rows(volume, account, routing, LedgerFilter(), now=now, near_limit=near)
    assert rows
    items = {
        item.id: item
        for item in volume.scalars(
            select(SupervisionItem).options(
                selectinload(SupervisionItem.instance),
                selectinload(SupervisionItem.feedback),
                selectinload(SupervisionItem.units)
                .selectinload(SupervisionUnit.org_unit)
                .selectinload(OrgUnit.departments),
            )
        )
    }

    def labels(item: SupervisionItem, role: ResponsibilityRole) -> list[str]:
        return [unit_label(unit.org_unit, unit.department_code) for unit in item.units if unit.role == role.value]

    for row in rows:
        item = items[row.item.id]
        reports = [feedback for feedback in item.feedback if feedback.kind in REPORT_KINDS]
        assert row.case_number == item.instance.case_number
        assert row.lead == (", ".join(labels(item, ResponsibilityRole.LEAD)) or "—")
        assert row.co_units == labels(item, ResponsibilityRole.CO)
        assert row.feedback_count == len(reports)
        assert row.last_feedback_at == max((feedback.created_at for feedback in reports), default=None)
    # Not trivially equal: units named by department, co-units, matters with reports and without.
    assert any(unit.department_code for row in rows for unit in items[row.item.id].units)
    assert any(row.co_units for row in rows) and any(row.feedback_count for row in rows)
    assert any(not row.feedback_count for row in rows)
    page = ledger_page(volume, account, routing, LedgerFilter(), now=now, near_limit=near, page=2, per_page=3)
    assert [(row.item.id, row.case_number, row.lead, row.feedback_count) for row in page.items] == [
        (row.item.id, row.case_number, row.lead, row.feedback_count) for row in rows[3:6]
    ]


def test_the_check_reports_a_matter_whose_case_is_not_a_supervision_case(world: Session) -> None:
    """The rule above decides process ownership from PROCESS_KEY: `flask check` holds every matter to it."""
    matter = supervised_matter(world, None, title="与方案无关的督办")
    assert check_matter_cases(world) == []
    matter.instance_id = start_report(world).id  # a hazard case
    world.flush()
    found = [f for f in run_checks(world).findings if f.check == "supervision_item"]
    assert [f.subject for f in found] == [f"督办事项 #{matter.id}"]
    assert "不是督办流程（hazard_report）" in found[0].message
