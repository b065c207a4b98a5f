"""The revision of the reference data pages may cache per process (issue #9 §2: the plan dashboard read the plan's
items, responsibilities and the units they name anew on every view, ~11 ms on SQLite and ~15 ms on PostgreSQL).

Reference data is what changes only when an administrator loads it: the organisation (units, departments), the
responsibility plans (plan, measures, items, responsibilities, linked processes, targets) and the deployed process
versions. One row holds a token that any ORM flush writing such a row replaces, in the same transaction
(`_note_reference_changes`, registered on every Session), so a process-level cache keyed by the token
(workflows.plans.structure) is never read after the change commits, nor by the transaction that made it (it reads
its own new token, which no cached entry carries). The row comes with the table. Writers that bypass the ORM replace
the token themselves (a backup restore, which does not restore the row, calls `replace_token`); the benches' bulk
loads run in processes of their own.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, Table, event, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflows.db import Base, utcnow
from workflows.models.org import Department, OrgUnit
from workflows.models.plan import Plan, PlanItem, PlanItemProcess, PlanMeasure, PlanResponsibility, PlanTarget
from workflows.models.process import ProcessVersion

REFERENCE_MODELS = (OrgUnit, Department, Plan, PlanMeasure, PlanItem, PlanResponsibility, PlanItemProcess,
                    PlanTarget, ProcessVersion)  # fmt: skip


class ReferenceRevision(Base):
    __tablename__ = "reference_revision"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


_TABLE: Table = ReferenceRevision.__table__  # type: ignore[assignment]  # a mapped class's table is a Table


def new_token() -> str:
    return uuid.uuid4().hex


def current_token(session: Session) -> str | None:
    return session.scalar(select(ReferenceRevision.token).where(ReferenceRevision.id == 1))


def _writes_reference(session: Session) -> bool:
    """Whether the flush writes reference data. A parent whose collection changed counts: removing a target from
    an item deletes it during the flush (delete-orphan), when it was never in `session.deleted`."""
    if any(isinstance(instance, REFERENCE_MODELS) for instance in (*session.new, *session.deleted)):
        return True
    return any(isinstance(instance, REFERENCE_MODELS) and session.is_modified(instance) for instance in session.dirty)


def _note_reference_changes(session: Session, _context: Any, _instances: Any) -> None:
    """Replace the token when this flush writes reference data (the connection's statement: no autoflush). The token
    row is locked until the transaction ends: reference data is written by administrators' loads, each in a
    transaction of its own, never inside a step that holds a case's lock."""
    if _writes_reference(session):
        replace_token(session.connection())


def replace_token(connection: Connection) -> None:
    """Give the reference data a new token (the row comes with the table: migration 0015, or `_first_token` for a
    schema built from the models; inserted here only if someone deleted it)."""
    values = {"token": new_token(), "changed_at": utcnow()}
    if connection.execute(update(_TABLE).where(_TABLE.c.id == 1).values(**values)).rowcount == 0:
        connection.execute(insert(_TABLE).values(id=1, **values))


def _first_token(target: Table, connection: Connection, **_kw: Any) -> None:
    connection.execute(insert(target).values(id=1, token=new_token(), changed_at=utcnow()))


event.listen(Session, "before_flush", _note_reference_changes)
# Schemas built from the models (tests, benches) get the row with the table; migration 0015 inserts it otherwise.
event.listen(ReferenceRevision.__table__, "after_create", _first_token)
