"""Importing a year's draft aid list (拟援助人员名单, seed 000 item 8): all rows or none, split by city.

The province's livelihood department (省总工会生活保障部) imports the extract of the HR department's placement
database. Every row is validated (workflows.aid.validation); one bad row refuses the whole file with every problem
named by row and column, and nothing is written. A good file is written in one flush: the `AidImport` row with its
row count and the workers, bulk-inserted. `flask check` compares the two (integrity.check_aid_imports).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from typing import cast

from sqlalchemy import Table, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflows.aid.review import Conclusion
from workflows.aid.validation import AidRow, EarlierLists, PlacementType, UnitResolver, read_aid_list
from workflows.audit import record_event
from workflows.errors import OperationRefused, PermissionDenied
from workflows.findings import Finding
from workflows.models import AidImport, AidWorker, Level, OrgUnit, Role, User
from workflows.tabular import TableLimits, paused_gc

# The department that drafts the list (seed 000 item 8: 省总工会拟定援助人员名单; domain.md §2.a: its 保障 department).
DRAFTING_DEPARTMENT = "livelihood"


def may_import_aid_list(user: User) -> bool:
    return (
        user.active
        and user.role in (Role.OFFICIAL, Role.HEAD)
        and user.org_unit.level == Level.PROVINCE
        and user.department_code == DRAFTING_DEPARTMENT
    )


def unit_resolver(session: Session) -> UnitResolver:
    """(city, district) as written in the extract → the city federation and, where the tree has it, the district's.

    A city must be a city federation of the province. A district is looked up among that city's units; a city whose
    units below are not registered keeps the district as written, for the city to assign when it distributes.
    """
    units = list(session.scalars(select(OrgUnit)))
    cities = {unit.name.removesuffix("总工会"): unit for unit in units if unit.level == Level.CITY}
    below: dict[int, dict[str, OrgUnit]] = defaultdict(dict)
    for unit in units:
        if unit.parent_id is not None and unit.level != Level.CITY:
            below[unit.parent_id][unit.name.removesuffix("总工会")] = unit

    def resolve(city: str, district: str) -> tuple[str | None, str | None, str | None]:
        city_unit = cities.get(city.strip())
        if city_unit is None:
            return None, None, f"「{city}」不是本省的市"
        if not district.strip():
            return city_unit.code, None, None
        districts = below.get(city_unit.id, {})
        district_unit = districts.get(district.strip())
        if district_unit is not None:
            return city_unit.code, district_unit.code, None
        if districts:
            return city_unit.code, None, f"「{district}」不是{city}的区县、先导区或产业工会"
        return city_unit.code, None, None

    return resolve


def earlier_lists(session: Session, year: int) -> EarlierLists:
    """Every worker on another year's list, earlier or later (years may be imported out of order): resident ID →
    [(year, placement type)]. A listing its district found 不符合 gave no aid, so it does not count."""
    earlier: dict[str, list[tuple[int, PlacementType]]] = defaultdict(list)
    rows = session.execute(
        select(AidWorker.resident_id, AidWorker.year, AidWorker.placement_type).where(
            AidWorker.year != year,
            or_(AidWorker.review_conclusion.is_(None), AidWorker.review_conclusion != Conclusion.NOT_ELIGIBLE.value),
        )
    )
    for resident_id, listed_year, placement in rows:
        earlier[resident_id].append((listed_year, PlacementType(placement)))
    return earlier


def import_aid_list(
    session: Session, user: User, year: int, data: bytes, filename: str, *, limits: TableLimits | None = None
) -> AidImport:
    """Validate and store the year's draft list; raises ListRejected (every bad row) or refuses. Flushes."""
    if not may_import_aid_list(user):
        raise PermissionDenied("只有省总工会生活保障部可以导入援助名单")
    existing = session.scalar(select(AidImport).where(AidImport.year == year))
    if existing is not None:
        raise OperationRefused(f"{year} 年度的援助名单已于 {existing.imported_at:%Y-%m-%d} 导入，不能重复导入")
    with paused_gc():  # tens of thousands of rows held at once: see tabular.paused_gc
        return _import(session, user, year, data, filename, limits)


def _import(
    session: Session, user: User, year: int, data: bytes, filename: str, limits: TableLimits | None
) -> AidImport:
    resolve, earlier = unit_resolver(session), earlier_lists(session, year)
    rows = read_aid_list(data, filename, year=year, resolve_unit=resolve, earlier=earlier, limits=limits)
    aid_import = AidImport(
        year=year,
        source_filename=filename[:200],
        source_sha256=hashlib.sha256(data).hexdigest(),
        row_count=len(rows),
        imported_by_id=user.id,
    )
    try:
        with session.begin_nested():
            session.add(aid_import)
            session.flush()
    except IntegrityError:
        # Another import of the same year committed between the check above and this insert.
        raise OperationRefused(f"{year} 年度的援助名单已导入，不能重复导入") from None
    unit_ids = dict(session.execute(select(OrgUnit.code, OrgUnit.id)).all())
    # Into the table, as one executemany (issue #9). The ORM's bulk insert left out each row's None columns and
    # batched only neighbours with the same ones: a list alternating 内退 and 买断 rows was 20,000 single INSERTs.
    # No column given None here has a default it would have taken; the other columns' defaults apply as before.
    values = [_worker_values(aid_import, row, unit_ids) for row in rows]
    session.execute(insert(cast(Table, AidWorker.__table__)), values)
    by_city = Counter(row.city for row in rows)
    record_event(
        session,
        "aid_list.imported",
        "aid_import",
        str(year),
        {"rows": len(rows), "sha256": aid_import.source_sha256, "cities": dict(sorted(by_city.items()))},
        actor_id=user.id,
    )
    return aid_import


def _worker_values(aid_import: AidImport, row: AidRow, unit_ids: dict[str, int]) -> dict[str, object]:
    # A shallow copy: AidRow's fields are immutable (str, date, enum), and asdict's deep copy cost 0.2 ms a row.
    values = dict(vars(row))
    city_code, district_code = values.pop("city_unit_code"), values.pop("district_unit_code")
    values["placement_type"] = row.placement_type.value
    return {
        **values,
        "import_id": aid_import.id,
        "year": aid_import.year,
        "city_unit_id": unit_ids[city_code],
        "district_unit_id": unit_ids[district_code] if district_code else None,
    }


def city_split(session: Session, year: int) -> list[tuple[OrgUnit, int]]:
    """The draft list split by city (the parts the province sends): each city federation with its worker count."""
    counts = session.execute(
        select(AidWorker.city_unit_id, func.count()).where(AidWorker.year == year).group_by(AidWorker.city_unit_id)
    ).all()
    units = {unit.id: unit for unit in session.scalars(select(OrgUnit).where(OrgUnit.id.in_([c for c, _ in counts])))}
    return sorted(((units[unit_id], count) for unit_id, count in counts), key=lambda item: item[0].code)


def check_aid_imports(session: Session) -> list[Finding]:
    """Each imported aid list has exactly the rows it recorded (workflows.aid.importing writes both at once)."""
    per_import = select(AidWorker.import_id, func.count()).group_by(AidWorker.import_id)
    stored = dict(session.execute(per_import).all())
    findings = []
    for aid_import in session.scalars(select(AidImport).order_by(AidImport.year)):
        found, expected = stored.pop(aid_import.id, 0), aid_import.row_count
        if found != expected:
            subject = f"{aid_import.year} 年度援助名单"
            findings.append(Finding("aid_import", subject, f"应有 {expected} 行，实有 {found} 行"))
    for import_id, count in stored.items():
        findings.append(Finding("aid_import", f"导入 #{import_id}", f"{count} 行没有对应的导入记录"))
    return findings
