"""Organisation master data and user administration: load the org tree, look units up, manage users.

Every function takes a SQLAlchemy session and flushes; committing is the caller's job (DESIGN §2).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import bindparam, literal, select
from sqlalchemy.orm import Session

from workflows.models.org import DEPARTMENTS, LEVEL_OF_KIND, Department, Level, OrgUnit, Role, UnitKind, User
from workflows.passwords import check_password, hash_password

MIN_PASSWORD_LENGTH = 8


class UnknownOrgUnit(LookupError):
    pass


class OrgDataError(ValueError):
    """The organisation data is inconsistent (unknown kind, department or parent, or a cycle)."""


class UserAdminError(ValueError):
    pass


def default_organisation_data() -> dict[str, Any]:
    text = resources.files("workflows").joinpath("data/organisation.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def unit_by_code(session: Session, code: str) -> OrgUnit:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if unit is None:
        raise UnknownOrgUnit(f"未知的组织代码：{code}")
    return unit


def _parents_first(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order entries so each parent precedes its children, whatever order the file lists them in."""
    by_code = {entry["code"]: entry for entry in entries}
    if len(by_code) != len(entries):
        raise OrgDataError("组织数据中有重复的代码")
    ordered: list[dict[str, Any]] = []
    state: dict[str, str] = {}

    def visit(code: str) -> None:
        if state.get(code) == "done":
            return
        if state.get(code) == "visiting":
            raise OrgDataError(f"组织数据存在循环上级关系：{code}")
        state[code] = "visiting"
        parent = by_code[code].get("parent")
        if parent is not None and parent in by_code:
            visit(parent)
        state[code] = "done"
        ordered.append(by_code[code])

    for entry in entries:
        visit(entry["code"])
    return ordered


def _place(session: Session, unit: OrgUnit, parent: OrgUnit | None) -> None:
    """Attach `unit` under `parent` and keep the materialised paths of it and its subtree right."""
    assert unit.id is not None, "flush the unit before placing it"
    unit.parent_id = parent.id if parent else None
    new_path = f"{parent.path if parent else '/'}{unit.id}/"
    old_path = unit.path
    if old_path == new_path:
        return
    unit.path = new_path
    session.info.pop(_ANCESTORS, None)
    session.info.pop(_LEVELS_UP, None)
    # "/" is the column default of a unit never placed; only a real move has a subtree to carry along.
    if old_path and old_path != "/":
        descendants = session.scalars(select(OrgUnit).where(OrgUnit.path.startswith(old_path), OrgUnit.id != unit.id))
        for child in descendants:
            child.path = new_path + child.path[len(old_path) :]


def _sync_departments(session: Session, unit: OrgUnit, codes: list[str]) -> None:
    existing = {department.code: department for department in unit.departments}
    for code in codes:
        if code not in DEPARTMENTS:
            raise OrgDataError(f"未知的部门代码：{code}")
        department = existing.get(code)
        if department is None:
            session.add(Department(org_unit=unit, code=code, name=DEPARTMENTS[code]))
        elif department.name != DEPARTMENTS[code]:
            department.name = DEPARTMENTS[code]
    # Departments missing from the data are kept: users and past approval steps still refer to them.


def load_organisation(session: Session, data: dict[str, Any] | None = None) -> int:
    """Upsert the org tree (units by code, departments by unit and code); return how many units were new."""
    entries = _parents_first(list((data if data is not None else default_organisation_data())["units"]))
    known = {unit.code: unit for unit in session.scalars(select(OrgUnit))}
    created = 0
    for entry in entries:
        try:
            kind = UnitKind(entry["kind"]).value
        except ValueError:
            raise OrgDataError(f"未知的组织类型：{entry['kind']}") from None
        parent_code = entry.get("parent")
        if parent_code and parent_code not in known:
            raise OrgDataError(f"上级组织不存在：{parent_code}（{entry['code']}）")
        unit = known.get(entry["code"])
        if unit is None:
            unit = OrgUnit(code=entry["code"], name=entry["name"], kind=kind, path="/")
            session.add(unit)
            known[unit.code] = unit
            created += 1
        else:
            unit.name = entry["name"]
            unit.kind = kind
    session.flush()
    for entry in entries:
        parent_code = entry.get("parent")
        unit = known[entry["code"]]
        _place(session, unit, known[parent_code] if parent_code else None)
        _sync_departments(session, unit, list(entry.get("departments", [])))
    session.flush()
    return created


def ensure_grassroots_union(session: Session, code: str, name: str, parent_code: str) -> OrgUnit:
    parent = unit_by_code(session, parent_code)
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if unit is None:
        unit = OrgUnit(code=code, name=name, kind=UnitKind.GRASSROOTS.value, path="/")
        session.add(unit)
        session.flush()
    elif unit.kind != UnitKind.GRASSROOTS.value:
        raise OrgDataError(f"组织代码已被非基层工会使用：{code}")
    else:
        unit.name = name
    _place(session, unit, parent)
    session.flush()
    return unit


def subtree_unit_ids(session: Session, unit: OrgUnit) -> list[int]:
    """The ids of `unit` and everything below it."""
    query = select(OrgUnit.id).where(OrgUnit.path.startswith(unit.path)).order_by(OrgUnit.id)
    return list(session.scalars(query))


def ancestor_of_level(session: Session, unit: OrgUnit, level: Level) -> OrgUnit | None:
    """The nearest unit at `level` on the way up from `unit` (the unit itself included)."""
    return ancestor_of_level_by_id(session, unit.id, level)


def ancestor_of_level_by_id(session: Session, unit_id: int, level: Level) -> OrgUnit | None:
    for candidate in reversed(ancestors(session, unit_id)):
        if candidate.level == level:
            return candidate
    return None


def ancestor_id_of_level(session: Session, unit_id: int, level: Level) -> int | None:
    """The id of the nearest unit at `level` on the way up from `unit_id` (itself included), without loading units.

    Routing asks it for every lane at every step of a case: one Core query up the parent links, remembered for the
    session (issue #9: two ORM queries per step before). A session is one request; moving a unit forgets it.
    """
    cache: dict[int, list[tuple[int, Level]]] = session.info.setdefault(_LEVELS_UP, {})
    found = cache.get(unit_id)
    if found is None:
        found = cache[unit_id] = [
            (ancestor_id, LEVEL_OF_KIND[UnitKind(kind)]) for ancestor_id, kind in session.execute(_UP, {"id": unit_id})
        ]
    return next((ancestor_id for ancestor_id, ancestor_level in found if ancestor_level == level), None)


_ANCESTORS, _LEVELS_UP = "unit_ancestors", "unit_levels_up"
_UNITS_BY_ID = select(OrgUnit).where(OrgUnit.id.in_(bindparam("ids", expanding=True)))
_UNIT_TABLE = OrgUnit.__table__
_CHAIN = select(_UNIT_TABLE.c.id, _UNIT_TABLE.c.parent_id, _UNIT_TABLE.c.kind, literal(0).label("depth")).where(
    _UNIT_TABLE.c.id == bindparam("id")
).cte("chain", recursive=True)
_CHAIN = _CHAIN.union_all(
    select(_UNIT_TABLE.c.id, _UNIT_TABLE.c.parent_id, _UNIT_TABLE.c.kind, _CHAIN.c.depth + 1).where(
        _UNIT_TABLE.c.id == _CHAIN.c.parent_id
    )
)
_UP = select(_CHAIN.c.id, _CHAIN.c.kind).order_by(_CHAIN.c.depth)  # the unit first, then up to the root


def ancestors(session: Session, unit_id: int) -> list[OrgUnit]:
    """The unit's ancestors from the root down, itself last: one query, then remembered for the session.

    A session is one request; moving a unit forgets them (`_place`).
    """
    cache: dict[int, list[OrgUnit]] = session.info.setdefault(_ANCESTORS, {})
    found = cache.get(unit_id)
    if found is None:
        unit = session.get(OrgUnit, unit_id)
        ids = unit.ancestor_ids() if unit is not None else []
        by_id = {u.id: u for u in session.scalars(_UNITS_BY_ID, {"ids": ids})}
        found = cache[unit_id] = [by_id[ancestor_id] for ancestor_id in ids if ancestor_id in by_id]
    return found


def _check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserAdminError(f"密码长度不能少于{MIN_PASSWORD_LENGTH}位")


def create_user(
    session: Session,
    username: str,
    password: str,
    org_unit_code: str,
    department_code: str | None = None,
    role: str = Role.OFFICIAL.value,
    display_name: str | None = None,
) -> User:
    username = username.strip()
    if not username:
        raise UserAdminError("用户名不能为空")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserAdminError(f"用户名已存在：{username}")
    try:
        role = Role(role).value
    except ValueError:
        raise UserAdminError(f"无效的角色：{role}（可选：official、head、admin）") from None
    _check_password_rules(password)
    try:
        unit = unit_by_code(session, org_unit_code)
    except UnknownOrgUnit as exc:
        raise UserAdminError(str(exc)) from None
    department = None
    if department_code:
        department = session.scalar(
            select(Department).where(Department.org_unit_id == unit.id, Department.code == department_code)
        )
        if department is None:
            raise UserAdminError(f"该单位没有此部门：{department_code}")
    # A head leads a department; only a unit without departments has one head for the whole unit.
    if role == Role.HEAD.value and department is None and unit.has_departments:
        raise UserAdminError(f"{unit.name}设有部门，部门负责人必须指定所属部门")
    user = User(
        username=username,
        display_name=(display_name or "").strip() or username,
        password_hash=hash_password(password),
        org_unit=unit,
        department=department,
        role=role,
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    _check_password_rules(password)
    user.password_hash = hash_password(password)
    session.flush()


@cache
def _dummy_hash() -> str:
    return hash_password("no user has this password")


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active:
        # Spend the same hashing time as a real check so response time does not reveal which usernames exist.
        check_password(_dummy_hash(), password)
        return None
    return user if check_password(user.password_hash, password) else None
