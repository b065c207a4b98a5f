"""Run one user action as one transaction, retrying once when another step of the same case got there first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from workflows.errors import CaseChanged

T = TypeVar("T")


def run_in_transaction(factory: sessionmaker[Any], action: Callable[[Session], T], *, retries: int = 1) -> T:
    """Commit `action` once, or roll it back entirely.

    A `CaseChanged` conflict means another step of the same case committed between our read and our write (two
    parallel branches, or a timer). The action is re-run on fresh state: if its own task was taken meanwhile, the
    re-run raises `TaskAlreadyHandled`; otherwise it succeeds.
    """
    for attempt in range(retries + 1):
        try:
            with factory() as session, session.begin():
                return action(session)
        except CaseChanged:
            if attempt == retries:
                raise
    raise AssertionError("unreachable")
