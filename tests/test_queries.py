"""Inbox queries over the task index (DESIGN §2, §9): 待办, 部门待办, 已办, 我发起, the tasks of a case."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Select, insert, select
from sqlalchemy.orm import Session

import workflows.engine.runtime
import workflows.engine.serializer
from tests.volume_data import PROCESS_WEIGHTS, TABLES, Generator, ensure_holders, load_org, next_ids
from tests.workflow_helpers import complete, open_task, start_report, user
from workflows import queries
from workflows.acting import principals_of
from workflows.calendar import SHANGHAI
from workflows.copies import unread_copies
from workflows.db import Base, utcnow
from workflows.inbox import View, inbox_counts, nav_count
from workflows.models import CaseCopy, Delegation, ProcessInstance, TaskIndexEntry, TaskStatus, User
from workflows.operations import claim_task
from workflows.routing import Action, load_routing, task_actions

OPINION = {"opinion": "经研究，同意。"}
REGISTER = {"decision": "受理", **OPINION}


def start_at(session: Session, number: int, username: str = "ganjingzi1") -> ProcessInstance:
    """A new case at its own location, so no two test cases are duplicates of each other."""
    return start_report(session, username, location=f"{number}号车间配电箱")


def to_triage(session: Session, case: ProcessInstance) -> None:
    complete(session, "ganjingzi1", case, "register_report", REGISTER)


def to_verify(session: Session, case: ProcessInstance, triage_level: str) -> None:
    to_triage(session, case)
    complete(session, "jingji1", case, "triage", {"triage_level": triage_level, **OPINION})


def ids(entries: Iterable[TaskIndexEntry]) -> list[tuple[str, str]]:
    return [(entry.case_number, entry.bpmn_id) for entry in entries]


def test_department_queue_holds_unclaimed_tasks_of_my_unit_and_department(world: Session) -> None:
    case = start_at(world, 1)
    register = open_task(world, case, "register_report")
    assert ids(queries.department_queue(world, user(world, "ganjingzi2"))) == [(case.case_number, "register_report")]
    assert queries.department_queue(world, user(world, "ganjingzi_head")) == [register]
    for other in ("zhongshan1", "jingji1", "haichang_gonghui", "admin"):
        assert queries.department_queue(world, user(world, other)) == [], other

    to_triage(world, case)
    triage = open_task(world, case, "triage")
    assert queries.department_queue(world, user(world, "ganjingzi2")) == []
    assert queries.department_queue(world, user(world, "jingji2")) == [triage]
    assert queries.department_queue(world, user(world, "jingji_head")) == [triage]
    for other in ("caiwu1", "baozhang1", "shengzong_jingji1", "ganjingzi1", "admin"):
        assert queries.department_queue(world, user(world, other)) == [], other


def test_claimed_task_leaves_the_queue_for_my_tasks(world: Session) -> None:
    case = start_at(world, 1)
    to_triage(world, case)
    triage = open_task(world, case, "triage")
    jingji1, jingji2 = user(world, "jingji1"), user(world, "jingji2")
    assert queries.my_tasks(world, jingji1) == []

    claim_task(world, jingji1, case.id, triage.task_id)

    assert queries.my_tasks(world, jingji1) == [triage]
    assert queries.my_tasks(world, jingji2) == []
    assert queries.department_queue(world, jingji1) == []
    assert queries.department_queue(world, jingji2) == []


def test_completed_task_leaves_my_tasks_and_appears_in_done_by_me(world: Session) -> None:
    case = start_at(world, 1)
    register = open_task(world, case, "register_report")
    ganjingzi1 = user(world, "ganjingzi1")
    claim_task(world, ganjingzi1, case.id, register.task_id)
    assert queries.my_tasks(world, ganjingzi1) == [register]
    assert queries.done_by_me(world, ganjingzi1) == []

    to_triage(world, case)

    assert queries.my_tasks(world, ganjingzi1) == []
    assert queries.done_by_me(world, ganjingzi1) == [register]
    assert register.status == TaskStatus.COMPLETED
    assert queries.done_by_me(world, user(world, "ganjingzi2")) == []
    assert queries.department_queue(world, user(world, "ganjingzi2")) == []


def test_done_by_me_is_newest_completion_first(world: Session) -> None:
    first, second = start_at(world, 1), start_at(world, 2)
    # Complete the later-started case first: completion time, not row order, decides.
    to_triage(world, second)
    to_triage(world, first)
    done = queries.done_by_me(world, user(world, "ganjingzi1"))
    assert ids(done) == [(first.case_number, "register_report"), (second.case_number, "register_report")]


def test_my_tasks_and_queue_put_the_earliest_due_first(world: Session) -> None:
    slow = start_at(world, 1)
    to_verify(world, slow, "一般")  # verify due in 10 working days
    urgent = start_at(world, 2)
    to_verify(world, urgent, "可能重大")  # verify due in 3 working days
    fresh = start_at(world, 3)  # register due in 1 working day
    expected = [(fresh.case_number, "register_report"), (urgent.case_number, "verify"), (slow.case_number, "verify")]
    due = [
        open_task(world, case, step).due_at
        for case, step in zip((fresh, urgent, slow), ("register_report", "verify", "verify"), strict=True)
    ]
    assert None not in due and due == sorted(due) and len(set(due)) == 3  # type: ignore[type-var]

    assert ids(queries.department_queue(world, user(world, "ganjingzi2"))) == expected

    ganjingzi1 = user(world, "ganjingzi1")
    for case, step in ((slow, "verify"), (urgent, "verify"), (fresh, "register_report")):
        claim_task(world, ganjingzi1, case.id, open_task(world, case, step).task_id)
    assert ids(queries.my_tasks(world, ganjingzi1)) == expected
    assert queries.department_queue(world, user(world, "ganjingzi2")) == []


def test_started_by_me_is_newest_first(world: Session) -> None:
    older, newer = start_at(world, 1), start_at(world, 2, "ganjingzi2")
    newest = start_at(world, 3)
    assert queries.started_by_me(world, user(world, "ganjingzi1")) == [newest, older]
    assert queries.started_by_me(world, user(world, "ganjingzi2")) == [newer]
    assert queries.started_by_me(world, user(world, "zhongshan1")) == []

    # Creation time decides, not the id.
    older.created_at = newest.created_at + timedelta(hours=1)
    world.flush()
    assert queries.started_by_me(world, user(world, "ganjingzi1")) == [older, newest]


def test_case_tasks_in_the_order_they_became_ready(world: Session) -> None:
    other = start_at(world, 1)
    case = start_at(world, 2)
    to_verify(world, case, "一般")
    tasks = queries.case_tasks(world, case.id)
    assert [(t.bpmn_id, t.status) for t in tasks] == [
        ("register_report", TaskStatus.COMPLETED),
        ("triage", TaskStatus.COMPLETED),
        ("verify", TaskStatus.READY),
    ]
    assert [t.ready_at for t in tasks] == sorted(t.ready_at for t in tasks)
    assert tasks[0].ready_at < tasks[2].ready_at
    assert [t.bpmn_id for t in queries.case_tasks(world, other.id)] == ["register_report"]
    assert [s.bpmn_id for s in queries.case_approval_steps(world, case.id)] == ["start", "register_report", "triage"]


def test_queue_pagination(world: Session) -> None:
    cases = [start_at(world, number) for number in range(1, 6)]
    ganjingzi2 = user(world, "ganjingzi2")
    pages = [queries.department_queue(world, ganjingzi2, page=page, per_page=2) for page in (1, 2, 3, 4)]
    assert [len(page) for page in pages] == [2, 2, 1, 0]
    assert [entry.case_number for page in pages for entry in page] == [case.case_number for case in cases]
    assert queries.department_queue(world, ganjingzi2, page=0, per_page=2) == pages[0]
    assert len(queries.department_queue(world, ganjingzi2)) == 5


def test_started_and_done_pagination(world: Session) -> None:
    cases = [start_at(world, number) for number in range(1, 4)]
    for case in cases:
        to_triage(world, case)
    ganjingzi1 = user(world, "ganjingzi1")
    started = [queries.started_by_me(world, ganjingzi1, page=page, per_page=2) for page in (1, 2)]
    assert [list(page) for page in started] == [[cases[2], cases[1]], [cases[0]]]
    done = [queries.done_by_me(world, ganjingzi1, page=page, per_page=2) for page in (1, 2)]
    assert [[entry.case_number for entry in page] for page in done] == [
        [cases[2].case_number, cases[1].case_number],
        [cases[0].case_number],
    ]


def test_queries_never_deserialize_a_workflow(world: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    queued = start_at(world, 1)
    claimed = start_at(world, 2)
    to_triage(world, claimed)
    ganjingzi1, jingji1 = user(world, "ganjingzi1"), user(world, "jingji1")
    claim_task(world, jingji1, claimed.id, open_task(world, claimed, "triage").task_id)
    world.expire_all()  # results must come from SQL, not from objects the operations left in the session

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an inbox query deserialized a workflow")

    monkeypatch.setattr(workflows.engine.runtime, "load_workflow_state", refuse)
    monkeypatch.setattr(workflows.engine.serializer, "load_workflow_state", refuse)
    monkeypatch.setattr(workflows.engine.serializer.SERIALIZER, "deserialize_json", refuse)

    assert ids(queries.my_tasks(world, jingji1)) == [(claimed.case_number, "triage")]
    assert ids(queries.department_queue(world, user(world, "ganjingzi2"))) == [(queued.case_number, "register_report")]
    assert ids(queries.done_by_me(world, ganjingzi1)) == [(claimed.case_number, "register_report")]
    assert [case.id for case in queries.started_by_me(world, ganjingzi1)] == [claimed.id, queued.id]
    assert [t.bpmn_id for t in queries.case_tasks(world, claimed.id)] == ["register_report", "triage"]
    assert len(queries.case_approval_steps(world, claimed.id)) == 2
    assert len(world.scalars(queries.my_tasks_query(jingji1)).all()) == 1
    assert len(world.scalars(queries.department_queue_query(user(world, "ganjingzi2"))).all()) == 1
    assert len(world.scalars(queries.done_by_me_query(ganjingzi1)).all()) == 1


def test_queues_agree_with_task_actions_for_every_demo_user(world: Session) -> None:
    """部门待办 lists exactly the unclaimed tasks a user may claim; 待办 exactly the claimed ones they may complete."""
    at_register = start_at(world, 1)
    at_triage = start_at(world, 2)
    to_triage(world, at_triage)
    claimed_triage = start_at(world, 3)
    to_triage(world, claimed_triage)
    claim_task(world, user(world, "jingji1"), claimed_triage.id, open_task(world, claimed_triage, "triage").task_id)
    claimed_register = start_at(world, 4)
    register = open_task(world, claimed_register, "register_report")
    claim_task(world, user(world, "ganjingzi2"), claimed_register.id, register.task_id)
    assert open_task(world, at_register, "register_report").claimed_by_id is None

    ready = world.scalars(select(TaskIndexEntry).where(TaskIndexEntry.status == TaskStatus.READY.value)).all()
    assert len(ready) == 4
    routing = load_routing()
    users = world.scalars(select(User).order_by(User.username)).all()
    for who in users:
        may_claim = {e.id for e in ready if e.claimed_by_id is None and Action.CLAIM in task_actions(who, e, routing)}
        mine = {e.id for e in ready if e.claimed_by_id == who.id and Action.COMPLETE in task_actions(who, e, routing)}
        assert {e.id for e in queries.department_queue(world, who)} == may_claim, who.username
        assert {e.id for e in queries.my_tasks(world, who)} == mine, who.username
    queue_sizes = {who.username: len(queries.department_queue(world, who)) for who in users}
    assert (queue_sizes["ganjingzi1"], queue_sizes["jingji2"], queue_sizes["zhongshan1"]) == (1, 1, 0)


# --- The navigation counts (issue #9 §2) -----------------------------------------------------------------------------


@pytest.fixture
def crowded(world: Session) -> Session:
    """Three hundred synthetic cases of every process (tests/volume_data.py, the bench's generator), copies read and
    unread, and delegations whose queues overlap the delegate's: caiwu1 → jingji1 (another department of the same
    unit: both hold the unit-wide lane), jingji2 → jingji_head (the same department), ganjingzi2 → ganjingzi1 (a
    district, no departments) and caiwu1 → admin (who holds no queue of his own)."""
    ensure_holders(world)
    generator = Generator(load_org(world), utcnow(), next_ids(world), seed=20261123,
                          weights=dict.fromkeys(PROCESS_WEIGHTS, 1))  # fmt: skip
    rows = generator.batch(300)
    for name in TABLES:
        if rows[name]:
            world.execute(insert(Base.metadata.tables[name]), rows[name])
    today = utcnow().astimezone(SHANGHAI).date()
    for principal, delegate in [("caiwu1", "jingji1"), ("jingji2", "jingji_head"), ("ganjingzi2", "ganjingzi1"),
                                ("caiwu1", "admin")]:  # fmt: skip
        world.add(Delegation(principal_id=user(world, principal).id, delegate_id=user(world, delegate).id,
                             starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=1)))  # fmt: skip
    cases = world.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id).limit(6)).all()
    copier = user(world, "jingji1")
    for number, instance_id in enumerate(cases):
        for username in ("jingji_head", "ganjingzi1"):
            world.add(CaseCopy(instance_id=instance_id, user_id=user(world, username).id, copied_by_id=copier.id,
                               read_at=utcnow() if number % 3 == 0 else None))  # fmt: skip
    world.flush()
    world.expire_all()
    return world


def test_navigation_counts_are_the_lists_own_counts(crowded: Session) -> None:
    """inbox_counts counts 部门待办 lane by lane and everything in one statement: the same numbers as counting each
    list's own query, for every account (with and without principals, administrators, service accounts)."""

    def plain(query: Select[Any]) -> int:
        return len(crowded.execute(query).all())

    counted = 0
    for who in crowded.scalars(select(User).order_by(User.username)).all():
        principals = principals_of(crowded, who)
        expected = {
            View.MINE: plain(queries.my_tasks_query(who, principals)),
            View.QUEUE: plain(queries.department_queue_query(who, principals)),
            View.DONE: plain(queries.done_by_me_query(who)),
            View.STARTED: plain(select(ProcessInstance).where(ProcessInstance.started_by_id == who.id)),
            View.COPIED: unread_copies(crowded, who),
        }
        assert inbox_counts(crowded, who) == expected, who.username
        counted += sum(expected.values())
    assert counted > 300
    head = user(crowded, "jingji_head")
    # The queue was counted across overlapping lanes (jingji2's are jingji_head's own) without counting twice.
    assert inbox_counts(crowded, head)[View.QUEUE] == plain(queries.department_queue_query(head)) > 0
    assert inbox_counts(crowded, head)[View.COPIED] == 4


def test_navigation_counts_histories_up_to_a_cap_and_shows_more_as_plus(crowded: Session) -> None:
    """已办 and 我发起 grow without end: the navigation counts them up to the cap (their pages count them all)."""
    exact = {who: inbox_counts(crowded, who) for who in crowded.scalars(select(User)).all()}
    busiest = max(exact, key=lambda who: exact[who][View.DONE])
    counts = exact[busiest]
    assert counts[View.DONE] > 3
    capped = inbox_counts(crowded, busiest, history_cap=2)
    assert capped[View.DONE] == 3  # "more than 2"
    assert {view: capped[view] for view in (View.MINE, View.QUEUE, View.COPIED)} == {
        view: counts[view] for view in (View.MINE, View.QUEUE, View.COPIED)
    }  # the working lists stay exact
    assert capped[View.STARTED] == min(counts[View.STARTED], 3)
    assert [nav_count(n, View.DONE) for n in (0, 999, 1000)] == ["0", "999", "999+"]
    assert nav_count(25_000, View.QUEUE) == "25000"  # a queue is always shown exactly
