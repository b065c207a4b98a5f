"""Who sees and handles which part of the studio and honour pages (issue 7; seed 000 items 4–5; domain §2.c actors).

- The city federation's 经济技术和劳动保护部 (econ-labour) runs both processes: its officials and head open the year's
  call, assess the named studios, and register objections received during a public notice (the objector's name and
  contact are theirs alone to see).
- The city federation's other users and the province's users read the city's overview (calls, applications, the
  registry, the honours) without acting; a city's administrators read too. The expert panel's scores are read by the
  econ-labour department of the city and the province only, never by an expert of a round still scoring. The
  panel's own accounts (city accounts outside every department) see only the tasks given to them.
- A district (or industry) union and a grassroots union see the open call and their own applications and
  nominations; a grassroots union applies (routing.json start_levels).

Pure functions on User / OrgUnit (no session, no Flask), like workflows.aid.access.
"""

from __future__ import annotations

from workflows.models import Level, OrgUnit, Role, User

ECON_LABOUR = "econ-labour"


def _acts(user: User) -> bool:
    return user.active and user.role in (Role.OFFICIAL, Role.HEAD)


def _reads(user: User) -> bool:
    return user.active and user.role in (Role.OFFICIAL, Role.HEAD, Role.ADMIN)


def _econ_labour_of(user: User, unit: OrgUnit) -> bool:
    # As routing.may_hold: the department where the unit has departments, the whole unit where it has none.
    return user.department_code == ECON_LABOUR or (user.department_id is None and not unit.has_departments)


def _outsider(user: User) -> bool:
    """A city or province account outside every department of a unit that has them: the expert panel's accounts
    (workflows.demo), who see only the panel tasks given to them by name."""
    unit = user.org_unit
    return user.role != Role.ADMIN and user.department_id is None and unit.has_departments


def is_city_econ_labour(user: User, city: OrgUnit) -> bool:
    """An official or the head of `city`'s 经济技术和劳动保护部."""
    return _acts(user) and city.level == Level.CITY and user.org_unit_id == city.id and _econ_labour_of(user, city)


def may_open_call(user: User) -> bool:
    """Opening the year's call: the econ-labour department of a city federation (its own city only)."""
    return _acts(user) and user.org_unit.level == Level.CITY and _econ_labour_of(user, user.org_unit)


def may_assess(user: User, city: OrgUnit) -> bool:
    """Annual assessment and re-check of `city`'s named studios (domain §2.c C10–C11)."""
    return is_city_econ_labour(user, city)


def may_handle_objections(user: User, city: OrgUnit) -> bool:
    """The notice page of a case of `city`: objections with the objector's name and contact, and registering one."""
    return is_city_econ_labour(user, city)


def may_see_city_overview(user: User, city: OrgUnit) -> bool:
    """Calls, applications, registry and honours of `city`: its own federation (any department, administrators
    included, read-only unless a function above says otherwise) and the province above it."""
    if not _reads(user) or _outsider(user):
        return False
    unit = user.org_unit
    if unit.level == Level.PROVINCE:
        return city.is_within(unit)
    return unit.level == Level.CITY and unit.id == city.id


def may_see_panel_scores(user: User, city: OrgUnit) -> bool:
    """Each expert's score and vote: the econ-labour department of the city, or of the province above it."""
    unit = user.org_unit
    if not _acts(user) or not _econ_labour_of(user, unit):
        return False
    if unit.level == Level.PROVINCE:
        return city.is_within(unit)
    return unit.id == city.id


def is_applicant_side(user: User) -> bool:
    """A district-level or grassroots union's official: sees the open call and their own cases only."""
    return _acts(user) and user.org_unit.level in (Level.DISTRICT, Level.GRASSROOTS)


def may_see_studio_pages(user: User) -> bool:
    """Whether the navigation links the studio and honour pages (each page still checks its city)."""
    return _reads(user) and not _outsider(user)
