"""Append to and verify the hash-chained audit log (DESIGN §6).

Each event's hash covers its own fields and the previous event's hash, so editing, deleting or reordering any
stored event breaks the chain from that point, and `verify_chain` names the first broken event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, insert, select, text
from sqlalchemy.orm import Session

from forms import canonical_json
from workflows.db import utcnow
from workflows.models import AuditEvent

GENESIS_HASH = "0" * 64


def event_hash(
    prev_hash: str,
    occurred_at: datetime,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    payload: str,
) -> str:
    material = "|".join(
        [prev_hash, occurred_at.isoformat(), str(actor_id or ""), action, object_type, object_id, payload]
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


_CHAIN_TAIL = select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)  # built once: read at every step
# Core (issue #9): an ORM object per event cost a flush's bookkeeping at every step, for a row nobody reads back.
_APPEND = insert(cast(Table, AuditEvent.__table__))


@dataclass(frozen=True)
class RecordedEvent:
    id: int
    occurred_at: datetime
    prev_hash: str
    hash: str


def record_event(
    session: Session,
    action: str,
    object_type: str,
    object_id: str | int,
    payload: dict[str, Any] | None = None,
    *,
    actor_id: int | None = None,
) -> RecordedEvent:
    """Append one event. Call it inside the transaction of the change it records, after that change's writes.

    On SQLite the transaction's earlier writes hold the single write lock, so the last hash read here cannot
    move; on PostgreSQL an advisory transaction lock serialises appenders. The unique `prev_hash` is the
    backstop: a forked chain cannot be stored.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727300)"))
    prev = session.scalar(_CHAIN_TAIL) or GENESIS_HASH
    occurred_at = utcnow()
    payload_json = canonical_json(payload or {})
    digest = event_hash(prev, occurred_at, actor_id, action, object_type, str(object_id), payload_json)
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]  # an INSERT's result
        _APPEND,
        {
            "occurred_at": occurred_at,
            "actor_id": actor_id,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "payload": payload_json,
            "prev_hash": prev,
            "hash": digest,
        },
    )
    key = result.inserted_primary_key
    assert key is not None
    return RecordedEvent(int(key[0]), occurred_at, prev, digest)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""


def verify_chain(session: Session) -> ChainReport:
    prev = GENESIS_HASH
    checked = 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        if event.prev_hash != prev:
            return ChainReport(False, checked, event.id, "前一事件哈希不匹配（事件被删除或插入）")
        expected = event_hash(
            prev,
            event.occurred_at,
            event.actor_id,
            event.action,
            event.object_type,
            event.object_id,
            event.payload,
        )
        if expected != event.hash:
            return ChainReport(False, checked, event.id, "事件内容与哈希不符（事件被修改）")
        prev = event.hash
        checked += 1
    return ChainReport(True, checked)
