"""Fire due timer events (DESIGN §7): a scheduler pass that any number of processes may run at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.audit import record_event
from workflows.db import utcnow
from workflows.engine.runtime import load_workflow, store_workflow
from workflows.models import InstanceStatus, ProcessInstance, TimerEntry
from workflows.routing import RoutingTable, load_routing
from workflows.task_index import expected_timers, rebuild_index


def due_instance_ids(session: Session, now: datetime, limit: int = 100) -> list[int]:
    query = select(TimerEntry.instance_id).where(TimerEntry.due_at <= now).order_by(TimerEntry.due_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # Concurrent schedulers each take different instances instead of queueing behind one another.
        query = query.with_for_update(skip_locked=True)
    return list(dict.fromkeys(session.scalars(query)))


def fire_due_timers(
    session: Session, now: datetime | None = None, *, routing: RoutingTable | None = None, limit: int = 100
) -> int:
    """Fire every timer due at `now` (default: the current time); returns how many fired. Flushes.

    The engine compares timers with the wall clock and has no injectable clock, so the scheduler decides what is
    due by `now` and moves those timers' stored due time into the past before asking the engine to refresh.
    """
    now = now or utcnow()
    routing = routing or load_routing()
    fired = 0
    for instance_id in due_instance_ids(session, now, limit):
        instance = session.get(ProcessInstance, instance_id, with_for_update=True, populate_existing=True)
        if instance is None or instance.status != InstanceStatus.RUNNING:
            continue
        workflow = load_workflow(instance)
        due = {task_id for task_id, (_bpmn_id, due_at) in expected_timers(workflow).items() if due_at <= now}
        past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        fired_here = []
        for task in workflow.get_tasks(state=TaskState.WAITING):
            if str(task.id) in due:
                task.internal_data["event_value"] = past
                fired_here.append(task.task_spec.bpmn_id)
        if not fired_here:
            continue
        workflow.refresh_timers()
        workflow.do_engine_steps()
        store_workflow(instance, workflow)
        instance.updated_at = utcnow()
        session.flush()
        rebuild_index(session, instance, workflow, routing)
        record_event(session, "timer.fired", "case", instance.case_number or instance.id, {"timers": fired_here})
        fired += len(fired_here)
    return fired
