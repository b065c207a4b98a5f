"""Reading request input: the JSON body and the query string, with errors a script can act on."""

from __future__ import annotations

import json
from typing import Any

from flask import request
from flask_babel import gettext as _

import forms
from webapp.api.errors import ApiError


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
