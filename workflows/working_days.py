"""The administrators' working-day table (issue #7 §7): holidays and 调休 working days the package does not know.

`chinese_calendar` ships the State Council's announced years only; a 5-working-day 公示, a task's `dueWorkingDays`
and the inbox's near-due window in a later year would otherwise count plain Monday–Friday. Administrators enter
that year's public holidays (休息日) and adjusted working weekends (工作日) here; every count reads the whole table
(`calendar_overrides`, a few dozen rows a year) once per operation and hands it to `workflows.calendar`.

A change of the table moves the deadlines it touches: the task index of every case with a step whose
(ready, due] window contains the changed day is rebuilt in the same transaction, so the index stays what the
engine state and the table say (`flask check` compares the two).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import chinese_calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from workflows.audit import record_event
from workflows.calendar import SHANGHAI
from workflows.calendar import is_working_day as counts_as_working_day  # the parameter name is taken below
from workflows.db import utcnow
from workflows.errors import NotFound, PermissionDenied
from workflows.models import ProcessInstance, Role, TaskIndexEntry, User, WorkingDayOverride

log = logging.getLogger(__name__)

# The years the table accepts: a typo such as 0226 or 20026 is refused rather than stored (issue #7 brief).
MIN_YEAR = 2000
MAX_YEAR = 2099
MAX_NOTE_LENGTH = 200  # the column's length (workflows.models.calendar)


@dataclass(frozen=True)
class PackageDay:
    """A day `chinese_calendar` lists for a year: a public holiday, or a weekend made a working day (调休)."""

    day: date
    is_working_day: bool
    name: str  # the holiday's Chinese name (春节, 国庆节 …)


@dataclass(frozen=True)
class OverrideRow:
    """One row of the table as the admin page shows it, with what the package says of the same day."""

    entry: WorkingDayOverride
    updated_by: str | None
    package_says: bool | None  # None: the package does not cover the year


@dataclass(frozen=True)
class YearCalendar:
    year: int
    covered: bool
    overrides: list[OverrideRow]
    package_days: list[PackageDay]  # empty when not covered


def calendar_overrides(session: Session) -> dict[date, bool]:
    """The whole table as `workflows.calendar` takes it: day → True for a working day, False for a day off."""
    return {day: bool(working) for day, working in session.execute(_ALL_OVERRIDES)}


_ALL_OVERRIDES = select(WorkingDayOverride.day, WorkingDayOverride.is_working_day)  # built once: read at every step


def package_covers(year: int) -> bool:
    """Whether `chinese_calendar` knows the year's holidays (it raises NotImplementedError for other years)."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _package_says(day: date) -> bool | None:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def package_days(year: int) -> list[PackageDay]:
    """The holidays and 调休 working days the package lists for `year`, by date (empty for a year it lacks)."""
    listed = [(day, False, name) for day, name in chinese_calendar.holidays.items()]
    listed += [(day, True, name) for day, name in chinese_calendar.workdays.items()]
    return sorted(
        (PackageDay(day, working, _holiday_name(name)) for day, working, name in listed if day.year == year),
        key=lambda item: item.day,
    )


def _holiday_name(english: str) -> str:
    try:
        chinese: str = chinese_calendar.Holiday(english).chinese
    except ValueError:  # a name a later package version adds
        return english
    return chinese


def year_calendar(session: Session, year: int) -> YearCalendar:
    """What the admin page shows for `year`: the table's entries and, for reference, the package's days."""
    _check_year(year)
    entries = list(
        session.scalars(
            select(WorkingDayOverride)
            .where(WorkingDayOverride.day >= date(year, 1, 1), WorkingDayOverride.day <= date(year, 12, 31))
            .order_by(WorkingDayOverride.day)
        )
    )
    editor_ids = {entry.updated_by_id for entry in entries if entry.updated_by_id is not None}
    editors: dict[int, str] = {}
    if editor_ids:
        found = session.execute(select(User.id, User.display_name).where(User.id.in_(editor_ids)))
        editors = {user_id: name for user_id, name in found}
    rows = [
        OverrideRow(entry, editors.get(entry.updated_by_id) if entry.updated_by_id else None, _package_says(entry.day))
        for entry in entries
    ]
    covered = package_covers(year)
    return YearCalendar(year, covered, rows, package_days(year) if covered else [])


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise FormValidationError({"year": f"年份：必须在 {MIN_YEAR} 年至 {MAX_YEAR} 年之间"})


def _check_admin(user: User) -> None:
    if user.role != Role.ADMIN:
        raise PermissionDenied("只有系统管理员可以维护节假日表")


def set_working_day(session: Session, day: date, is_working_day: bool, note: str, user: User) -> WorkingDayOverride:
    """Enter or change one day of the table, move the deadlines it touches, and audit it; flushes."""
    _check_admin(user)
    note = note.strip()
    errors: dict[str, str] = {}
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        errors["day"] = f"日期：必须在 {MIN_YEAR} 年至 {MAX_YEAR} 年之间"
    if len(note) > MAX_NOTE_LENGTH:
        errors["note"] = f"说明：不能超过 {MAX_NOTE_LENGTH} 字"
    if errors:
        raise FormValidationError(errors)
    entry = session.scalar(select(WorkingDayOverride).where(WorkingDayOverride.day == day))
    previous = None if entry is None else entry.is_working_day
    if entry is None:
        entry = WorkingDayOverride(day=day, is_working_day=is_working_day)
        session.add(entry)
    entry.is_working_day = is_working_day
    entry.note = note
    entry.updated_by_id = user.id
    entry.updated_at = utcnow()
    session.flush()
    rebuilt = refresh_due_dates(session, [day]) if _effective(day, previous) != is_working_day else 0
    record_event(
        session,
        "working_day.set",
        "working_day",
        day.isoformat(),
        {"is_working_day": is_working_day, "previous": previous, "note": note, "cases_rebuilt": rebuilt},
        actor_id=user.id,
    )
    return entry


def remove_working_day(session: Session, day: date, user: User) -> None:
    """Take a day out of the table (the package, or Monday–Friday, decides it again); flushes."""
    _check_admin(user)
    entry = session.scalar(select(WorkingDayOverride).where(WorkingDayOverride.day == day))
    if entry is None:
        raise NotFound(f"节假日表中没有 {day.isoformat()}")
    previous, note = entry.is_working_day, entry.note
    session.delete(entry)
    session.flush()
    rebuilt = refresh_due_dates(session, [day]) if _effective(day, None) != previous else 0
    record_event(
        session,
        "working_day.removed",
        "working_day",
        day.isoformat(),
        {"previous": previous, "note": note, "cases_rebuilt": rebuilt},
        actor_id=user.id,
    )


def _effective(day: date, entry: bool | None) -> bool:
    """Whether `day` counts as a working day with the table's entry `entry` (None: no entry): a change of the
    table that leaves this unchanged (e.g. entering a 2026 holiday the package already knows) moves no deadline."""
    return counts_as_working_day(day, None if entry is None else {day: entry})


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI).astimezone(UTC)


def affected_case_ids(session: Session, days: Iterable[date]) -> list[int]:
    """Cases with a step whose window (ready day, due day] contains one of `days`: only their deadlines can move.

    A day before the step became ready is not counted, and a day after its due day cannot shorten or lengthen
    the count that ended before it, so every other due date stays as it is.
    """
    found: set[int] = set()
    for day in days:
        start = _start_of(day)
        window = (TaskIndexEntry.ready_at < start, TaskIndexEntry.due_at >= start)
        found.update(session.scalars(select(TaskIndexEntry.instance_id).where(*window).distinct()))
    return sorted(found)


def refresh_due_dates(session: Session, days: Iterable[date]) -> int:
    """Rebuild the task index of every case a change of `days` touches, under the case's lock; returns how many.

    Cases are locked in id order, so two administrators' changes never deadlock. A case whose index cannot be
    rebuilt (its engine state is damaged) is left as it was and logged: `flask check` reports it, and it must not
    keep the calendar from being corrected. Flushes.
    """
    # Imported here: task_index imports this module (for `calendar_overrides`), and steps imports task_index.
    from workflows.engine.runtime import load_workflow
    from workflows.routing import load_routing
    from workflows.steps import lock_case
    from workflows.task_index import rebuild_index

    case_ids = affected_case_ids(session, days)
    if not case_ids:
        return 0
    overrides = calendar_overrides(session)
    routing = load_routing()
    rebuilt = 0
    for case_id in case_ids:
        try:
            with session.begin_nested():
                instance: ProcessInstance = lock_case(session, case_id)
                rebuild_index(session, instance, load_workflow(instance), routing, overrides=overrides)
            rebuilt += 1
        except Exception:
            log.exception("working-day table change: the task index of case %s could not be rebuilt", case_id)
    log.info("working-day table change: rebuilt the task index of %d case(s)", rebuilt)
    return rebuilt
