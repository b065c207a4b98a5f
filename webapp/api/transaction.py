"""A changing API call runs as one transaction of its own, re-run once when a parallel step of the case won a race.

workflows.transaction.run_in_transaction gives that: a lost race (CaseChanged) re-runs the action on fresh state,
which then either succeeds (another branch of the case had moved) or answers 409 (this very task was taken).
The answer is built inside the transaction, while the rows it describes are still attached to their session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from sqlalchemy.orm import Session, joinedload

from webapp.api.auth import api_user
from webapp.database import session_factory
from workflows.models import User
from workflows.transaction import run_in_transaction

T = TypeVar("T")


# Permission checks read the user's unit and department at every action: loaded with the user, not one by one.
_USER_WITH_SEAT = (joinedload(User.org_unit), joinedload(User.department))


def run_action(action: Callable[[Session, User], T]) -> T:
    user_id = api_user().id

    def in_transaction(session: Session) -> T:
        user = session.get(User, user_id, options=_USER_WITH_SEAT)
        assert user is not None  # authenticated a moment ago; accounts are deactivated, never deleted
        return action(session, user)

    return run_in_transaction(session_factory(current_app), in_transaction)
