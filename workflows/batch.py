"""批量审批 (issue #4): one opinion applied to several open tasks of the same step, each case on its own.

Every task is completed in its own savepoint with the same submitted form, so each case gets its own approval
step; a task that cannot be completed that way (its form or a case check refuses the data, someone else handled
it, it is not the user's) is reported with the reason and left as it was. Tasks of different steps are refused
as a whole: one opinion cannot mean the same thing at two different steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
from workflows.acting import authority_on
from workflows.audit import record_event
from workflows.errors import OperationRefused, WorkflowError
from workflows.models import TaskIndexEntry, User
from workflows.operations import Completion, complete_task
from workflows.routing import Action, RoutingTable, load_routing

MAX_BATCH = 100


@dataclass(frozen=True)
class Skipped:
    task_id: str
    case_number: str
    reason: str


@dataclass
class BatchResult:
    completed: list[Completion] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def batch_step(entries: Sequence[TaskIndexEntry]) -> tuple[str, str, str | None]:
    """The one step (process, BPMN id, form) all the tasks are at; OperationRefused when they differ."""
    steps = {(e.process_key, e.bpmn_id, e.form_name) for e in entries}
    if len(steps) != 1:
        titles = "、".join(sorted({e.title for e in entries}))
        raise OperationRefused(f"所选任务不属于同一环节（{titles}），不能批量审批")
    return steps.pop()


def batch_complete(
    session: Session,
    user: User,
    task_ids: Sequence[str],
    data: dict[str, Any],
    *,
    routing: RoutingTable | None = None,
) -> BatchResult:
    routing = routing or load_routing()
    wanted = list(dict.fromkeys(task_ids))
    if not wanted:
        raise OperationRefused("请至少选择一项任务")
    if len(wanted) > MAX_BATCH:
        raise OperationRefused(f"一次最多批量审批 {MAX_BATCH} 项")
    result = BatchResult()
    found = {e.task_id: e for e in session.scalars(select(TaskIndexEntry).where(TaskIndexEntry.task_id.in_(wanted)))}
    visible = []
    for task_id in wanted:
        entry = found.get(task_id)
        if entry is None or Action.VIEW not in authority_on(session, user, entry, routing).actions:
            result.skipped.append(Skipped(task_id, "", "任务不存在或无权查看"))
        else:
            visible.append(entry)
    if not visible:
        return result
    batch_step(visible)
    for entry in visible:
        try:
            with session.begin_nested():
                result.completed.append(
                    complete_task(session, user, entry.instance_id, entry.task_id, data, routing=routing)
                )
        except forms.FormValidationError as exc:
            result.skipped.append(Skipped(entry.task_id, entry.case_number, "；".join(exc.errors.values())))
        except WorkflowError as exc:
            result.skipped.append(Skipped(entry.task_id, entry.case_number, str(exc)))
    record_event(
        session,
        "task.batch_completed",
        "user",
        user.username,
        {
            "completed": [c.approval_step.task_id for c in result.completed],
            "skipped": [s.task_id for s in result.skipped],
        },
        actor_id=user.id,
    )
    return result
