"""Reading request input: the JSON body and the query string, with errors a script can act on."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any

from flask import request
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
from webapp.api.errors import ApiError
from workflows.models import User


def json_object() -> dict[str, Any]:
    """The body as a JSON object; an empty body is an empty object (claim and release need none).

    The body is parsed whatever its Content-Type, so `curl -d '{...}'` works without a header.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_request", _("请求体不是有效的 JSON")) from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", _('请求体必须是 JSON 对象，如 {"data": {...}}'))
    return body


def object_member(body: dict[str, Any], name: str) -> dict[str, Any]:
    """`body[name]` as an object (missing means empty: the form then reports every required field)."""
    value = body.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise forms.FormValidationError({name: _("必须是 JSON 对象")})
    return value


def optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    raise forms.FormValidationError({name: _("必须是文本")})


def text(body: dict[str, Any], name: str, default: str = "") -> str:
    """An optional text member; missing or null is `default`."""
    value = optional_text(body, name)
    return default if value is None else value


def required_text(body: dict[str, Any], name: str) -> str:
    value = optional_text(body, name)
    if value is None or not value.strip():
        raise forms.FormValidationError({name: _("必须填写")})
    return value


def text_list(body: dict[str, Any], name: str) -> list[str]:
    """A required, non-empty list of texts (task ids, usernames)."""
    value = body.get(name)
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise forms.FormValidationError({name: _("必须是非空的文本数组")})
    return value


def date_member(body: dict[str, Any], name: str, default: date) -> date:
    """A date as YYYY-MM-DD (Beijing calendar day); missing or null is `default`."""
    value = optional_text(body, name)
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise forms.FormValidationError({name: _("必须是 YYYY-MM-DD 格式的日期")}) from None


def users_named(session: Session, usernames: list[str], field: str) -> list[User]:
    """The active accounts with these usernames, in the order given; 422 on `field` naming any that is unknown.

    A deactivated account counts as unknown: nobody may hand work to it.
    """
    found = {
        user.username: user
        for user in session.scalars(select(User).where(User.username.in_(usernames), User.active.is_(True)))
    }
    missing = [name for name in dict.fromkeys(usernames) if name not in found]
    if missing:
        raise forms.FormValidationError({field: _("找不到用户：%(names)s", names="、".join(missing))})
    return [found[name] for name in dict.fromkeys(usernames)]


def user_named(session: Session, body: dict[str, Any], field: str) -> User:
    (user,) = users_named(session, [required_text(body, field).strip()], field)
    return user


@contextmanager
def fields_renamed(names: Mapping[str, str]) -> Iterator[None]:
    """Report the workflow layer's field errors under the request's member names (e.g. its `signer` as `user`)."""
    try:
        yield
    except forms.FormValidationError as exc:
        raise forms.FormValidationError({names.get(key, key): message for key, message in exc.errors.items()}) from exc


def int_arg(name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low or (high is not None and value > high):
        message = (
            _("必须是 %(low)s 到 %(high)s 之间的整数", low=low, high=high)
            if high is not None
            else _("必须是不小于 %(low)s 的整数", low=low)
        )
        raise forms.FormValidationError({name: message})
    return value
