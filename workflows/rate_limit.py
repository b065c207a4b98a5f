"""Counting actions per key in a sliding window, in the database so every server process sees the same count."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from workflows.models import RateLimitEvent


def address_key(purpose: str, address: str, secret: str) -> str:
    """A key for a client address that does not store the address itself (personal data, issue #3 §2)."""
    digest = hashlib.sha256(f"{secret}|{address}".encode()).hexdigest()[:32]
    return f"{purpose}:{digest}"


def recent_count(session: Session, key: str, window: timedelta, now: datetime) -> int:
    query = select(func.count()).where(RateLimitEvent.key == key, RateLimitEvent.at > now - window)
    return session.scalar(query) or 0


def record_hit(session: Session, key: str, now: datetime) -> None:
    session.add(RateLimitEvent(key=key, at=now))
    session.flush()


def allow(session: Session, key: str, limit: int, window: timedelta, now: datetime) -> bool:
    """Whether one more action under `key` is within `limit` per `window`; an allowed action is counted."""
    if recent_count(session, key, window, now) >= limit:
        return False
    record_hit(session, key, now)
    return True


def forget_before(session: Session, moment: datetime) -> int:
    """Drop events older than any window still in use; the scheduler calls this now and then."""
    result = session.execute(delete(RateLimitEvent).where(RateLimitEvent.at < moment))
    return int(getattr(result, "rowcount", 0) or 0)
