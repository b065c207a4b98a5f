"""Inbox queries (DESIGN §2): plain SQL over the task index, never a deserialized workflow."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, and_, false, literal, or_, select, true
from sqlalchemy.orm import Session

from workflows.acting import authority_on, principals_of
from workflows.errors import NotFound, PermissionDenied
from workflows.models import (
    ApprovalStep,
    CaseAction,
    CaseCopy,
    CaseLink,
    Level,
    OrgUnit,
    ProcessInstance,
    Role,
    TaskIndexEntry,
    TaskStatus,
    User,
)
from workflows.routing import Action, RoutingTable, can_view_case

DEFAULT_PAGE_SIZE = 20


def _page(query: Select[TaskIndexEntry], page: int, per_page: int) -> Select[TaskIndexEntry]:
    return query.limit(per_page).offset(max(page - 1, 0) * per_page)


def status_is(status: TaskStatus) -> ColumnElement[bool]:
    """`status = 'ready'` with the value written into the SQL, not bound: SQLite then sees that the partial index's
    own condition holds and stops testing every entry it reads (jingji_head's 82,000 done tasks: 6.6 → 3.3 ms)."""
    return TaskIndexEntry.status == literal(status.value, literal_execute=True)


def my_tasks_query(user: User, principals: Sequence[User] = ()) -> Select[TaskIndexEntry]:
    """待办: ready tasks claimed by (or assigned to) me, and those of colleagues who delegated to me (委托)."""
    holders = [user.id, *(p.id for p in principals)]
    return select(TaskIndexEntry).where(
        status_is(TaskStatus.READY), TaskIndexEntry.claimed_by_id.in_(holders)
    )


def _queue_of(user: User) -> ColumnElement[bool]:
    department_match: ColumnElement[bool] = TaskIndexEntry.department_code.is_(None)
    if user.department_code is not None:
        department_match = or_(department_match, TaskIndexEntry.department_code == user.department_code)
    return and_(TaskIndexEntry.org_unit_id == user.org_unit_id, department_match)


def department_queue_query(user: User, principals: Sequence[User] = ()) -> Select[TaskIndexEntry]:
    """部门待办: unclaimed ready tasks of my unit, in my department or the unit's own (department-less) lane,
    and of the queues of colleagues who delegated to me."""
    if user.role == Role.ADMIN:
        return select(TaskIndexEntry).where(false())
    return select(TaskIndexEntry).where(
        status_is(TaskStatus.READY),
        TaskIndexEntry.claimed_by_id.is_(None),
        or_(*(_queue_of(holder) for holder in [user, *principals])),
    )


def done_by_me_query(user: User) -> Select[TaskIndexEntry]:
    """已办: tasks I completed."""
    return select(TaskIndexEntry).where(
        status_is(TaskStatus.COMPLETED), TaskIndexEntry.completed_by_id == user.id
    )


def my_tasks(
    session: Session, user: User, page: int = 1, per_page: int = DEFAULT_PAGE_SIZE
) -> Sequence[TaskIndexEntry]:
    query = my_tasks_query(user).order_by(TaskIndexEntry.due_at.is_(None), TaskIndexEntry.due_at, TaskIndexEntry.id)
    return session.scalars(_page(query, page, per_page)).all()


def department_queue(
    session: Session, user: User, page: int = 1, per_page: int = DEFAULT_PAGE_SIZE
) -> Sequence[TaskIndexEntry]:
    query = department_queue_query(user).order_by(
        TaskIndexEntry.due_at.is_(None), TaskIndexEntry.due_at, TaskIndexEntry.id
    )
    return session.scalars(_page(query, page, per_page)).all()


def done_by_me(
    session: Session, user: User, page: int = 1, per_page: int = DEFAULT_PAGE_SIZE
) -> Sequence[TaskIndexEntry]:
    query = done_by_me_query(user).order_by(TaskIndexEntry.completed_at.desc(), TaskIndexEntry.id.desc())
    return session.scalars(_page(query, page, per_page)).all()


def started_by_me(
    session: Session, user: User, page: int = 1, per_page: int = DEFAULT_PAGE_SIZE
) -> Sequence[ProcessInstance]:
    """我发起: cases I started, newest first."""
    query = (
        select(ProcessInstance)
        .where(ProcessInstance.started_by_id == user.id)
        .order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
        .limit(per_page)
        .offset(max(page - 1, 0) * per_page)
    )
    return session.scalars(query).all()


def case_tasks(session: Session, instance_id: int) -> Sequence[TaskIndexEntry]:
    """Every human task of a case, open and done, in the order they became ready."""
    query = (
        select(TaskIndexEntry)
        .where(TaskIndexEntry.instance_id == instance_id)
        .order_by(TaskIndexEntry.ready_at, TaskIndexEntry.id)
    )
    return session.scalars(query).all()


def case_approval_steps(session: Session, instance_id: int) -> Sequence[ApprovalStep]:
    query = select(ApprovalStep).where(ApprovalStep.instance_id == instance_id).order_by(ApprovalStep.id)
    return session.scalars(query).all()


def readable_approval_steps(session: Session, user: User, instance: ProcessInstance) -> list[ApprovalStep]:
    """The case's steps as `user` may read them: an expert of an open studio panel round does not see the other
    experts' votes (workflows.studio.experts.hidden_panel_steps)."""
    from workflows.studio.experts import hidden_panel_steps

    hidden = hidden_panel_steps(session, user, instance)
    return [step for step in case_approval_steps(session, instance.id) if step.id not in hidden]


def visible_task(session: Session, user: User, task_id: str, routing: RoutingTable) -> TaskIndexEntry:
    """The task with this engine id, if `user` (or a principal who delegated to them) may see it; NotFound
    otherwise, so existence does not leak."""
    entry = session.scalar(select(TaskIndexEntry).where(TaskIndexEntry.task_id == task_id))
    if entry is None or Action.VIEW not in authority_on(session, user, entry, routing).actions:
        raise NotFound("任务不存在")
    return entry


def took_part(session: Session, user: User, instance_id: int) -> bool:
    """Whether the user signed a step of the case, was copied on it or was added or handed a step of it."""
    for query in (
        select(ApprovalStep.id).where(ApprovalStep.instance_id == instance_id, ApprovalStep.actor_id == user.id),
        select(CaseCopy.id).where(CaseCopy.instance_id == instance_id, CaseCopy.user_id == user.id),
        select(CaseAction.id).where(CaseAction.instance_id == instance_id, CaseAction.target_user_id == user.id),
    ):
        if session.scalar(query.limit(1)) is not None:
            return True
    return False


def visible_case(session: Session, user: User, instance_id: int, routing: RoutingTable) -> ProcessInstance:
    """The case, if `user` may open it (routing.can_view_case); NotFound otherwise."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound("案件不存在")
    tasks = case_tasks(session, instance_id)
    viewers = [user, *principals_of(session, user)]
    if not any(
        can_view_case(viewer, instance.home_unit, instance.process_key, instance.started_by_id, tasks, routing)
        for viewer in viewers
    ) and not (user.active and took_part(session, user, instance_id)):
        raise NotFound("案件不存在")
    return instance


def _subtree_of(user: User) -> Select[int]:
    return select(OrgUnit.id).where(OrgUnit.path.startswith(user.org_unit.path, autoescape=True))


def _home_unit_within(units: Select[int]) -> ColumnElement[bool]:
    return ProcessInstance.home_unit_id.in_(units)


@dataclass(frozen=True)
class CaseColumns:
    """How a visibility condition names the case it decides on (issue #9: the 督办台账 decides over ~2,000 matters).

    - `id`: the column holding the case's id; the ledger passes `SupervisionItem.instance_id`, so no case row is read.
    - `process_key`: the process every case it is applied to belongs to (a supervised matter's case is always a
      `supervision` case), so whether a viewer's department owns the process is decided in Python, not per case.
    - `home_within(units)`: the condition "the case's home unit is one of `units`" (a select of unit ids).
    - `task_sets`: decide the viewer's steps as sets of the process's cases (one index read each, hashed) instead of
      probing each case's steps: PostgreSQL probed 1,872 matters for a city department head (8 ms). It needs
      `process_key` and that process's partial indexes (models.process: supervision only).
    The default names `ProcessInstance` itself, for any process."""

    id: SQLColumnExpression[int] = field(default_factory=lambda: ProcessInstance.id)
    process_key: str | None = None
    home_within: Callable[[Select[int]], ColumnElement[bool]] = _home_unit_within
    task_sets: bool = False


def _case_viewable_by(viewer: User, routing: RoutingTable, case: CaseColumns) -> ColumnElement[bool]:
    """SQL twin of routing.can_view_case for one viewer. The task part (`Action.VIEW in task_actions`): a step of the
    viewer's lane (unit, and department where the step names one), a step they completed, for heads and province
    officials a step below them in their department or of a process it owns (the task's process is its case's); these
    read the case's rows of ix_task_index_case_seats alone. And a step named to them (ix_task_index_named: few rows).

    The cheap terms come first (both databases stop at the first true one): the cases the viewer started and the steps
    named to them are each one index read for the whole list, where the task part probes every case's rows. The
    starter is found through ix_process_instance_started_by, not the case row: on SQLite that row holds the engine
    state, and reading a column stored after it walks the state's overflow pages (5 ms over 2,000 matters).
    """
    if not viewer.active or viewer.role == Role.SERVICE:
        return false()
    started_by_viewer = [ProcessInstance.started_by_id == viewer.id]
    if case.process_key is not None:  # only that process's cases (ix_process_instance_started_by: its range alone)
        started_by_viewer.append(ProcessInstance.process_key == literal(case.process_key, literal_execute=True))
    started = case.id.in_(select(ProcessInstance.id).where(*started_by_viewer))
    if viewer.role == Role.ADMIN:
        return or_(started, case.home_within(_subtree_of(viewer)))
    department_code = viewer.department_code
    owned_keys = [key for key, info in routing.processes.items() if info.owner_department == department_code]
    owns: ColumnElement[bool]
    if case.process_key is None:
        owns = ProcessInstance.process_key.in_(owned_keys) if owned_keys else false()
    else:
        owns = true() if case.process_key in owned_keys else false()
    department = TaskIndexEntry.department_code
    lane_department: ColumnElement[bool] = department.is_(None)
    if department_code is not None:
        lane_department = or_(lane_department, department == department_code)
    in_lane = and_(TaskIndexEntry.org_unit_id == viewer.org_unit_id, lane_department)
    oversees = (viewer.role == Role.HEAD or viewer.org_unit.level == Level.PROVINCE) and department_code is not None
    # The department first, so only its rows test the subtree.
    own_department = or_(department == department_code, and_(department.is_(None), owns))
    conditions: list[ColumnElement[bool]] = [
        started,
        case.id.in_(
            select(TaskIndexEntry.instance_id).where(
                TaskIndexEntry.assigned_to_id == viewer.id, TaskIndexEntry.status == TaskStatus.READY.value
            )
        ),
    ]
    if case.task_sets and case.process_key is not None:
        # Literal values, so PostgreSQL matches the partial indexes' conditions in a prepared statement too.
        of_process = TaskIndexEntry.process_key == literal(case.process_key, literal_execute=True)
        step_sets = [in_lane, and_(status_is(TaskStatus.COMPLETED), TaskIndexEntry.completed_by_id == viewer.id)]
        if oversees:
            step_sets.append(and_(own_department, TaskIndexEntry.org_unit_id.in_(_subtree_of(viewer))))
        conditions += [case.id.in_(select(TaskIndexEntry.instance_id).where(of_process, steps)) for steps in step_sets]
    else:
        task_conditions = [
            in_lane,
            and_(TaskIndexEntry.status == TaskStatus.COMPLETED.value, TaskIndexEntry.completed_by_id == viewer.id),
        ]
        if oversees:
            # `+ 0`: the case's few rows are filtered, rather than probing the index once per unit of the subtree
            # (a city head's subtree is every unit of the city).
            task_conditions.append(and_(own_department, (TaskIndexEntry.org_unit_id + 0).in_(_subtree_of(viewer))))
        # One column, not `SELECT *`: SQLite then answers from the index alone.
        conditions.append(
            select(TaskIndexEntry.instance_id)
            .where(TaskIndexEntry.instance_id == case.id, or_(*task_conditions))
            .exists()
        )
    if oversees and owned_keys:
        conditions.append(and_(owns, case.home_within(_subtree_of(viewer))))
    return or_(*conditions)


def viewable_cases(
    viewers: Sequence[User], routing: RoutingTable, case: CaseColumns | None = None
) -> ColumnElement[bool]:
    """The SQL twin of `routing.can_view_case` for any of `viewers` (a user and the principals they act for): a
    condition on the case (`case`, by default ProcessInstance itself), so a list of cases is filtered, counted and
    paged by the database instead of loading every candidate's tasks (issue #9). tests/test_lists_at_volume.py holds
    it equal to the Python rule, tests/test_ledger_visibility.py with the ledger's columns too."""
    columns = case or CaseColumns()
    return or_(false(), *(_case_viewable_by(viewer, routing, columns) for viewer in viewers))


def case_to_act_on(session: Session, user: User, instance_id: int, routing: RoutingTable) -> ProcessInstance:
    """The case, for copying, urging, commenting or attaching: NotFound if invisible; PermissionDenied for
    administrators and service accounts, who may see cases but never act on them."""
    instance = visible_case(session, user, instance_id, routing)
    if user.role not in (Role.OFFICIAL, Role.HEAD):
        raise PermissionDenied("无权执行此操作")
    return instance


def case_by_number(session: Session, user: User, case_number: str, routing: RoutingTable) -> ProcessInstance:
    instance_id = session.scalar(select(ProcessInstance.id).where(ProcessInstance.case_number == case_number))
    if instance_id is None:
        raise NotFound("案件不存在")
    return visible_case(session, user, instance_id, routing)


def related_cases(session: Session, instance_id: int) -> Sequence[tuple[str, ProcessInstance]]:
    """Linked cases in both directions, as (kind, other case); kind is `duplicate_of` or `duplicated_by` …"""
    outgoing = session.execute(
        select(CaseLink.kind, ProcessInstance)
        .join(ProcessInstance, ProcessInstance.id == CaseLink.linked_instance_id)
        .where(CaseLink.instance_id == instance_id)
    ).all()
    incoming = session.execute(
        select(CaseLink.kind, ProcessInstance)
        .join(ProcessInstance, ProcessInstance.id == CaseLink.instance_id)
        .where(CaseLink.linked_instance_id == instance_id)
    ).all()
    reverse = {"duplicate_of": "duplicated_by"}
    return [(kind, case) for kind, case in outgoing] + [
        (reverse.get(kind, f"{kind}_by"), case) for kind, case in incoming
    ]
