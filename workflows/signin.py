"""Sign-in with a lockout after repeated failures (issue #3 §1).

The thresholds are configurable defaults (no seed rule): 5 consecutive failures lock the account for 15 minutes.
A successful sign-in resets the count. Locked accounts are refused before the password is checked, so guessing
during the lock learns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.models import Role, User
from workflows.organisation import authenticate

DEFAULT_MAX_FAILURES = 5
DEFAULT_LOCK_MINUTES = 15


@dataclass(frozen=True)
class SignInPolicy:
    max_failures: int = DEFAULT_MAX_FAILURES
    lock: timedelta = timedelta(minutes=DEFAULT_LOCK_MINUTES)


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    locked_until: datetime | None = None


def sign_in(session: Session, username: str, password: str, now: datetime, policy: SignInPolicy) -> SignInResult:
    """Check the credentials, counting failures against the account; flushes."""
    account = session.scalar(select(User).where(User.username == username.strip()))
    if account is not None and account.locked_until is not None and account.locked_until > now:
        return SignInResult(None, account.locked_until)
    user = authenticate(session, username, password)
    if user is not None and user.role == Role.SERVICE:
        # The service account exists to start public reports; nobody signs in with it.
        user = None
    if user is not None:
        user.failed_logins = 0
        user.locked_until = None
        session.flush()
        return SignInResult(user)
    if account is None:
        return SignInResult(None)
    account.failed_logins += 1
    if account.failed_logins >= policy.max_failures:
        account.locked_until = now + policy.lock
        account.failed_logins = 0
    session.flush()
    return SignInResult(None, account.locked_until if account.locked_until and account.locked_until > now else None)
