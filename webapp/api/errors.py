"""Every API error is JSON: `{"error": <code>, "message": <Chinese text>}`, plus `errors` per field for 422.

The web UI's handlers (webapp.errors) render HTML pages; these take precedence for requests routed to the API
blueprint. Requests that match no route at all (an unknown path or method under /api/) never reach a blueprint's
handlers in Flask, so the app-wide 404/405 handlers are wrapped to answer JSON there too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.sansio.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, MethodNotAllowed, default_exceptions

import forms
from webapp.edge import UnsafeInput
from webapp.errors import too_large_message
from workflows.errors import (
    ConflictError,
    NotFound,
    PermissionDenied,
    ProcessNotDeployed,
    TaskAlreadyClaimed,
)

API_ROOT = "/api/"


class ApiError(Exception):
    """An error a view raises to answer with a given status and message."""

    def __init__(self, status: int, error: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = dict(headers or {})


def json_error(status: int, error: str, message: str, headers: Mapping[str, str] | None = None) -> Response:
    response = jsonify({"error": error, "message": message})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def validation_error(errors: Mapping[str, str]) -> Response:
    response = jsonify({"error": "validation_failed", "message": _("提交的数据有误"), "errors": dict(errors)})
    response.status_code = 422
    return response


def _http_messages() -> dict[int, str]:
    return {
        400: _("请求格式不正确"),
        401: _("需要有效的 API 令牌"),
        403: _("无权执行此操作"),
        404: _("资源不存在"),
        405: _("不支持此请求方法"),
        415: _("请求内容类型不受支持，请使用 application/json"),
        429: _("请求过于频繁，请稍后再试"),
        500: _("服务器内部错误"),
    }


def http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    name = (exc.name or "error").lower().replace(" ", "_")
    # A refused body says how large it may be (the limit is per endpoint: webapp.edge).
    message = too_large_message() if status == 413 else _http_messages().get(status, exc.name or "error")
    if isinstance(exc, UnsafeInput) and exc.description:
        message = exc.description
    response = json_error(status, name, message)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def register(bp: Blueprint) -> None:
    @bp.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return json_error(exc.status, exc.error, exc.message, exc.headers)

    @bp.errorhandler(forms.FormValidationError)
    def invalid_form(exc: forms.FormValidationError) -> Response:
        return validation_error(exc.errors)

    @bp.errorhandler(NotFound)
    def not_found(exc: NotFound) -> Response:
        return json_error(404, "not_found", str(exc) or _("资源不存在"))

    @bp.errorhandler(ProcessNotDeployed)
    def not_deployed(exc: ProcessNotDeployed) -> Response:
        return json_error(404, "not_found", str(exc) or _("流程未部署"))

    @bp.errorhandler(PermissionDenied)
    def forbidden(exc: PermissionDenied) -> Response:
        return json_error(403, "forbidden", str(exc) or _("无权执行此操作"))

    # TaskAlreadyClaimed is both a refusal and a lost race; for a script the race is what matters (retry later).
    @bp.errorhandler(TaskAlreadyClaimed)
    def claimed(exc: TaskAlreadyClaimed) -> Response:
        return json_error(409, "conflict", str(exc))

    @bp.errorhandler(ConflictError)
    def conflict(exc: ConflictError) -> Response:
        return json_error(409, "conflict", str(exc))

    # By code as well as by class: Flask prefers the app's code-specific handlers (webapp.errors' HTML 404, 403,
    # 413) over a blueprint's class handler.
    for code in default_exceptions:
        bp.register_error_handler(code, http_error)
    bp.record_once(_json_for_unrouted_api_paths)


def _json_for_unrouted_api_paths(state: BlueprintSetupState) -> None:
    app = state.app
    # 400 and 413 as well: webapp.edge refuses a NUL or an oversized body even on a path with no route.
    for code in (400, 404, 405, 413):
        exc_class = default_exceptions[code]
        previous: Callable[[Any], Any] | None = app.error_handler_spec[None][code].get(exc_class)

        def handler(exc: HTTPException, previous: Callable[[Any], Any] | None = previous) -> Any:
            if request.path.startswith(API_ROOT):
                return http_error(exc)
            return previous(exc) if previous is not None else exc

        app.register_error_handler(code, handler)
