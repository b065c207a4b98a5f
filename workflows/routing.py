"""Routing (DESIGN §3): which org unit and department hold a task, and who may act on it.

A BPMN lane names a role (an org level plus, where that level has departments, a department). The lane map is
explicit data in `bpmn/routing.json`; the concrete unit is resolved per case from the case's home unit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from workflows.models import Level, OrgUnit, Role, TaskStatus, User
from workflows.organisation import ancestor_of_level

BPMN_DIR = Path(os.environ.get("UNIONFLOW_BPMN_DIR", Path(__file__).resolve().parent.parent / "bpmn"))


class RoutingError(LookupError):
    pass


@dataclass(frozen=True)
class LaneRole:
    lane: str
    level: Level
    department: str | None


@dataclass(frozen=True)
class ProcessInfo:
    key: str
    title: str
    case_prefix: str
    start_levels: frozenset[Level]
    owner_department: str
    source: str


@dataclass(frozen=True)
class RoutingTable:
    lanes: dict[str, LaneRole]
    processes: dict[str, ProcessInfo]

    def lane(self, name: str | None) -> LaneRole:
        if name is None or name not in self.lanes:
            raise RoutingError(f"泳道未登记角色：{name!r}")
        return self.lanes[name]

    def process(self, key: str) -> ProcessInfo:
        if key not in self.processes:
            raise RoutingError(f"流程未登记：{key}")
        return self.processes[key]


def parse_routing(data: dict[str, object]) -> RoutingTable:
    lanes_data = data.get("lanes", {})
    processes_data = data.get("processes", {})
    assert isinstance(lanes_data, dict) and isinstance(processes_data, dict)
    lanes = {name: LaneRole(name, Level(spec["level"]), spec.get("department")) for name, spec in lanes_data.items()}
    processes = {
        key: ProcessInfo(
            key=key,
            title=spec["title"],
            case_prefix=spec["case_prefix"],
            start_levels=frozenset(Level(level) for level in spec["start_levels"]),
            owner_department=spec["owner_department"],
            source=spec.get("source", ""),
        )
        for key, spec in processes_data.items()
    }
    return RoutingTable(lanes, processes)


@lru_cache(maxsize=4)
def load_routing(path: Path = BPMN_DIR / "routing.json") -> RoutingTable:
    return parse_routing(json.loads(path.read_text(encoding="utf-8")))


def resolve_unit(session: Session, role: LaneRole, home_unit: OrgUnit) -> OrgUnit:
    """The concrete unit that holds a task of `role` in a case whose home unit is `home_unit`."""
    unit = ancestor_of_level(session, home_unit, role.level)
    if unit is None:
        raise RoutingError(f"案件所属单位“{home_unit.name}”没有对应“{role.lane}”的{role.level.value}级单位")
    return unit


class Action(StrEnum):
    VIEW = "view"
    CLAIM = "claim"
    RELEASE = "release"
    COMPLETE = "complete"
    TRANSFER = "transfer"  # 转办
    RETURN = "return"  # 退回
    ADD_SIGNER = "add_signer"  # 加签


# Whoever may decide an ordinary step may also hand it on, send it back or ask another signer first.
_HOLDER_EXTRAS = frozenset({Action.TRANSFER, Action.RETURN, Action.ADD_SIGNER})


class TaskLike(Protocol):
    """What permission checks need of a task; the task index row has all of it."""

    process_key: str
    department_code: str | None
    claimed_by_id: int | None
    assigned_to_id: int | None
    completed_by_id: int | None
    status: str

    @property
    def org_unit(self) -> OrgUnit: ...


def task_actions(user: User, task: TaskLike, routing: RoutingTable) -> frozenset[Action]:
    """Everything `user` may do with `task`: the single place that decides it (issue #2 §4).

    - Officials act on tasks of their own unit, in their own department (or the unit's, where it has none).
    - A head does the same and may also release a colleague's claim; heads, and every province official
      ("the province sees its whole tree", DESIGN §3), also see read-only their department's processes in the
      units below their own.
    - Admins administer: they see their subtree but never claim or complete someone else's work.
    - A task assigned to a named signer (a 会签 instance, a signer added by 加签) is theirs alone to complete;
      they sign only. Everyone else who could see it still sees it.
    - Whoever may complete an ordinary task may also transfer it, return it or add a signer (issue #4).
    """
    if not user.active or user.role == Role.SERVICE:
        return frozenset()
    if task.status == TaskStatus.COMPLETED and task.completed_by_id == user.id:
        return frozenset({Action.VIEW})
    if task.assigned_to_id is not None and task.status == TaskStatus.READY:
        if task.assigned_to_id == user.id:
            return frozenset({Action.VIEW, Action.COMPLETE})
        return frozenset({Action.VIEW}) if _lane_actions(user, task, routing) else frozenset()
    actions = _lane_actions(user, task, routing)
    return actions | _HOLDER_EXTRAS if Action.COMPLETE in actions else actions


def may_hold(user: User, task: TaskLike) -> bool:
    """Whether `user` holds the task's lane role: its unit, and its department where the lane names one."""
    return (
        user.active
        and user.role in (Role.OFFICIAL, Role.HEAD)
        and task.org_unit.id == user.org_unit_id
        and task.department_code in (None, user.department_code)
    )


def _lane_actions(user: User, task: TaskLike, routing: RoutingTable) -> frozenset[Action]:
    unit = task.org_unit
    in_subtree = unit.is_within(user.org_unit)
    if user.role == Role.ADMIN:
        return frozenset({Action.VIEW}) if in_subtree else frozenset()

    if may_hold(user, task):
        if task.status != TaskStatus.READY:
            return frozenset({Action.VIEW})
        if task.claimed_by_id is None:
            return frozenset({Action.VIEW, Action.CLAIM, Action.COMPLETE})
        if task.claimed_by_id == user.id:
            return frozenset({Action.VIEW, Action.RELEASE, Action.COMPLETE})
        if user.role == Role.HEAD:
            return frozenset({Action.VIEW, Action.RELEASE})
        return frozenset({Action.VIEW})

    oversees = user.role == Role.HEAD or user.org_unit.level == Level.PROVINCE
    if oversees and in_subtree and user.department_code is not None:
        owned = routing.processes.get(task.process_key)
        if task.department_code == user.department_code or (
            task.department_code is None and owned is not None and owned.owner_department == user.department_code
        ):
            return frozenset({Action.VIEW})
    return frozenset()


AnyTask = TypeVar("AnyTask", bound=TaskLike)


def first_task_to_do(user: User, tasks: Iterable[AnyTask], routing: RoutingTable) -> AnyTask | None:
    """The first of these tasks `user` may complete: where an official goes on after a step or a start."""
    return next((task for task in tasks if Action.COMPLETE in task_actions(user, task, routing)), None)


def can_start(user: User, process: ProcessInfo) -> bool:
    """Officials and heads of a level the process lists may start it; the service account starts public reports."""
    return user.active and user.role != Role.ADMIN and user.org_unit.level in process.start_levels


def can_view_case(
    user: User,
    home_unit: OrgUnit,
    process_key: str,
    started_by_id: int,
    tasks: Iterable[TaskLike],
    routing: RoutingTable,
) -> bool:
    """Whether `user` may open a case page and its approval record.

    Its starter, whoever may see one of its tasks (open or done), and those who oversee the owning department's
    processes in the subtree of the case (heads, the province) or administer that subtree.
    """
    if not user.active or user.role == Role.SERVICE:
        return False
    if started_by_id == user.id:
        return True
    in_subtree = home_unit.is_within(user.org_unit)
    if user.role == Role.ADMIN:
        return in_subtree
    if any(Action.VIEW in task_actions(user, task, routing) for task in tasks):
        return True
    oversees = user.role == Role.HEAD or user.org_unit.level == Level.PROVINCE
    owned = routing.processes.get(process_key)
    return (
        oversees
        and in_subtree
        and owned is not None
        and user.department_code is not None
        and owned.owner_department == user.department_code
    )
