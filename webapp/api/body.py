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

# No request of this API nests deeper than a few levels (a form's data with a group or a list of rows in it).
MAX_JSON_DEPTH = 32


def json_object() -> dict[str, Any]:
    """The body as a JSON object; an empty body is an empty object (claim and release need none).

    The body is parsed whatever its Content-Type, so `curl -d '{...}'` works without a header. Refused with 400
    (issue #5): what is not JSON, nesting deeper than MAX_JSON_DEPTH (a thousand `[` would otherwise exhaust the
    parser's recursion), and text no database can store (a NUL, or half of a UTF-16 surrogate pair via `\ud800`).
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except RecursionError:
        raise ApiError(400, "bad_request", _("请求体嵌套层次过深")) from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_request", _("请求体不是有效的 JSON")) from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", _('请求体必须是 JSON 对象，如 {"data": {...}}'))
    check_json_values(body)
    return body


def check_json_values(value: Any) -> None:
    """ApiError 400 when a parsed body nests too deeply or holds unstorable text, in a key or a value.

    Walks the document with an explicit stack, so a hostile document cannot exhaust the interpreter's recursion.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if forms.validation.unstorable(item):
                raise ApiError(400, "bad_request", _("请求体含有不允许的字符（U+0000 或不成对的代理字符）"))
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise ApiError(400, "bad_request", _("请求体嵌套层次过深"))
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((member, depth + 1) for member in item.values())
        else:
            stack.extend((member, depth + 1) for member in item)


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


# Above this a page number or count only overflows the database's OFFSET (a 64-bit integer) and finds nothing.
MAX_QUERY_INT = 1_000_000


def int_arg(name: str, default: int, low: int, high: int | None = None) -> int:
    """A query-string integer in [low, high]; without `high`, at most MAX_QUERY_INT (issue #5: no overflow)."""
    high = MAX_QUERY_INT if high is None else high
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:  # also a number of more than 4300 digits (Python's int() limit)
        value = low - 1
    if value < low or value > high:
        raise forms.FormValidationError({name: _("必须是 %(low)s 到 %(high)s 之间的整数", low=low, high=high)})
    return value
