"""Hazard reports from the workers' mobile app (issue #3 §2, §9): the public page's intake as JSON.

No account and no cookie: the app posts as anyone may, so the endpoint is CSRF-exempt and guarded like the page,
by the per-address rate limit and the same validation. Photos come as multipart parts next to a `data` part
holding the intake JSON; a plain JSON body `{"data": {...}}` (the shape of the case-start API) files a report
without photos. The answer carries only the receipt number.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import default_exceptions

from forms import FormValidationError
from webapp.api.body import check_json_values
from webapp.api.errors import ApiError, http_error
from webapp.database import get_session
from webapp.public import RATE_WINDOW, file_report, too_many_message, uploaded_photos, within_rate_limit
from workflows.attachments import Upload
from workflows.errors import PermissionDenied, ProcessNotDeployed

bp = Blueprint("public_api", __name__, url_prefix="/api/v1/public")

JsonAnswer = tuple[Any, int] | tuple[Any, int, dict[str, str]]


def _json(raw: str | bytes | None) -> Any:
    """Parsed JSON, or None when it is not JSON or nests deeper than the parser's recursion allows."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


def _submission() -> tuple[dict[str, Any], list[Upload]]:
    """The intake data and photos of the request; FormValidationError when the body is not usable."""
    if request.mimetype == "multipart/form-data":
        data = _json(request.form.get("data"))
        photos = uploaded_photos()
    else:
        body = _json(request.get_data(cache=True))
        data = body.get("data") if isinstance(body, dict) else None
        photos = []
    if not isinstance(data, dict):
        raise FormValidationError({"data": _("data：应为隐患报告登记表的 JSON 对象")})
    try:
        # Too deep, or text no database can store (issue #5): the same refusal as the signed-in API's.
        check_json_values(data)
    except ApiError as exc:
        raise FormValidationError({"data": f"data：{exc.message}"}) from None
    return data, photos


@bp.post("/hazard-reports")
def create_hazard_report() -> JsonAnswer:
    session = get_session()
    if not within_rate_limit(session):
        session.rollback()
        return jsonify(error=too_many_message()), 429, {"Retry-After": str(int(RATE_WINDOW.total_seconds()))}
    try:
        data, photos = _submission()
        instance = file_report(session, data, photos)
    except FormValidationError as exc:
        session.rollback()
        return jsonify(errors=exc.errors), 422
    session.commit()
    return jsonify(receipt=instance.case_number), 201


# Every HTTP error (413 for a body over the photo allowance, 404, 405, 500) answers JSON in the API's error shape
# `{"error": <code>, "message": <Chinese text>}`. By code, not by class: Flask prefers the app's code handlers
# (webapp.errors' HTML pages) over a blueprint's class handler.
for _code in default_exceptions:
    bp.register_error_handler(_code, http_error)


@bp.errorhandler(PermissionDenied)
def refused(exc: PermissionDenied) -> JsonAnswer:
    # Only when an administrator has switched the service account off: public intake is closed.
    return jsonify(error=str(exc) or _("暂不受理")), 403


@bp.errorhandler(ProcessNotDeployed)
def not_deployed(exc: ProcessNotDeployed) -> JsonAnswer:
    return jsonify(error=str(exc)), 503
