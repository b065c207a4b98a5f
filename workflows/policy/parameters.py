"""Reading dated policy parameters: seeding the catalogue, point-in-time lookups and snapshots."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from workflows.models.policy import PolicyParameter
from workflows.policy.catalogue import CATALOGUE, ParameterSpec


class MissingParameter(LookupError):
    """No value of `key` is in force on `on` (or, for an in-memory table, the key is absent)."""

    def __init__(self, key: str, on: date | None = None) -> None:
        self.key = key
        self.on = on
        if on is None:
            message = f"缺少政策参数“{key}”"
        else:
            message = f"缺少政策参数“{key}”在 {on.isoformat()} 的有效取值（未配置或不在任何有效期内）"
        super().__init__(message)


def _in_force(valid_from: date, valid_to: date | None, on: date) -> bool:
    return valid_from <= on and (valid_to is None or on <= valid_to)


def _numeric(key: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"政策参数“{key}”的取值“{text}”不是数值") from None
    if not value.is_finite():
        raise ValueError(f"政策参数“{key}”的取值“{text}”不是有限数值")
    return value


def _is_numeric(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


# --- pure, over specs (tests and scripts without a database) -------------------------------------------


def select_effective(specs: Iterable[ParameterSpec], key: str, on: date) -> ParameterSpec:
    """The spec for `key` in force on `on`; the latest `valid_from` wins if periods overlap."""
    matches = [s for s in specs if s.key == key and _in_force(s.valid_from, s.valid_to, on)]
    if not matches:
        raise MissingParameter(key, on)
    return max(matches, key=lambda s: s.valid_from)


def specs_snapshot(specs: Iterable[ParameterSpec], on: date, prefix: str) -> dict[str, Decimal]:
    """Like `policy_snapshot`, over specs instead of the database."""
    chosen: dict[str, ParameterSpec] = {}
    for spec in specs:
        if spec.key.startswith(prefix) and _in_force(spec.valid_from, spec.valid_to, on):
            current = chosen.get(spec.key)
            if current is None or spec.valid_from > current.valid_from:
                chosen[spec.key] = spec
    return {
        key.removeprefix(prefix): Decimal(spec.value) for key, spec in sorted(chosen.items()) if _is_numeric(spec.value)
    }


# --- database ------------------------------------------------------------------------------------------


def seed_policy_parameters(session: Session, specs: Iterable[ParameterSpec] = CATALOGUE) -> int:
    """Insert every (key, valid_from) not yet present; return how many rows were inserted.

    Existing rows are never updated: an administrator may have corrected a value, and that correction
    must survive a redeploy. Flushes, never commits; the caller owns the transaction.
    """
    existing: set[tuple[str, date]] = {
        (key, valid_from)
        for key, valid_from in session.execute(select(PolicyParameter.key, PolicyParameter.valid_from))
    }
    inserted = 0
    for spec in specs:
        if (spec.key, spec.valid_from) in existing:
            continue
        session.add(
            PolicyParameter(
                key=spec.key,
                value=spec.value,
                unit=spec.unit,
                valid_from=spec.valid_from,
                valid_to=spec.valid_to,
                source=spec.source,
                is_default=spec.is_default,
                note=spec.note,
            )
        )
        existing.add((spec.key, spec.valid_from))
        inserted += 1
    session.flush()
    return inserted


def _effective_filter(on: date) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (
        PolicyParameter.valid_from <= on,
        or_(PolicyParameter.valid_to.is_(None), PolicyParameter.valid_to >= on),
    )


def effective_parameter(session: Session, key: str, on: date) -> PolicyParameter:
    """The row for `key` whose period contains `on`; raises MissingParameter."""
    row = session.scalars(
        select(PolicyParameter)
        .where(PolicyParameter.key == key, *_effective_filter(on))
        .order_by(PolicyParameter.valid_from.desc())
        .limit(1)
    ).first()
    if row is None:
        raise MissingParameter(key, on)
    return row


def parameter_value(session: Session, key: str, on: date) -> Decimal:
    """The numeric value of `key` on `on`. Percentages come back as percent numbers (2 means 2%)."""
    return _numeric(key, effective_parameter(session, key, on).value)


def parameter_text(session: Session, key: str, on: date) -> str:
    """The raw text value of `key` on `on`, for the few non-numeric parameters (dates)."""
    return effective_parameter(session, key, on).value


def policy_snapshot(session: Session, on: date, prefix: str) -> dict[str, Decimal]:
    """Every numeric parameter under `prefix` in force on `on`, keyed relative to the prefix.

    With prefix "hazard.reward." the keys are "major", "general.true", ...; pass a prefix ending in "."
    to cut at a segment boundary. Text parameters are left out (read them with `parameter_text`).
    The result is a fresh dict, so a script that changes it changes nothing stored.
    """
    rows = session.scalars(
        select(PolicyParameter)
        .where(PolicyParameter.key.startswith(prefix, autoescape=True), *_effective_filter(on))
        .order_by(PolicyParameter.key, PolicyParameter.valid_from)
    ).all()
    latest = {row.key: row for row in rows}  # ordered by valid_from, so the last one per key wins
    return {
        key.removeprefix(prefix): Decimal(row.value) for key, row in sorted(latest.items()) if _is_numeric(row.value)
    }
