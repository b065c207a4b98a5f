"""Who sees and handles which part of a year's aid list (seed 000 items 8–10; domain.md §2.a actors).

- The province's livelihood department (省总工会生活保障部) drafts, confirms and allocates: it sees every city's part.
- A city federation's livelihood department (生活保障部) distributes, consolidates and pays, with its finance
  department (财务部) for the bank files: they see their city's part, with full identity and card numbers in the bank
  file only (issue #6, records and privacy).
- A district, county, pilot-zone or industry union sees and corrects its own workers only.
"""

from __future__ import annotations

from workflows.models import AidWorker, Level, OrgUnit, Role, User

LIVELIHOOD = "livelihood"
FINANCE = "finance"


def _acts(user: User) -> bool:
    return user.active and user.role in (Role.OFFICIAL, Role.HEAD)


def is_province_livelihood(user: User) -> bool:
    return _acts(user) and user.org_unit.level == Level.PROVINCE and user.department_code == LIVELIHOOD


def may_see_city_list(user: User, city: OrgUnit) -> bool:
    """The city's part of the list with its summary, roster and reconciliation (identity numbers masked)."""
    if is_province_livelihood(user):
        return True
    return _acts(user) and user.org_unit_id == city.id and user.department_code in (LIVELIHOOD, FINANCE)


def may_handle_bank_files(user: User, city: OrgUnit) -> bool:
    """The bank files, which carry full identity and card numbers: the city's livelihood and finance departments."""
    return _acts(user) and user.org_unit_id == city.id and user.department_code in (LIVELIHOOD, FINANCE)


def may_import_bank_result(user: User, city: OrgUnit) -> bool:
    """The bank's result file comes back through the city's finance department (domain.md §2.a A8)."""
    return _acts(user) and user.org_unit_id == city.id and user.department_code == FINANCE


def may_see_worker(user: User, worker: AidWorker) -> bool:
    """A worker's record: the worker's district union, the city's list holders, the province's livelihood department."""
    if _acts(user) and worker.district_unit_id is not None and user.org_unit_id == worker.district_unit_id:
        return True
    return may_see_city_list(user, worker.city_unit)
