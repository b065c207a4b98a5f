"""The 责任分工 dashboard reads the closed cases of months that ended once per plan structure (issue #9 §2): which
months count as settled, that a settled month is not read again, and that a recount of the tallies (a restore, a
repaired drift) is seen at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest
from flask import Flask
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.studio_helpers import apply, open_studio_call
from tests.test_plan_structure import Statements, the_plan
from tests.workflow_helpers import complete
from webapp import database as webapp_database
from workflows.calendar import SHANGHAI
from workflows.db import utcnow
from workflows.inbox import near_due_limit
from workflows.models import InstanceStatus, PlanItemProcess, ProcessInstance
from workflows.plans import structure as structure_module
from workflows.plans.dashboard import plan_dashboard, split_settled
from workflows.plans.periods import Period, parse_period
from workflows.plans.structure import PlanStructure, forget_plan_structures
from workflows.plans.tally import recount_tallies


@pytest.fixture
def engine(app: Flask) -> Iterator[Engine]:
    forget_plan_structures()
    yield webapp_database.engine(app)
    forget_plan_structures()


def period(code: str) -> Period:
    return parse_period(code, date(2026, 11, 18))


@pytest.mark.parametrize(
    ("code", "now", "settled", "live"),
    [
        # Mid-November: January to October are settled, November is live.
        ("2026", datetime(2026, 11, 18, 10, 0), ("2026-01-01", "2026-10-31"), ("2026-11-01", "2026-12-31")),
        ("2026-10", datetime(2026, 11, 18, 10, 0), ("2026-10-01", "2026-10-31"), None),
        ("2026-11", datetime(2026, 11, 18, 10, 0), None, ("2026-11-01", "2026-11-30")),
        ("2026-Q3", datetime(2026, 11, 18, 10, 0), ("2026-07-01", "2026-09-30"), None),
        # The first day of a month the last one is still live (a step before midnight may commit after it).
        ("2026-10", datetime(2026, 11, 1, 12, 0), None, ("2026-10-01", "2026-10-31")),
        ("2026-10", datetime(2026, 11, 2, 0, 30), ("2026-10-01", "2026-10-31"), None),
    ],
)
def test_the_months_that_ended_a_day_ago_are_settled(
    code: str, now: datetime, settled: tuple[str, str] | None, live: tuple[str, str] | None
) -> None:
    parts = split_settled(period(code), now.replace(tzinfo=SHANGHAI))
    shown = [None if part is None else (part.start.isoformat(), part.end.isoformat()) for part in parts]
    assert shown == [settled, live]


def studio_item_closed(session: Session, code: str) -> int:
    """The closed cases of the plan item that links studio naming, whole plan, for the period, as of now."""
    item_id = session.scalar(select(PlanItemProcess.item_id).where(PlanItemProcess.process_key == "studio_naming"))
    plan, now = the_plan(session), utcnow()
    dashboard = plan_dashboard(session, plan, period(code), now=now, near_limit=near_due_limit(now))
    figures = dashboard.item(item_id) if item_id is not None else None
    assert figures is not None
    return figures.totals.completed_cases


def test_settled_months_are_read_once_and_a_recount_is_seen(engine: Engine) -> None:
    this_year = str(utcnow().astimezone(SHANGHAI).year)
    with Session(engine) as session, session.begin():
        open_studio_call(session)
        turned_down = apply(session, "xinghai_gonghui", enterprise_uscc="91210204MA0TEN001X",
                            studio_name="钱丽萍职工创新工作室", studio_type="职工创新工作室",
                            lead_honour="无")  # fmt: skip
        decision = {"decision": "不予推荐", "opinion": "条件不具备。"}
        complete(session, "shahekou1", turned_down, "district_recommend", decision)
        assert turned_down.status == InstanceStatus.COMPLETED
        case_id = turned_down.id
    with Session(engine) as session:
        year_before = studio_item_closed(session, this_year)  # the case counts in this (live) month
        october_before = studio_item_closed(session, "2026-10")
        statements = Statements(engine)
        assert studio_item_closed(session, "2026-10") == october_before
        statements.stop()
    assert not [sent for sent in statements.sent if "closed_case_tally" in sent]  # a settled month: not read again

    # The case's completion moved into October by hand, and the tallies recounted (what a restore does).
    with Session(engine) as session, session.begin():
        case = session.get(ProcessInstance, case_id)
        assert case is not None
        case.completed_at = datetime(2026, 10, 15, 10, 0, tzinfo=SHANGHAI)
        session.flush()
        recount_tallies(session)
    with Session(engine) as session:
        assert studio_item_closed(session, "2026-10") == october_before + 1
        assert studio_item_closed(session, this_year) == year_before  # moved within the year, counted once


def test_a_structure_keeps_the_settled_figures_used_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(structure_module, "SETTLED_ENTRIES", 2)
    structure = PlanStructure(items=[], rows={}, processes={}, units={})
    computed: list[str] = []

    def figures(key: str) -> str:
        return structure.settled(key, lambda: computed.append(key) or f"figures of {key}")

    assert [figures("2026-10"), figures("2026-10"), figures("2026-09")] == ["figures of 2026-10"] * 2 + [
        "figures of 2026-09"
    ]
    figures("2026-10")  # used last: kept when a third key comes
    figures("2026-Q3")
    figures("2026-10")
    figures("2026-09")  # dropped for 2026-Q3: computed again
    assert computed == ["2026-10", "2026-09", "2026-Q3", "2026-09"]
