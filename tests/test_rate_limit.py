from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from workflows.db import utcnow
from workflows.rate_limit import address_key, allow, forget_before, recent_count


def test_allows_up_to_the_limit_per_window_and_counts_only_allowed_actions(session: Session) -> None:
    now = utcnow()
    window = timedelta(hours=1)
    assert [allow(session, "k", 2, window, now) for _ in range(3)] == [True, True, False]
    assert recent_count(session, "k", window, now) == 2
    assert allow(session, "other", 2, window, now)
    # An hour later the window has moved on.
    assert allow(session, "k", 2, window, now + window + timedelta(seconds=1))


def test_address_keys_do_not_contain_the_address(session: Session) -> None:
    key = address_key("public-report", "203.0.113.7", "secret")
    assert "203.0.113.7" not in key and key.startswith("public-report:")
    assert key == address_key("public-report", "203.0.113.7", "secret")
    assert key != address_key("public-report", "203.0.113.8", "secret")


def test_old_events_are_forgotten(session: Session) -> None:
    now = utcnow()
    allow(session, "k", 5, timedelta(hours=1), now - timedelta(days=2))
    allow(session, "k", 5, timedelta(hours=1), now)
    assert forget_before(session, now - timedelta(days=1)) == 1
    assert recent_count(session, "k", timedelta(days=10), now) == 1
