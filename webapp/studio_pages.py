"""What the studio and honour pages share (issue 7): which city a page is about, and small parsers.

A city or district user's page is about their own city; a province user chooses one (`?city=<code>`), by default the
first that has opened a call. Reading a city's overview follows workflows.studio.access.may_see_city_overview.
"""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.engine.deployment import latest_version
from workflows.errors import NotFound, PermissionDenied
from workflows.models import Level, OrgUnit, StudioCall, UnitKind
from workflows.routing import can_start, load_routing
from workflows.studio.access import may_see_city_overview
from workflows.studio.calls import city_of

YEARS = range(2000, 2101)  # years a page can be about; anything far outside is no page at all (404)


def page_city(session: Session) -> tuple[OrgUnit, list[OrgUnit]]:
    """The city the page is about, and for a province user the cities to choose from (`?city=<code>`)."""
    unit = current_user.user.org_unit
    if unit.level != Level.PROVINCE:
        city = city_of(session, unit)
        if city is None:
            raise PermissionDenied(_("本单位不在任何市总工会之下，没有创新工作室和荣誉推荐"))
        return city, []
    cities = list(
        session.scalars(
            select(OrgUnit)
            .where(OrgUnit.kind == UnitKind.CITY.value, OrgUnit.path.startswith(unit.path))
            .order_by(OrgUnit.code)
        )
    )
    code = request.args.get("city", "").strip()
    if code:
        chosen = next((city for city in cities if city.code == code), None)
        if chosen is None:
            raise NotFound(_("没有该市总工会"))
        return chosen, cities
    # Without a choice, the first city that has opened a call (the others are placeholders until they do).
    with_calls = set(session.scalars(select(StudioCall.city_unit_id).distinct()))
    chosen = next((city for city in cities if city.id in with_calls), cities[0] if cities else None)
    if chosen is None:
        raise NotFound(_("没有该市总工会"))
    return chosen, cities


def reader_city(session: Session) -> tuple[OrgUnit, list[OrgUnit]]:
    """The page's city, for those who may read its overview; 403 with the reason for everyone else."""
    city, cities = page_city(session)
    if not may_see_city_overview(current_user.user, city):
        raise PermissionDenied(_("只有本市总工会和省总工会的用户可以查看创新工作室名录"))
    return city, cities


def may_start(session: Session, key: str) -> bool:
    """Whether the user may start `key` now (the link to the start page is shown only then)."""
    info = load_routing().processes.get(key)
    return info is not None and can_start(current_user.user, info) and latest_version(session, key) is not None


def whole_number(text: str) -> int | None:
    """A year or a count as typed (ASCII digits, at most six); None for anything else."""
    return int(text) if text.isascii() and text.isdecimal() and len(text) <= 6 else None
