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
from workflows.organisation import ancestor_id_of_level

BPMN_DIR = Path(os.environ.get("UNIONFLOW_BPMN_DIR", Path(__file__).resolve().parent.parent / "bpmn"))


class RoutingError(LookupError):
    pass


# A lane whose department is "*" takes it from each task's `departmentCode` expression (issue #8: a supervised
# matter goes to whichever city department or district union the head assigns it to).
DYNAMIC_DEPARTMENT = "*"


@dataclass(frozen=True)
class LaneRole:
    """A lane's role. `level` None: the task's `orgUnit` expression names the unit, of any level in the case's tree."""

    lane: str
    level: Level | None
    department: str | None

    @property
    def is_dynamic(self) -> bool:
        return self.level is None or self.department == DYNAMIC_DEPARTMENT


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
    lanes = {
        name: LaneRole(name, Level(spec["level"]) if spec.get("level") else None, spec.get("department"))
        for name, spec in lanes_data.items()
    }
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


def resolve_unit_id(session: Session, role: LaneRole, home_unit_id: int) -> int:
    """The id of the unit that holds a task of `role` in a case whose home unit is `home_unit_id`."""
    if role.level is None:
        raise RoutingError(f"泳道“{role.lane}”的办理单位由任务的 orgUnit 指定，任务缺少该属性")
    unit_id = ancestor_id_of_level(session, home_unit_id, role.level)
    if unit_id is None:
        home_unit = session.get(OrgUnit, home_unit_id)
        name = home_unit.name if home_unit else home_unit_id
        raise RoutingError(f"案件所属单位“{name}”没有对应“{role.lane}”的{role.level.value}级单位")
    return unit_id


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


class Standing(StrEnum):
    """Who a user is, for permissions: their role, and for officials whether they sit at the province."""

    OFFICIAL = "official"
    HEAD = "head"
    PROVINCE_OFFICIAL = "province_official"  # the province sees its whole tree (DESIGN §3)
    ADMIN = "admin"


class Relation(StrEnum):
    """Where a task stands from a user's seat: their own lane (unit and department), or elsewhere in the tree."""

    LANE_OPEN = "lane_open"  # in the user's lane, unclaimed
    LANE_MINE = "lane_mine"  # in the user's lane, claimed by the user
    LANE_COLLEAGUE = "lane_colleague"  # in the user's lane, claimed by a colleague
    LANE_DONE = "lane_done"  # in the user's lane, completed
    BELOW_OWN_DEPARTMENT = "below_own_department"  # the user's subtree, handled for the user's department's process
    BELOW_OTHER = "below_other"  # the user's subtree, anything else
    OUTSIDE = "outside"  # not in the user's subtree


_V, _CL, _RE, _CO = Action.VIEW, Action.CLAIM, Action.RELEASE, Action.COMPLETE
_OFFICIAL_LANE = {
    Relation.LANE_OPEN: frozenset({_V, _CL, _CO}),
    Relation.LANE_MINE: frozenset({_V, _RE, _CO}),
    Relation.LANE_COLLEAGUE: frozenset({_V}),
    Relation.LANE_DONE: frozenset({_V}),
}

# Who may do what with a task (issue #2 §4, issue #5): standing × relation → actions; anything not listed: nothing,
# and the task answers 404. The holder's extras (转办, 退回, 加签) follow COMPLETE; named signers are handled in
# `task_actions`. README "Permissions" prints this table.
PERMISSIONS: dict[Standing, dict[Relation, frozenset[Action]]] = {
    Standing.OFFICIAL: _OFFICIAL_LANE,
    # A head may also take a task back from a colleague, and oversees their department's processes below.
    Standing.HEAD: {
        **_OFFICIAL_LANE,
        Relation.LANE_COLLEAGUE: frozenset({_V, _RE}),
        Relation.BELOW_OWN_DEPARTMENT: frozenset({_V}),
    },
    Standing.PROVINCE_OFFICIAL: {**_OFFICIAL_LANE, Relation.BELOW_OWN_DEPARTMENT: frozenset({_V})},
    # Admins administer their subtree: they see everything in it and never act on anyone's work.
    Standing.ADMIN: {Relation.BELOW_OWN_DEPARTMENT: frozenset({_V}), Relation.BELOW_OTHER: frozenset({_V})},
}


def standing_of(user: User) -> Standing | None:
    """None for accounts that hold no permissions at all: inactive users and the service account."""
    if not user.active or user.role == Role.SERVICE:
        return None
    if user.role == Role.ADMIN:
        return Standing.ADMIN
    if user.role == Role.HEAD:
        return Standing.HEAD
    return Standing.PROVINCE_OFFICIAL if user.org_unit.level == Level.PROVINCE else Standing.OFFICIAL


def task_relation(user: User, task: TaskLike, routing: RoutingTable) -> Relation:
    if may_hold(user, task):
        if task.status != TaskStatus.READY:
            return Relation.LANE_DONE
        if task.claimed_by_id is None:
            return Relation.LANE_OPEN
        return Relation.LANE_MINE if task.claimed_by_id == user.id else Relation.LANE_COLLEAGUE
    if not task.org_unit.is_within(user.org_unit):
        return Relation.OUTSIDE
    owned = routing.processes.get(task.process_key)
    own_department = user.department_code is not None and (
        task.department_code == user.department_code
        or (task.department_code is None and owned is not None and owned.owner_department == user.department_code)
    )
    return Relation.BELOW_OWN_DEPARTMENT if own_department else Relation.BELOW_OTHER


def _lane_actions(user: User, task: TaskLike, routing: RoutingTable) -> frozenset[Action]:
    standing = standing_of(user)
    if standing is None:
        return frozenset()
    return PERMISSIONS[standing].get(task_relation(user, task, routing), frozenset())


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
