"""Persistence of engine state, optimistic locking under real concurrency (issue #2 §3, §8)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Databases
from tests.workflow_helpers import complete, open_steps, open_task, start_report, user
from workflows import steps
from workflows.acting import authority_on
from workflows.db import make_engine
from workflows.engine.runtime import load_workflow
from workflows.engine.serializer import SERIALIZER_VERSION, SPEC_CACHE
from workflows.errors import ConflictError, OperationRefused, PermissionDenied, TaskAlreadyHandled
from workflows.models import ApprovalStep, CaseAction, ProcessInstance, TaskIndexEntry, User
from workflows.operations import claim_task, complete_task, release_task
from workflows.queries import visible_task
from workflows.reminders import urge_task
from workflows.rollback import withdraw_task
from workflows.routing import load_routing
from workflows.task_index import index_matches_engine
from workflows.transaction import run_in_transaction

OPINION = {"opinion": "同意，请办理。"}


@pytest.fixture
def file_db(databases: Databases, seeded_engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A private copy of the seeded database that tests may commit to, from several threads."""
    if databases.kind == "sqlite":
        with seeded_engine.connect() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    # PostgreSQL copies a template only while nobody is connected to it.
    seeded_engine.dispose()
    url = databases.new(template="seeded")
    engine = make_engine(url)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()
    databases.drop(url)


def test_state_is_stored_without_the_spec_and_reloads_in_a_new_session(file_db: sessionmaker[Session]) -> None:
    with file_db() as db, db.begin():
        case_id = start_report(db).id
    with file_db() as db:
        case = db.get(ProcessInstance, case_id)
        assert case is not None
        state = json.loads(case.state)
        assert "spec" not in state and "subprocess_specs" not in state
        assert state["spec_ref"].startswith("hazard_report@")
        assert case.serializer_version == SERIALIZER_VERSION
        ready = [t.task_spec.bpmn_id for t in load_workflow(case).get_tasks(manual=True, state=TaskState.READY)]
        assert ready == ["register_report"]
        assert index_matches_engine(db, case, load_workflow(case), load_routing()) == []
        version_after_start = case.version
    # Each request is its own session and transaction, as in the web app.
    with file_db() as db, db.begin():
        case = db.get(ProcessInstance, case_id)
        assert case is not None
        complete(db, "ganjingzi1", case, "register_report", {"decision": "受理", **OPINION})
    with file_db() as db:
        case = db.get(ProcessInstance, case_id)
        assert case is not None and case.version == version_after_start + 1
        assert open_steps(db, case) == ["triage"]
        assert index_matches_engine(db, case, load_workflow(case), load_routing()) == []


def test_claim_and_release_keep_the_index_what_the_engine_says(file_db: sessionmaker[Session]) -> None:
    """A claim or release updates one index row instead of rebuilding all (issue #9); the result must be the same."""
    with file_db() as db, db.begin():
        case_id = start_report(db).id
    task_id = None
    for operation in (claim_task, release_task, claim_task):
        with file_db() as db, db.begin():
            task_id = open_task(db, db.get(ProcessInstance, case_id), "register_report").task_id
            operation(db, user(db, "ganjingzi1"), case_id, task_id)
        with file_db() as db:
            case = db.get(ProcessInstance, case_id)
            assert case is not None
            entry = db.scalar(select(TaskIndexEntry).where(TaskIndexEntry.task_id == task_id))
            assert entry is not None
            expected_holder = user(db, "ganjingzi1").id if operation is claim_task else None
            assert entry.claimed_by_id == expected_holder
            assert index_matches_engine(db, case, load_workflow(case), load_routing()) == []


def test_a_process_that_never_loaded_the_version_reads_its_spec_from_the_version_row(
    file_db: sessionmaker[Session],
) -> None:
    with file_db() as db, db.begin():
        case_id = start_report(db).id
    SPEC_CACHE.clear()  # as in a freshly started server process
    with file_db() as db:
        case = db.get(ProcessInstance, case_id)
        assert case is not None
        ready = [t.task_spec.bpmn_id for t in load_workflow(case).get_tasks(manual=True, state=TaskState.READY)]
        assert ready == ["register_report"]


def test_completing_a_task_someone_already_completed_is_a_conflict(file_db: sessionmaker[Session]) -> None:
    with file_db() as db, db.begin():
        case = start_report(db)
        entry = open_task(db, case, "register_report")
        case_id, task_id = case.id, entry.task_id
    with file_db() as first, first.begin():
        complete_task(first, user(first, "ganjingzi1"), case_id, task_id, {"decision": "受理", **OPINION})
    with file_db() as second, pytest.raises(TaskAlreadyHandled, match="已被他人处理"):
        complete_task(second, user(second, "ganjingzi2"), case_id, task_id, {"decision": "受理", **OPINION})


def _race(
    file_db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, actions: dict[str, Callable[[Session, User], Any]]
) -> list[str]:
    """Run each user's action in its own thread; both load the case before either writes.

    Each action runs as the web layer will run it: one transaction, retried once on `CaseChanged`.
    """
    barrier = threading.Barrier(len(actions), timeout=3)
    first_load = threading.local()
    original = steps.load_workflow

    def load_then_wait(instance: ProcessInstance) -> Any:
        workflow = original(instance)
        if not getattr(first_load, "done", False):  # a retry must not wait for a partner that has finished
            first_load.done = True
            # On PostgreSQL the partner is blocked on the case's row lock (steps.lock_case) and cannot get here
            # before this transaction ends: the lock, not the version counter, serialises the two.
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
        return workflow

    monkeypatch.setattr(steps, "load_workflow", load_then_wait)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(username: str, action: Callable[[Session, User], Any]) -> None:
        try:
            run_in_transaction(file_db, lambda db: action(db, user(db, username)))
            result = "ok"
        except ConflictError:
            result = "conflict"
        except Exception as exc:  # any other failure is a test failure, reported below
            result = f"error: {exc!r}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=item) for item in actions.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(outcomes)


def test_two_officials_completing_the_same_task_at_once_exactly_one_wins(
    file_db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with file_db() as db, db.begin():
        case = start_report(db)
        case_id, task_id, version = case.id, open_task(db, case, "register_report").task_id, case.version

    def register(db: Session, who: User) -> Any:
        return complete_task(db, who, case_id, task_id, {"decision": "受理", "opinion": f"{who.username}受理"})

    outcomes = _race(file_db, monkeypatch, {"ganjingzi1": register, "ganjingzi2": register})
    assert outcomes == ["conflict", "ok"]
    with file_db() as db:
        steps = db.scalars(
            select(ApprovalStep).where(ApprovalStep.instance_id == case_id, ApprovalStep.bpmn_id == "register_report")
        ).all()
        assert len(steps) == 1  # no duplicate approval step
        case = db.get(ProcessInstance, case_id)
        assert case is not None and case.version == version + 1
        assert open_steps(db, case) == ["triage"]
        completed = db.scalar(
            select(func.count())
            .select_from(TaskIndexEntry)
            .where(TaskIndexEntry.instance_id == case_id, TaskIndexEntry.bpmn_id == "register_report")
        )
        assert completed == 1


def test_two_officials_claiming_the_same_task_at_once_exactly_one_gets_it(
    file_db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with file_db() as db, db.begin():
        case = start_report(db)
        case_id, task_id = case.id, open_task(db, case, "register_report").task_id

    def claim(db: Session, who: User) -> Any:
        return claim_task(db, who, case_id, task_id)

    outcomes = _race(file_db, monkeypatch, {"ganjingzi1": claim, "ganjingzi2": claim})
    assert outcomes == ["conflict", "ok"]
    with file_db() as db:
        entry = db.scalar(select(TaskIndexEntry).where(TaskIndexEntry.task_id == task_id))
        assert entry is not None and entry.claimed_by_id is not None


def test_completing_two_parallel_branches_at_once_both_succeed(
    file_db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A major hazard's regulator notice and rectification notice are different tasks of one case."""
    from tests.test_hazard_process import register_and_triage, verify

    with file_db() as db, db.begin():
        case = start_report(db)
        register_and_triage(db, case, "可能重大")
        verify(db, case, "属实", "重大")
        case_id = case.id
        notify_id = open_task(db, case, "notify_regulator").task_id
        rectify_id = open_task(db, case, "rectify_notice").task_id

    def notify(db: Session, who: User) -> Any:
        data = {
            "regulator_name": "甘井子区应急管理局",
            "notified_on": "2026-11-21",
            "document_number": "甘工通〔2026〕9号",
        }
        return complete_task(db, who, case_id, notify_id, {**data, "summary": "重大隐患通报。"})

    def rectify(db: Session, who: User) -> Any:
        data = {"rectification_mode": "限期整改", "notice_number": "甘工整改〔2026〕9号", "requirements": "立即整改。"}
        return complete_task(
            db,
            who,
            case_id,
            rectify_id,
            {**data, "rectification_deadline": "2099-12-31", "responsible_person": "王科长"},
        )

    assert _race(file_db, monkeypatch, {"ganjingzi1": notify, "ganjingzi2": rectify}) == ["ok", "ok"]
    with file_db() as db:
        case = db.get(ProcessInstance, case_id)
        assert case is not None and open_steps(db, case) == ["enterprise_reply"]
        assert index_matches_engine(db, case, load_workflow(case), load_routing()) == []


def test_urging_a_task_while_its_holder_completes_it_neither_deadlocks_nor_fails(
    file_db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """催办 locks the case before the task row, as a completion does, so the two queue instead of deadlocking."""
    with file_db() as db, db.begin():
        case = start_report(db)
        case_id, task_id = case.id, open_task(db, case, "register_report").task_id

    def register(db: Session, who: User) -> Any:
        return complete_task(db, who, case_id, task_id, {"decision": "受理", **OPINION})

    def urge(db: Session, who: User) -> Any:
        routing = load_routing()
        entry = visible_task(db, who, task_id, routing)  # read before the lock, as the web and the API do
        db.get(ProcessInstance, case_id)
        try:
            return urge_task(db, who, entry, authority_on(db, who, entry, routing).actions, "请尽快登记")
        except OperationRefused:
            return "already done"  # the completion won the race: nothing left to urge

    assert _race(file_db, monkeypatch, {"ganjingzi1": register, "jingji_head": urge}) == ["ok", "ok"]
    with file_db() as db:
        case = db.get(ProcessInstance, case_id)
        assert case is not None and open_steps(db, case) == ["triage"]


def test_withdrawing_one_step_twice_at_once_withdraws_it_once(file_db: sessionmaker[Session]) -> None:
    """Each withdrawal decides on the task row as it is under the case lock, not on a copy read before it."""
    with file_db() as db, db.begin():
        case = start_report(db)
        complete(db, "ganjingzi1", case, "register_report", {"decision": "受理", **OPINION})
        case_id = case.id
        task_id = db.scalars(
            select(TaskIndexEntry.task_id).where(
                TaskIndexEntry.instance_id == case_id, TaskIndexEntry.bpmn_id == "register_report"
            )
        ).one()
    both_read = threading.Barrier(2, timeout=3)
    outcomes: list[str] = []

    def withdraw() -> None:
        def action(db: Session) -> Any:
            who = user(db, "ganjingzi1")
            db.scalar(select(TaskIndexEntry).where(TaskIndexEntry.task_id == task_id))  # the pre-lock read
            with contextlib.suppress(threading.BrokenBarrierError):  # on PostgreSQL the partner waits on the lock
                both_read.wait()
            return withdraw_task(db, who, case_id, task_id, "填错了")

        try:
            run_in_transaction(file_db, action)
            outcomes.append("ok")
        except (ConflictError, PermissionDenied, OperationRefused):
            outcomes.append("refused")

    threads = [threading.Thread(target=withdraw) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["ok", "refused"]
    with file_db() as db:
        withdrawals = db.scalar(
            select(func.count())
            .select_from(CaseAction)
            .where(CaseAction.instance_id == case_id, CaseAction.kind == "withdraw")
        )
        assert withdrawals == 1
