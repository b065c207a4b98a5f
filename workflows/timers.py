"""Fire due timer events (DESIGN §7): a scheduler pass that any number of processes may run at once.

Each case is fired in its own transaction and takes its locks in the same order as a user's step (the case row,
then its index and timer rows, then the audit chain), so a scheduler and an official never deadlock, one bad
case never holds up the others, and a case another scheduler is firing is skipped, not waited for.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from workflows.audit import record_event
from workflows.db import utcnow
from workflows.engine.runtime import load_workflow, store_workflow
from workflows.errors import CaseChanged, ConflictError
from workflows.models import InstanceStatus, ProcessInstance, TimerEntry
from workflows.notifications import notify_new_tasks
from workflows.routing import RoutingTable, load_routing
from workflows.task_index import expected_timers, rebuild_index

log = logging.getLogger(__name__)


def due_instance_ids(session: Session, now: datetime, limit: int = 100) -> list[int]:
    """Cases with a timer due at `now`, earliest first. Reads without locking: firing locks the case."""
    query = select(TimerEntry.instance_id).where(TimerEntry.due_at <= now).order_by(TimerEntry.due_at).limit(limit)
    return list(dict.fromkeys(session.scalars(query)))


def fire_case_timers(session: Session, instance_id: int, now: datetime, routing: RoutingTable) -> int:
    """Fire the timers of one case that are due at `now`; returns how many fired. Flushes.

    The engine compares timers with the wall clock and has no injectable clock, so the scheduler decides what is
    due by `now` and moves those timers' stored due time into the past before asking the engine to refresh.
    """
    lock: dict[str, Any] = {"skip_locked": True} if session.get_bind().dialect.name == "postgresql" else {}
    instance = session.scalar(
        select(ProcessInstance)
        .where(ProcessInstance.id == instance_id)
        .with_for_update(**lock)
        .execution_options(populate_existing=True)
    )
    if instance is None or instance.status != InstanceStatus.RUNNING:
        return 0
    workflow = load_workflow(instance)
    due = {task_id for task_id, (_bpmn_id, due_at) in expected_timers(workflow).items() if due_at <= now}
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    fired = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        if str(task.id) in due:
            task.internal_data["event_value"] = past
            fired.append(task.task_spec.bpmn_id)
    if not fired:
        return 0
    workflow.refresh_timers()
    workflow.do_engine_steps()
    store_workflow(instance, workflow)
    instance.updated_at = utcnow()
    try:
        session.flush()
    except StaleDataError as exc:
        raise CaseChanged() from exc
    # A timer may open a step (an escalation, a reminder step): its workers are told as for any new task.
    notify_new_tasks(session, instance, rebuild_index(session, instance, workflow, routing))
    record_event(session, "timer.fired", "case", instance.case_number or instance.id, {"timers": fired})
    return len(fired)


def fire_due_timers(
    session: Session, now: datetime | None = None, *, routing: RoutingTable | None = None, limit: int = 100
) -> int:
    """Fire every due timer within the caller's transaction, each case in a savepoint; returns how many fired.

    For tests and single-session callers; the scheduler itself uses `run_scheduler_pass`.
    """
    now = now or utcnow()
    routing = routing or load_routing()
    fired = 0
    for instance_id in due_instance_ids(session, now, limit):
        try:
            with session.begin_nested():
                fired += fire_case_timers(session, instance_id, now, routing)
        except Exception:
            log.exception("firing the timers of case %s failed; it is retried on the next pass", instance_id)
    return fired


def run_scheduler_pass(
    factory: sessionmaker[Any], now: datetime | None = None, *, routing: RoutingTable | None = None, limit: int = 100
) -> int:
    """One scheduler pass: each due case fired and committed in its own transaction; returns how many fired."""
    now = now or utcnow()
    routing = routing or load_routing()
    with factory() as session:
        candidates = due_instance_ids(session, now, limit)
    fired = 0
    for instance_id in candidates:
        try:
            with factory() as session, session.begin():
                fired += fire_case_timers(session, instance_id, now, routing)
        except ConflictError:
            log.info("case %s changed while its timers fired; retried on the next pass", instance_id)
        except Exception:
            log.exception("firing the timers of case %s failed; it is retried on the next pass", instance_id)
    return fired
