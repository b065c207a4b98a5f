"""Who registers, assigns and handles a supervised matter (issue 8 §Supervision items; bpm-anchors §3 主办/协办).

A matter is registered in a department of a federation (a city department; a district union, which has none, as a
whole). Its lead unit (主办) and co-units (协办) are the registering federation's own departments or the unions
directly below it (the city's district-level unions; a district's grassroots unions). A unit is referred to by a
plain reference: "210200:finance" for a department, "210211" for a union without departments, so the JSON API and
the HTML form speak the same values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from workflows.models import OrgUnit, Role, User
from workflows.notifications import unit_label

# Spaces, commas, 顿号 and semicolons (both widths) separate the co-units an official types.
_SEPARATORS = re.compile(r"[\s,，、;；]+")


@dataclass(frozen=True)
class UnitChoice:
    unit: OrgUnit
    department_code: str | None

    @property
    def reference(self) -> str:
        return f"{self.unit.code}:{self.department_code}" if self.department_code else self.unit.code

    @property
    def label(self) -> str:
        return unit_label(self.unit, self.department_code)


def unit_choices(session: Session, home: OrgUnit) -> list[UnitChoice]:
    """The registering federation's departments first, then the unions directly below it, by code."""
    choices = _department_choices(home)
    children = session.scalars(
        select(OrgUnit)
        .where(OrgUnit.parent_id == home.id)
        .options(selectinload(OrgUnit.departments))
        .order_by(OrgUnit.code)
    )
    for child in children:
        choices += _department_choices(child) or [UnitChoice(child, None)]
    return choices


def _department_choices(unit: OrgUnit) -> list[UnitChoice]:
    return [UnitChoice(unit, department.code) for department in sorted(unit.departments, key=lambda d: d.id)]


def split_references(text: str) -> list[str]:
    """The references in what an official typed, in order, each once."""
    return list(dict.fromkeys(part for part in _SEPARATORS.split(text.strip()) if part))


def choice_for(choices: list[UnitChoice], reference: str) -> UnitChoice | None:
    wanted = reference.strip()
    return next((choice for choice in choices if choice.reference == wanted), None)


def assigning_head(session: Session, user: User) -> User | None:
    """The head of the starter's department (of their unit, where it has no departments): the starter if they are
    the head, else the first active head there. None when the department has none."""
    if user.role == Role.HEAD.value:
        return user
    department = (
        User.department_id.is_(None) if user.department_id is None else User.department_id == user.department_id
    )
    return session.scalar(
        select(User)
        .where(
            User.org_unit_id == user.org_unit_id,
            department,
            User.role == Role.HEAD.value,
            User.active.is_(True),
        )
        .order_by(User.id)
        .limit(1)
    )


def registering_problem(session: Session, user: User) -> str | None:
    """Why `user` cannot register a matter (no department in a federation that has them; no head to assign it)."""
    if user.org_unit.departments and user.department_id is None:
        return f"{user.org_unit.name}的督办事项由各部门立项，您的账号没有所属部门"
    if assigning_head(session, user) is None:
        where = unit_label(user.org_unit, user.department_code)
        return f"{where}没有在岗的部门负责人，督办事项无人交办；请管理员先设置负责人"
    return None
