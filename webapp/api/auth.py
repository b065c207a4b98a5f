"""Bearer-token authentication of every API request (`Authorization: Bearer <token>`), never a session cookie.

A browser's cookie must not authorise API calls: the API is exempt from CSRF protection precisely because it only
accepts credentials a page cannot attach on its own.
"""

from __future__ import annotations

from flask import Blueprint, g, request
from flask_babel import gettext as _

from webapp.api.errors import ApiError
from webapp.database import get_session
from workflows.db import utcnow
from workflows.models import User
from workflows.tokens import user_for_token

# Endpoints anyone may read: the API description says nothing about any case.
PUBLIC_ENDPOINTS = frozenset({"api.openapi_document"})


def _unauthorized(message: str, *, invalid: bool) -> ApiError:
    challenge = 'Bearer realm="UnionFlow"'
    if invalid:  # RFC 6750 §3: say why when a token was presented
        challenge += ', error="invalid_token"'
    return ApiError(401, "unauthorized", message, {"WWW-Authenticate": challenge})


def authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _sep, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized(_("需要 API 令牌：请在 Authorization 请求头中提供 Bearer 令牌"), invalid=False)
    session = get_session()
    user = user_for_token(session, token.strip(), utcnow())
    if user is None:
        raise _unauthorized(_("API 令牌无效、已过期或已吊销"), invalid=True)
    if session.dirty:
        # Only the token's last-use time changed (at most once a minute). Commit it now, so this request holds no
        # write lock while the action runs in its own transaction.
        session.commit()
    g.api_user = user


def api_user() -> User:
    """The user the request's token belongs to."""
    user: User = g.api_user
    return user


def register(bp: Blueprint) -> None:
    bp.before_request(authenticate)
