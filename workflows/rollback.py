"""退回 and 撤回 (issue #4): sending a case back to an earlier step, and taking back one's own step.

Both reset the engine to an earlier task (`reset_from_task_id`): the tasks after it are dropped and the task is
READY again with the data it started with. Inside a parallel branch only that branch is reset. Approval steps
already written stay on the record; a withdrawn one is marked, a return is a 流转记录 entry with its reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from SpiffWorkflow.bpmn.specs.defaults import InclusiveGateway, ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

import forms
from workflows.acting import Authority
from workflows.audit import record_event
from workflows.db import utcnow
from workflows.engine.runtime import load_workflow
from workflows.errors import OperationRefused, PermissionDenied
from workflows.models import (
    ActionKind,
    ApprovalStep,
    CaseAction,
    InstanceStatus,
    NotificationKind,
    ProcessInstance,
    TaskIndexEntry,
    TaskOpening,
    TaskStatus,
    User,
)
from workflows.processes import hooks_for
from workflows.routing import Action, RoutingTable, load_routing
from workflows.steps import engine_task, load_task, locked_entry, store_case
from workflows.task_index import CLAIMED_BY, COMPLETED_BY

MAX_REASON_LENGTH = 500


# Built once: every claim and every task page runs them (issue #9).
_SHARE_LOCK_CASE = (
    select(ProcessInstance.id).where(ProcessInstance.id == bindparam("instance_id")).with_for_update(read=True)
)
_OPENING = select(TaskOpening.id).where(
    TaskOpening.task_id == bindparam("task_id"), TaskOpening.user_id == bindparam("user_id")
)


def record_opening(session: Session, instance_id: int, task_id: str, user: User) -> None:
    """Note that a holder opened the task (once per person): from then on its previous step cannot be withdrawn."""
    # A share lock on the case: a 撤回 that has just checked for openings (under its update lock) finishes first,
    # and an opening recorded here is seen by any 撤回 that comes after.
    session.execute(_SHARE_LOCK_CASE, {"instance_id": instance_id})
    exists = session.scalar(_OPENING, {"task_id": task_id, "user_id": user.id})
    if exists is not None:
        return
    # Two requests of the same person may open the task at once; the unique key keeps one row and the other
    # request's insert does nothing (rather than a savepoint to roll back to: issue #9, every claim opens a task).
    dialect = session.get_bind().dialect.name
    add = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        add(cast(Table, TaskOpening.__table__)).on_conflict_do_nothing(index_elements=["task_id", "user_id"]),
        {"instance_id": instance_id, "task_id": task_id, "user_id": user.id, "opened_at": utcnow()},
    )


def note_opened(session: Session, entry: TaskIndexEntry, authority: Authority) -> None:
    """A task page or API read counts as opening only for someone who can act on the task, not an onlooker."""
    if entry.status == TaskStatus.READY and authority.actions & {Action.CLAIM, Action.COMPLETE}:
        record_opening(session, entry.instance_id, entry.task_id, authority.actor)


def _is_human_step(task: Task) -> bool:
    return task.task_spec.manual and COMPLETED_BY in task.internal_data and task.state == TaskState.COMPLETED


def _is_instance_of_multi(task: Task) -> bool:
    return task.parent is not None and isinstance(task.parent.task_spec, MultiInstanceTask)


def _gateway_fan(task: Task) -> tuple[bool, bool]:
    """(joins, splits): whether the task is a parallel or inclusive gateway that merges or forks branches."""
    spec = task.task_spec
    if not isinstance(spec, (ParallelGateway, InclusiveGateway)):
        return False, False
    return len(spec.inputs) > 1, len(spec.outputs) > 1


def return_targets(task: Task) -> list[Task]:
    """The earlier steps `task` may be returned to: completed human steps on its own path, nearest last.

    Walking up the task tree gives the path that led here. Steps inside a parallel section that has since been
    joined are skipped: resetting one branch after its join would leave the join waiting for a branch that
    already finished. The section's fork and everything before it can be returned to (both branches restart).
    A loop's step appears once, at its latest pass. Instances of a 会签 step are not targets (the step is).
    """
    found: dict[str, Task] = {}
    depth = 0
    current = task.parent
    while current is not None:
        joins, splits = _gateway_fan(current)
        if joins:
            depth += 1
        if splits and depth > 0:
            depth -= 1
        elif depth == 0 and _is_human_step(current) and not _is_instance_of_multi(current):
            found.setdefault(current.task_spec.bpmn_id, current)
        current = current.parent
    irreversible = hooks_for(task.workflow.spec.name).irreversible_steps
    # Resetting to a step redoes it and everything after it: never when that would redo an irreversible step.
    return [
        target
        for target in reversed(found.values())
        if not any(t.task_spec.bpmn_id in irreversible and COMPLETED_BY in t.internal_data for t in target)
    ]


def _reset(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, task: Task) -> None:
    """Reset the engine to `task` and let the process undo the business records of every step that is redone."""
    # Read before the reset: it clears the task's internal data and drops its descendants.
    redone = [t.task_spec.bpmn_id for t in task if COMPLETED_BY in t.internal_data]
    workflow.reset_from_task_id(task.id)
    # SpiffWorkflow 3.2 drops a waiting event (a boundary timer) from the tree but not from its event manager,
    # whose next refresh then fails on the orphan; forget the orphans here.
    for waiting in list(workflow.event_manager.tasks.values()):
        if waiting.id not in waiting.workflow.tasks:
            workflow.event_manager.remove_task(waiting)
    hooks = hooks_for(instance.process_key)
    for bpmn_id in dict.fromkeys(redone):
        hooks.reopen_step(session, instance, bpmn_id)


def return_task(
    session: Session,
    user: User,
    instance_id: int,
    task_id: str,
    target_task_id: str,
    reason: str,
    *,
    routing: RoutingTable | None = None,
) -> CaseAction:
    """退回: send the case from this open step back to an earlier step of its path, with a mandatory reason.

    The earlier step goes back to whoever completed it (their 待办), showing the reason.
    """
    routing = routing or load_routing()
    reason = reason.strip()
    if not reason:
        raise forms.FormValidationError({"reason": "退回理由：必须填写"})
    if len(reason) > MAX_REASON_LENGTH:
        raise forms.FormValidationError({"reason": f"退回理由：不能超过 {MAX_REASON_LENGTH} 字"})
    loaded = load_task(session, user, instance_id, task_id, Action.RETURN, routing)
    targets = {str(t.id): t for t in return_targets(loaded.task)}
    target = targets.get(target_task_id)
    if target is None:
        raise forms.FormValidationError({"target_task_id": "退回环节：只能退回到本路径上已办理的环节"})
    previous_holder = target.internal_data.get(COMPLETED_BY)
    _reset(session, loaded.instance, loaded.workflow, target)
    holder = session.get(User, previous_holder) if previous_holder else None
    if holder is not None and holder.active:
        target.internal_data[CLAIMED_BY] = holder.id
    loaded.workflow.do_engine_steps()
    # The step's earlier holder (or its queue) is told it came back and why: a 退回, not a new task.
    store_case(
        session,
        loaded.instance,
        loaded.workflow,
        routing,
        notify_kind=NotificationKind.RETURNED,
        actor=user,
        note=f"{user.display_name}退回，理由：{reason}",
    )
    target_title = target.task_spec.bpmn_name or target.task_spec.bpmn_id
    action = CaseAction(
        instance_id=loaded.instance.id,
        task_id=task_id,
        step_title=loaded.entry.title,
        kind=ActionKind.RETURN.value,
        actor_id=user.id,
        actor_name=user.display_name,
        on_behalf_of_name=loaded.authority.principal.display_name if loaded.authority.on_behalf else None,
        target_user_id=holder.id if holder else None,
        target=target_title,
        target_task_id=str(target.id),
        reason=reason,
    )
    session.add(action)
    session.flush()
    record_event(
        session,
        "task.returned",
        "task",
        task_id,
        {"case": loaded.instance.case_number, "to_step": target.task_spec.bpmn_id, "reason": reason},
        actor_id=user.id,
    )
    return action


def return_reason_for(session: Session, entry: TaskIndexEntry) -> CaseAction | None:
    """The return that sent the case back to this open step, for its holder to read (None if it was not returned)."""
    if entry.status != TaskStatus.READY:
        return None
    return session.scalar(
        select(CaseAction)
        .where(CaseAction.target_task_id == entry.task_id, CaseAction.kind == ActionKind.RETURN.value)
        .where(CaseAction.created_at >= entry.ready_at)
        .order_by(CaseAction.id.desc())
        .limit(1)
    )


def _withdrawal_problem(session: Session, task: Task, user: User) -> str | None:
    if _is_instance_of_multi(task):
        return "会签意见提交后不能撤回"
    if task.task_spec.bpmn_id in hooks_for(task.workflow.spec.name).irreversible_steps:
        return "本环节的办理结果已生效（资金已拨付或文件已送银行），不能撤回"
    following = [t for t in list(task)[1:] if t.task_spec.manual]
    if any(_is_human_step(t) for t in following):
        return "下一环节已办理，不能撤回"
    waiting = [str(t.id) for t in following if t.state == TaskState.READY]
    if waiting:
        opened = session.scalar(
            select(TaskOpening.id).where(TaskOpening.task_id.in_(waiting), TaskOpening.user_id != user.id).limit(1)
        )
        if opened is not None:
            return "下一环节办理人已查看，不能撤回"
    return None


def withdraw_task(
    session: Session,
    user: User,
    instance_id: int,
    task_id: str,
    reason: str = "",
    *,
    routing: RoutingTable | None = None,
    now: datetime | None = None,
) -> CaseAction:
    """撤回: the person who completed a step takes it back, while the next holder has not opened the next task."""
    routing = routing or load_routing()
    instance, entry = locked_entry(session, instance_id, task_id)
    if entry.completed_by_id != user.id or entry.status != TaskStatus.COMPLETED:
        raise PermissionDenied("只能撤回本人已办理的环节")
    if instance.status != InstanceStatus.RUNNING:
        raise OperationRefused("案件已办结，不能撤回")
    if len(reason) > MAX_REASON_LENGTH:
        raise forms.FormValidationError({"reason": f"撤回说明：不能超过 {MAX_REASON_LENGTH} 字"})
    workflow: BpmnWorkflow = load_workflow(instance)
    task = engine_task(workflow, task_id)
    problem = _withdrawal_problem(session, task, user)
    if problem:
        raise OperationRefused(problem)
    holder = task.internal_data.get(CLAIMED_BY, user.id)
    _reset(session, instance, workflow, task)
    task.internal_data[CLAIMED_BY] = holder
    workflow.do_engine_steps()
    # The step comes back to its holder, normally the one withdrawing it, who is not told about their own act.
    store_case(session, instance, workflow, routing, actor=user)
    step = session.scalar(
        select(ApprovalStep)
        .where(ApprovalStep.task_id == task_id, ApprovalStep.withdrawn_at.is_(None), ApprovalStep.kind == "step")
        .order_by(ApprovalStep.id.desc())
        .limit(1)
    )
    if step is not None:
        step.withdrawn_at = now or utcnow()
    action = CaseAction(
        instance_id=instance.id,
        task_id=task_id,
        step_title=entry.title,
        kind=ActionKind.WITHDRAW.value,
        actor_id=user.id,
        actor_name=user.display_name,
        target=entry.title,
        target_task_id=task_id,
        reason=reason.strip(),
    )
    session.add(action)
    session.flush()
    record_event(session, "task.withdrawn", "task", task_id, {"case": instance.case_number}, actor_id=user.id)
    return action


def withdrawable(session: Session, user: User, entry: TaskIndexEntry) -> bool:
    """Whether to offer 撤回 on a done task, judged from the index alone (the operation checks the engine)."""
    if entry.status != TaskStatus.COMPLETED or entry.completed_by_id != user.id:
        return False
    if entry.instance.status != InstanceStatus.RUNNING:
        return False
    if entry.bpmn_id in hooks_for(entry.process_key).irreversible_steps:
        return False
    later = session.scalars(
        select(TaskIndexEntry).where(
            TaskIndexEntry.instance_id == entry.instance_id, TaskIndexEntry.ready_at >= entry.completed_at
        )
    ).all()
    if any(t.status == TaskStatus.COMPLETED and t.task_id != entry.task_id for t in later):
        return False
    waiting = [t.task_id for t in later if t.status == TaskStatus.READY]
    if not waiting:
        return False
    opened = session.scalar(
        select(TaskOpening.id).where(TaskOpening.task_id.in_(waiting), TaskOpening.user_id != user.id).limit(1)
    )
    return opened is None
