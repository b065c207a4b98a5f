"""Reminders (issue #4): the scheduler's automatic due-soon and overdue reminders, and 催办 with its refusals."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.workflow_helpers import complete, open_task, start_report, user
from webapp import scheduler
from webapp.scheduler import run_once
from workflows.db import utcnow
from workflows.errors import OperationRefused, PermissionDenied
from workflows.inbox import near_due_limit
from workflows.models import ActionKind, CaseAction, ProcessInstance, Reminder, TaskIndexEntry
from workflows.operations import claim_task
from workflows.reminders import reminders_for, send_due_reminders, urge_counts, urge_task
from workflows.routing import load_routing, task_actions

# A Wednesday, 10:00 Beijing time: two working days later is Friday, so the window ends Friday 23:59:59.999999.
NOW = datetime.fromisoformat("2026-11-18T10:00:00+08:00")
NEAR = near_due_limit(NOW, 2)


def kinds(session: Session, entry: TaskIndexEntry) -> list[str]:
    return [r.kind for r in reminders_for(session, entry.task_id)]


def registered(session: Session, location: str = "三号车间东侧配电箱") -> tuple[ProcessInstance, TaskIndexEntry]:
    """A case whose register step is done: its triage task waits, unclaimed, in the city department's queue.

    Cases of one test need different locations, or the second is refused as a likely duplicate report.
    """
    case = start_report(session, location=location)
    complete(session, "ganjingzi1", case, "register_report", {"decision": "受理", "opinion": "同意受理"})
    return case, open_task(session, case, "triage")


def due(session: Session, entry: TaskIndexEntry, due_at: datetime | None) -> TaskIndexEntry:
    entry.due_at = due_at
    session.flush()
    return entry


# --- Automatic reminders -------------------------------------------------------------------------------------------


def test_the_database_keeps_automatic_reminders_at_one_per_task_and_kind(world: Session) -> None:
    """A second scheduler in another process cannot add a duplicate, whatever it read before (issue #5)."""
    case, triage = registered(world)
    due(world, triage, NOW - timedelta(days=1))
    assert send_due_reminders(world, NOW, NEAR) == 1
    with pytest.raises(IntegrityError), world.begin_nested():
        world.add(Reminder(instance_id=case.id, task_id=triage.task_id, kind="overdue", created_at=NOW))
        world.flush()
    # 催办 by people are limited by interval instead, so two of them for one task are allowed.
    for _ in range(2):
        world.add(Reminder(instance_id=case.id, task_id=triage.task_id, kind="urge", created_at=NOW))
    world.flush()
    assert kinds(world, triage) == ["overdue", "urge", "urge"]


def test_near_due_window_ends_with_the_second_working_day() -> None:
    assert NEAR.isoformat() == "2026-11-20T23:59:59.999999+08:00"


def test_a_task_due_within_the_window_gets_one_due_soon_reminder(world: Session) -> None:
    _case, triage = registered(world)
    claim_task(world, user(world, "jingji1"), triage.instance_id, triage.task_id)
    due(world, triage, NOW + timedelta(days=1))

    send_due_reminders(world, NOW, NEAR)

    (reminder,) = reminders_for(world, triage.task_id)
    assert (reminder.kind, reminder.recipient_id, reminder.sent_by_id) == ("due_soon", user(world, "jingji1").id, None)
    assert reminder.created_at == NOW
    send_due_reminders(world, NOW + timedelta(hours=1), near_due_limit(NOW + timedelta(hours=1), 2))
    assert kinds(world, triage) == ["due_soon"]  # once per task and kind


def test_an_overdue_task_gets_one_overdue_reminder_and_a_second_pass_writes_nothing(world: Session) -> None:
    _case, triage = registered(world)
    due(world, triage, NOW - timedelta(minutes=1))

    written = send_due_reminders(world, NOW, NEAR)
    last_id = world.scalar(select(Reminder.id).order_by(Reminder.id.desc()).limit(1))
    assert written >= 1
    assert send_due_reminders(world, NOW, NEAR) == 0

    (reminder,) = reminders_for(world, triage.task_id)
    assert reminder.kind == "overdue"
    assert reminder.recipient_id is None  # unclaimed: it sits in the department queue
    assert world.scalar(select(Reminder.id).order_by(Reminder.id.desc()).limit(1)) == last_id


def test_a_task_gets_due_soon_then_overdue_as_time_passes(world: Session) -> None:
    _case, triage = registered(world)
    due(world, triage, NOW + timedelta(hours=5))

    send_due_reminders(world, NOW, NEAR)
    later = NOW + timedelta(hours=6)
    send_due_reminders(world, later, near_due_limit(later, 2))
    send_due_reminders(world, later, near_due_limit(later, 2))

    assert kinds(world, triage) == ["due_soon", "overdue"]


def test_window_boundaries(world: Session) -> None:
    _, at_end = registered(world, "一号仓库")
    _, after_end = registered(world, "二号仓库")
    _, at_now = registered(world, "三号仓库")
    due(world, at_end, NEAR)
    due(world, after_end, NEAR + timedelta(microseconds=1))
    due(world, at_now, NOW)

    send_due_reminders(world, NOW, NEAR)

    assert kinds(world, at_end) == ["due_soon"]  # due at the very end of the window: inside it
    assert kinds(world, after_end) == []  # the first moment after the window: not yet
    assert kinds(world, at_now) == ["due_soon"]  # due this very moment is not overdue yet


def test_completed_tasks_and_tasks_without_due_date_get_no_reminder(world: Session) -> None:
    case, triage = registered(world)
    register = world.scalar(
        select(TaskIndexEntry).where(TaskIndexEntry.instance_id == case.id, TaskIndexEntry.bpmn_id == "register_report")
    )
    assert register is not None and register.status == "completed"
    due(world, register, NOW - timedelta(days=3))
    due(world, triage, None)

    send_due_reminders(world, NOW, NEAR)

    assert kinds(world, register) == [] and kinds(world, triage) == []


def test_scheduler_pass_writes_due_reminders_once(app: Flask, app_db: Session) -> None:
    now = utcnow()
    _case, soon = registered(app_db, "一号仓库")
    _case, late = registered(app_db, "二号仓库")
    _case, far = registered(app_db, "三号仓库")
    due(app_db, soon, now + timedelta(hours=2))
    due(app_db, late, now - timedelta(hours=2))
    due(app_db, far, near_due_limit(now, int(app.config["NEAR_DUE_WORKING_DAYS"])) + timedelta(days=1))
    app_db.commit()

    run_once(app)
    run_once(app)

    app_db.expire_all()
    assert kinds(app_db, soon) == ["due_soon"]
    assert kinds(app_db, late) == ["overdue"]
    assert kinds(app_db, far) == []


def test_a_failing_reminder_pass_does_not_stop_the_scheduler(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(scheduler, "send_due_reminders", broken)

    assert run_once(app) >= 0  # returns; the error is logged and the reminders are retried on the next pass
    assert "writing due reminders failed" in caplog.text


# --- 催办 -----------------------------------------------------------------------------------------------------------


def test_urge_reminds_the_holder_and_is_recorded_on_the_case(world: Session) -> None:
    case, triage = registered(world)
    claim_task(world, user(world, "jingji1"), case.id, triage.task_id)
    head = user(world, "jingji_head")
    own = task_actions(head, triage, load_routing())

    reminder = urge_task(world, head, triage, own, "  请今天内完成研判  ", now=NOW)

    assert (reminder.kind, reminder.recipient_id, reminder.sent_by_id) == ("urge", user(world, "jingji1").id, head.id)
    assert reminder.message == "请今天内完成研判"
    action = world.scalar(select(CaseAction).where(CaseAction.instance_id == case.id, CaseAction.kind == "urge"))
    assert action is not None
    assert (action.actor_name, action.target, action.reason) == ("张志强", "王建国", "请今天内完成研判")
    assert urge_counts(world, [triage.task_id]) == {triage.task_id: 1}


def test_urging_a_queue_task_names_the_department_queue(world: Session) -> None:
    case, triage = registered(world)

    reminder = urge_task(world, user(world, "ganjingzi1"), triage, frozenset(), now=NOW)

    assert reminder.recipient_id is None
    action = world.scalar(
        select(CaseAction).where(CaseAction.instance_id == case.id, CaseAction.kind == ActionKind.URGE.value)
    )
    assert action is not None and action.target == "大连市总工会（部门待办）"


def test_holder_may_not_urge_their_own_task(world: Session) -> None:
    case, triage = registered(world)
    holder = user(world, "jingji1")
    claim_task(world, holder, case.id, triage.task_id)

    with pytest.raises(PermissionDenied, match="自己的待办"):
        urge_task(world, holder, triage, task_actions(holder, triage, load_routing()), now=NOW)
    assert reminders_for(world, triage.task_id) == []


def test_a_second_urge_within_24_hours_is_refused(world: Session) -> None:
    _case, triage = registered(world)
    urger = user(world, "ganjingzi1")
    urge_task(world, urger, triage, frozenset(), now=NOW)

    with pytest.raises(OperationRefused, match="请勿频繁催办"):
        urge_task(world, urger, triage, frozenset(), now=NOW + timedelta(hours=23, minutes=59))
    # Someone else may still urge, and the same person again once the interval has passed.
    urge_task(world, user(world, "ganjingzi_head"), triage, frozenset(), now=NOW + timedelta(hours=1))
    urge_task(world, urger, triage, frozenset(), now=NOW + timedelta(hours=24, minutes=1))
    assert urge_counts(world, [triage.task_id]) == {triage.task_id: 3}


def test_urging_a_completed_task_is_refused(world: Session) -> None:
    case, _triage = registered(world)
    register = world.scalar(
        select(TaskIndexEntry).where(TaskIndexEntry.instance_id == case.id, TaskIndexEntry.bpmn_id == "register_report")
    )
    assert register is not None

    with pytest.raises(OperationRefused, match="已办理"):
        urge_task(world, user(world, "ganjingzi_head"), register, frozenset(), now=NOW)
    assert reminders_for(world, register.task_id) == []
