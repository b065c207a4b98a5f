"""API bearer tokens (issue #3 §5): created for one user, shown once, stored only as their SHA-256.

A stolen database copy then yields no usable token. The token is random (256 bits), so a plain hash is enough: no
salt or slow hash is needed, unlike for passwords, and a lookup by hash stays a single indexed query.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from workflows.db import utcnow
from workflows.models import ApiToken, Role, User

# Configurable default, not a seed rule: how long a new token is valid (`create-token --days`, FLASK_API_TOKEN_DAYS).
DEFAULT_TOKEN_DAYS = 90
# Recognisable in logs and by secret scanners; carries no information.
TOKEN_PREFIX = "uf_"
# last_used_at is refreshed at most this often, so a busy script does not turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(ValueError):
    """A token cannot be created for this user."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def can_hold_token(user: User) -> bool:
    # The service account starts public reports from the public pages only; it never signs in, with a token or not.
    return user.active and user.role != Role.SERVICE


def create_token(
    session: Session, user: User, label: str = "", expires_in: timedelta | None = None, *, now: datetime | None = None
) -> str:
    """A new token for `user`, valid for `expires_in` (default DEFAULT_TOKEN_DAYS); returns the only plaintext copy."""
    if not can_hold_token(user):
        raise TokenError(f"用户 {user.username} 已停用或为系统账户，不能创建令牌")
    now = now or utcnow()
    expires_in = expires_in if expires_in is not None else timedelta(days=DEFAULT_TOKEN_DAYS)
    if expires_in <= timedelta(0):
        raise TokenError("有效期必须大于零")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=hash_token(token),
            label=label[:100],
            created_at=now,
            expires_at=now + expires_in,
        )
    )
    session.flush()
    return token


def _usable(record: ApiToken, now: datetime) -> bool:
    if record.revoked_at is not None:
        return False
    return record.expires_at is None or record.expires_at > now


def user_for_token(session: Session, token: str, now: datetime) -> User | None:
    """The user a presented token belongs to, or None when it is unknown, revoked, expired, or its user may not act.

    Refreshes the token's last_used_at (at most once per LAST_USED_RESOLUTION); the caller commits.
    """
    if not token.startswith(TOKEN_PREFIX):
        return None
    record = session.scalar(_TOKEN_WITH_USER, {"token_hash": hash_token(token)})
    if record is None or not _usable(record, now) or not can_hold_token(record.user):
        return None
    if record.last_used_at is None or now - record.last_used_at >= LAST_USED_RESOLUTION:
        record.last_used_at = now
    return record.user


# Built once, with the user, their unit and department in the same query: every API request needs all four (issue #9).
_TOKEN_WITH_USER = (
    select(ApiToken)
    .options(
        joinedload(ApiToken.user).joinedload(User.org_unit), joinedload(ApiToken.user).joinedload(User.department)
    )
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def revoke_token(session: Session, token: str, now: datetime | None = None) -> bool:
    """Revoke one token given its plaintext; False when it is unknown or was already revoked."""
    # The user, their unit and department come in the same query: every API request needs all three (issue #9).
    user = joinedload(ApiToken.user)
    record = session.scalar(
        select(ApiToken)
        .options(user.joinedload(User.org_unit), user.joinedload(User.department))
        .where(ApiToken.token_hash == hash_token(token))
    )
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = now or utcnow()
    session.flush()
    return True


def revoke_user_tokens(session: Session, user: User, now: datetime | None = None) -> int:
    """Revoke every token of `user` that is not revoked yet (a lost laptop, a departing official); returns how many."""
    records = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)))
    moment = now or utcnow()
    count = 0
    for record in records:
        record.revoked_at = moment
        count += 1
    session.flush()
    return count
