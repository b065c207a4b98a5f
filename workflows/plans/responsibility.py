"""Who answers for a plan item, and who sees the plan (issue #8 "The plan as data", "Dashboard for department heads").

- Responsible rows: a plan names a department of the issuing unit (the unit and a department code), a unit, or a group
  of units together (各区市县和开放先导区总工会, 各产业工会), which expands to every child of the issuing unit of the
  group's kinds. A row of a unit that works as a whole answers for its subtree; a department row for its own queue.
- Who sees the plan: the issuing federation's users every item and row; a union directly below it the items naming
  it, and its own row only; the province above it everything, read-only. 我的部门: the items the user's department
  (or, for a union without departments, the user's unit) answers for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from workflows.models import (
    Level,
    OrgUnit,
    Plan,
    PlanItem,
    ProcessVersion,
    ResponsibilityRole,
    Role,
    UnitGroup,
    UnitKind,
    User,
)
from workflows.notifications import unit_label

# The kinds of the issuing unit's children a group expands to (models.plan.UnitGroup).
GROUP_KINDS: dict[str, tuple[str, ...]] = {
    UnitGroup.DISTRICTS.value: (
        UnitKind.DISTRICT.value,
        UnitKind.COUNTY.value,
        UnitKind.COUNTY_CITY.value,
        UnitKind.PILOT_ZONE.value,
    ),
    UnitGroup.INDUSTRY.value: (UnitKind.INDUSTRY.value,),
}
ROLE_LABELS: dict[str, str] = {ResponsibilityRole.LEAD.value: "牵头", ResponsibilityRole.CO.value: "配合"}
# Processes items link to before they are built (seed 000 items 1–3): what the item page calls them meanwhile.
PLANNED_PROCESS_TITLES: dict[str, str] = {
    "fee_remittance": "基层工会经费留成拨付",
    "fee_refund": "小微企业工会经费返还",
    "fee_deferral": "困难工业企业工会经费缓征",
}


# --- Responsible rows ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponsibleRow:
    """One concrete responsible party of an item: a department of a unit, or a unit working as a whole."""

    org_unit: OrgUnit
    department_code: str | None
    role: str  # ResponsibilityRole
    label: str  # the unit as the system names it: 大连市总工会经济技术和劳动保护部, 甘井子区总工会
    responsibility_label: str  # as the plan names the party: 市总工会经济技术和劳动保护部, 各区市县和开放先导区总工会
    group: str | None = None  # the UnitGroup the row was expanded from
    # (unit id, department): set once, as the dashboard looks rows up by it thousands of times per view (issue #9)
    key: tuple[int, str | None] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.org_unit.id, self.department_code))

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def covers_subtree(self) -> bool:
        """A unit working as a whole answers for everything below it; a department only for its own queue."""
        return self.department_code is None


def _group_children(session: Session, plan: Plan) -> dict[str, list[OrgUnit]]:
    all_kinds = [kind for group in GROUP_KINDS.values() for kind in group]
    children = session.scalars(
        select(OrgUnit)
        .where(OrgUnit.parent_id == plan.issuing_unit_id, OrgUnit.kind.in_(all_kinds))
        .options(selectinload(OrgUnit.departments))
        .order_by(OrgUnit.code)
    ).all()
    return {group: [child for child in children if child.kind in kinds] for group, kinds in GROUP_KINDS.items()}


def plan_items(session: Session, plan: Plan) -> list[PlanItem]:
    """The plan's items in order, with what the dashboard reads of them loaded in a few queries."""
    return list(
        session.scalars(
            select(PlanItem)
            .where(PlanItem.plan_id == plan.id)
            .options(
                selectinload(PlanItem.measure),
                selectinload(PlanItem.responsibilities),
                selectinload(PlanItem.processes),
                selectinload(PlanItem.targets),
            )
            .order_by(PlanItem.number)
        )
    )


def responsible_rows(session: Session, plan: Plan, items: Iterable[PlanItem]) -> dict[int, list[ResponsibleRow]]:
    """Each item's responsibilities expanded to concrete rows, in the plan's order (a unit named twice: once, in the
    first role the plan gives it, so a lead stays the lead)."""
    groups = _group_children(session, plan)
    rows: dict[int, list[ResponsibleRow]] = {}
    for item in items:
        seen: set[tuple[int, str | None]] = set()
        expanded: list[ResponsibleRow] = []
        for responsibility in item.responsibilities:
            if responsibility.unit_group is not None:
                candidates = [
                    ResponsibleRow(child, None, responsibility.role, child.name, responsibility.label,
                                   responsibility.unit_group)
                    for child in groups.get(responsibility.unit_group, [])
                ]  # fmt: skip
            elif responsibility.org_unit is not None:
                unit = responsibility.org_unit
                candidates = [
                    ResponsibleRow(unit, responsibility.department_code, responsibility.role,
                                   unit_label(unit, responsibility.department_code), responsibility.label)
                ]  # fmt: skip
            else:
                candidates = []
            for row in candidates:
                if row.key not in seen:
                    seen.add(row.key)
                    expanded.append(row)
        rows[item.id] = expanded
    return rows


def find_row(rows: Sequence[ResponsibleRow], org_unit_id: int, department_code: str | None) -> ResponsibleRow | None:
    return next((row for row in rows if row.key == (org_unit_id, department_code or None)), None)


# --- What carries an item out ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkedProcess:
    key: str
    title: str
    deployed: bool  # False: 尚未上线 (no version of it is deployed)


def linked_processes(session: Session, items: Iterable[PlanItem]) -> dict[int, list[LinkedProcess]]:
    """Each item's processes with their names; a key with no deployed version is 尚未上线."""
    keys = {link.process_key for item in items for link in item.processes}
    names: dict[str, str] = {}
    if keys:
        for key, name in session.execute(
            select(ProcessVersion.process_key, ProcessVersion.name)
            .where(ProcessVersion.process_key.in_(keys))
            .order_by(ProcessVersion.version)
        ):
            names[key] = name  # the latest version's name wins
    return {
        item.id: [
            LinkedProcess(link.process_key, names.get(link.process_key)
                          or PLANNED_PROCESS_TITLES.get(link.process_key, link.process_key),
                          link.process_key in names)
            for link in item.processes
        ]
        for item in items
    }  # fmt: skip


# --- Who sees the plan ---------------------------------------------------------------------------------------------


class Standing(StrEnum):
    PLAN_UNIT = "plan_unit"  # the issuing federation's users: every item and row
    DISTRICT = "district"  # a union directly below it: the items naming it, its own row only
    PROVINCE = "province"  # the province above it: every item and row, read-only


@dataclass(frozen=True)
class PlanAccess:
    plan: Plan
    standing: Standing
    user: User

    @property
    def own_unit_id(self) -> int | None:
        """The only unit whose rows the user sees (a district union), or None for every row."""
        return self.user.org_unit_id if self.standing == Standing.DISTRICT else None

    def visible_rows(self, rows: Sequence[ResponsibleRow]) -> list[ResponsibleRow]:
        own = self.own_unit_id
        return list(rows) if own is None else [row for row in rows if row.org_unit.id == own]


def _outsider(user: User) -> bool:
    """An account outside every department of a unit that has them (the studio expert panel): tasks by name only."""
    return user.role != Role.ADMIN and user.department_id is None and user.org_unit.has_departments


def may_see_plans(user: User) -> bool:
    """Whether the navigation offers the plans page: province, city and district-level users (no query: the page
    itself tells a user whose unit has no plan)."""
    return (
        user.active
        and user.role in (Role.OFFICIAL, Role.HEAD, Role.ADMIN)
        and not _outsider(user)
        and user.org_unit.level in (Level.PROVINCE, Level.CITY, Level.DISTRICT)
    )


def plan_access(user: User, plan: Plan) -> PlanAccess | None:
    """How `user` may see `plan`, or None (the plan is not theirs to see)."""
    if not may_see_plans(user):
        return None
    unit, issuing = user.org_unit, plan.issuing_unit
    if unit.id == issuing.id:
        return PlanAccess(plan, Standing.PLAN_UNIT, user)
    if unit.parent_id == issuing.id and unit.level == Level.DISTRICT:
        return PlanAccess(plan, Standing.DISTRICT, user)
    if unit.level == Level.PROVINCE and issuing.is_within(unit):
        return PlanAccess(plan, Standing.PROVINCE, user)
    return None


def plans_for(session: Session, user: User) -> list[Plan]:
    """The plans `user` may see, the latest first."""
    plans = session.scalars(
        select(Plan).options(selectinload(Plan.issuing_unit)).order_by(Plan.issued_on.desc(), Plan.id.desc())
    )
    return [plan for plan in plans if plan_access(user, plan) is not None]


def visible_item_ids(access: PlanAccess, rows: Mapping[int, Sequence[ResponsibleRow]]) -> set[int]:
    """Every item for the plan's unit and the province; for a district union the items that name it."""
    if access.own_unit_id is None:
        return set(rows)
    return {item_id for item_id, item_rows in rows.items() if access.visible_rows(item_rows)}


def my_item_ids(user: User, rows: Mapping[int, Sequence[ResponsibleRow]]) -> set[int]:
    """我的部门: items where the user's department (a federation with departments) or the user's unit (a union that
    works as a whole, e.g. named through a group) is responsible."""
    mine = set()
    for item_id, item_rows in rows.items():
        for row in item_rows:
            if row.org_unit.id != user.org_unit_id:
                continue
            if row.department_code is None or row.department_code == user.department_code:
                mine.add(item_id)
    return mine
