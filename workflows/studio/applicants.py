"""What studio applications and honour nominations share: the applicant's enterprise, district and ranking."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from forms import FormValidationError
from workflows.models import Enterprise, Level, OrgUnit
from workflows.organisation import ancestor_of_level


def applicant_district(session: Session, unit: OrgUnit) -> OrgUnit:
    """The district-level union (区市县、先导区或产业工会) that recommends this grassroots union's applications."""
    district = ancestor_of_level(session, unit, Level.DISTRICT)
    if district is None:
        raise FormValidationError({"enterprise_uscc": "本单位没有上级区县（产业）工会，不能申报；请管理员核对组织机构"})
    return district


def applicant_enterprise(session: Session, unit: OrgUnit, district: OrgUnit, data: dict[str, Any]) -> Enterprise:
    """The enterprise the applicant names by USCC; one not on file is registered under the applicant's union."""
    uscc = data["enterprise_uscc"].upper()
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == uscc))
    if enterprise is not None:
        return enterprise
    name = (data.get("enterprise_name") or "").strip()
    if len(name) < 2:
        raise FormValidationError({"enterprise_name": "申报单位名称：该企业尚未登记，请填写企业名称"})
    enterprise = Enterprise(
        name=name,
        uscc=uscc,
        supervising_unit_id=district.id,
        grassroots_unit_id=unit.id,
        is_tech_enterprise=bool(data.get("tech_enterprise")),
    )
    session.add(enterprise)
    session.flush()
    return enterprise


def rank_problem(
    session: Session, rank_column: Any, conditions: list[ColumnElement[bool]], rank: int | None
) -> str | None:
    """A district ranks its recommendations 1, 2, 3 …: a rank another live recommendation already holds is refused."""
    if rank is None:
        return "本单位推荐排序：推荐时必须填写排序"
    taken = session.scalar(select(rank_column).where(rank_column == rank, *conditions).limit(1))
    if taken is not None:
        return f"本单位推荐排序：第{rank}位已给了本单位推荐的另一项申报，请调整排序"
    return None
