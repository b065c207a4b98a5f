"""Web hardening (issue #5): security headers on every response, a size limit on every request body, hostile input
refused at the edge.

Headers. One `after_request` hook adds them to every answer: pages, JSON, files and error pages alike.
- Content-Security-Policy: scripts and styles only from our own static files (the bpmn-js viewer is vendored, no
  CDN), no inline script or style at all (the templates have none: every script and style sheet is a static file,
  and the bpmn-js 18 viewer styles itself through CSSOM and class names, which CSP does not restrict: its diagram,
  zoom, pan and watermark lightbox work under this policy, tests/test_security_headers.py checks it in Chromium),
  no plugins, no <base>, forms post only to us, and no page may frame ours. Pages needing inline code would get
  a per-response nonce here, never 'unsafe-inline'.
- X-Frame-Options DENY for browsers that predate frame-ancestors (clickjacking), Referrer-Policy same-origin (case
  numbers and task ids in our URLs never leak to another site), X-Content-Type-Options nosniff (a file is what its
  Content-Type says), a Permissions-Policy switching off device features no page uses, and
  Cross-Origin-Opener-Policy same-origin (no other site keeps a handle on our window).
A view that sets one of these itself keeps its own value.

Body limits. Every request body is bounded before any view reads it: Werkzeug answers 413 as soon as the declared
length (or the streamed body) passes `request.max_content_length`, and `webapp.errors` / the API turn that into a
Chinese page or JSON. A `before_request` hook, registered before CSRF protection reads the form, sets the limit per
endpoint: the case-file uploads may carry CASE_UPLOAD_MAX_BYTES × CASE_UPLOAD_MAX_FILES, the public hazard report
PUBLIC_PHOTO_MAX_BYTES × PUBLIC_PHOTO_MAX_COUNT, each plus REQUEST_FORM_MAX_BYTES for the form fields and multipart
framing. Every other endpoint, and any body that is not multipart (a JSON report without photos), gets
REQUEST_FORM_MAX_BYTES alone. A file a little over its per-file limit still reaches the view, which names it in a
Chinese field error (workflows.attachments); only a body far beyond any legitimate upload is cut off.
MAX_CONTENT_LENGTH, derived from the same settings unless configured, stays the hard ceiling for all of them.
MAX_FORM_MEMORY_SIZE bounds each non-file multipart field and MAX_FORM_PARTS the number of parts (Werkzeug 3.1;
urlencoded bodies are bounded by the byte limit alone).

Hostile input at the edge. `<int:…>` in a route takes only ids the database can hold (a 64-digit id is "not
found", not an overflow inside the driver), and a NUL character in the URL, the query or a form field is refused
with 400 before any view runs: PostgreSQL cannot store it in text, and no person types it. JSON bodies get the
same check where the API parses them (webapp.api.body); form values are checked field by field (forms.validation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.routing import IntegerConverter
from werkzeug.wrappers import Response

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        # The case page fetches its diagram from us.
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

# Features no UnionFlow page uses. Choosing a photo on the public report page is a file input, which needs none.
UNUSED_FEATURES = ("camera", "microphone", "geolocation", "payment", "usb", "accelerometer", "gyroscope")
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in UNUSED_FEATURES)

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
}


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


# --- Request body limits --------------------------------------------------------------------------------------

# Configurable defaults (not rules of any seed): room for the text fields and multipart framing of one form, and
# how many files one case-attachment request carries (one, on the web page and in the API).
DEFAULT_FORM_MAX_BYTES = 1024 * 1024
DEFAULT_CASE_UPLOAD_MAX_FILES = 1


def _int(config: Mapping[str, Any], name: str, default: int) -> int:
    value = config.get(name)
    return default if value is None or value == "" else int(value)


def _case_upload_bytes(config: Mapping[str, Any]) -> int:
    return int(config["CASE_UPLOAD_MAX_BYTES"]) * _int(config, "CASE_UPLOAD_MAX_FILES", DEFAULT_CASE_UPLOAD_MAX_FILES)


def _public_report_bytes(config: Mapping[str, Any]) -> int:
    # Imported here: the intake module pulls in the workflow layer, which this module need not load to be imported.
    from workflows.public_intake import DEFAULT_PHOTO_MAX_BYTES, DEFAULT_PHOTO_MAX_COUNT

    per_photo = _int(config, "PUBLIC_PHOTO_MAX_BYTES", DEFAULT_PHOTO_MAX_BYTES)
    return per_photo * _int(config, "PUBLIC_PHOTO_MAX_COUNT", DEFAULT_PHOTO_MAX_COUNT)


def _aid_list_bytes(config: Mapping[str, Any]) -> int:
    from workflows.tabular import TableLimits

    return _int(config, "AID_LIST_MAX_BYTES", TableLimits.max_bytes)


# Every endpoint that accepts files, with the file bytes it may carry. Everything else carries no file.
UPLOAD_ENDPOINTS: Mapping[str, Callable[[Mapping[str, Any]], int]] = {
    "aid.upload_list": _aid_list_bytes,
    "aid_payment.upload_result": _aid_list_bytes,  # a 20,000-row result file is about 1 MB
    "task_ops.upload": _case_upload_bytes,
    "api.upload_attachment": _case_upload_bytes,
    "public.report": _public_report_bytes,
    "public_api.create_hazard_report": _public_report_bytes,
}


def body_limit(config: Mapping[str, Any], endpoint: str | None, multipart: bool = True) -> int:
    """The largest body `endpoint` accepts: its files (if it takes any, in a multipart body: files come in no
    other) plus room for one form's fields."""
    files = UPLOAD_ENDPOINTS.get(endpoint or "") if multipart else None
    limit = _int(config, "REQUEST_FORM_MAX_BYTES", DEFAULT_FORM_MAX_BYTES) + (files(config) if files else 0)
    ceiling = config.get("MAX_CONTENT_LENGTH")
    return limit if ceiling is None else min(limit, int(ceiling))


def largest_body(config: Mapping[str, Any]) -> int:
    """The largest body any endpoint accepts: the default of MAX_CONTENT_LENGTH."""
    return max(body_limit({**config, "MAX_CONTENT_LENGTH": None}, endpoint) for endpoint in (None, *UPLOAD_ENDPOINTS))


def limit_request_body() -> None:
    multipart = request.mimetype == "multipart/form-data"
    request.max_content_length = body_limit(current_app.config, request.endpoint, multipart)


# --- Hostile input at the edge ----------------------------------------------------------------------------------

# Primary keys are SQLAlchemy Integer columns: INTEGER (32-bit signed) on PostgreSQL, the narrower of the two.
MAX_DATABASE_ID = 2**31 - 1
NUL = "\x00"


def form_id(raw: str | None) -> int | None:
    """A database id picked in a form (a <select> value), or None for anything else: forged, "²", too large."""
    if not raw or not (raw.isascii() and raw.isdecimal()):
        return None
    number = int(raw)
    return number if number <= MAX_DATABASE_ID else None


class DatabaseIdConverter(IntegerConverter):
    """`<int:…>` for database ids: a larger number is 404 (no such row) instead of an overflow in the driver.

    Not found rather than "no route": Werkzeug answers a route whose converter refuses the value with 405 when
    another method's rule matched the same path first.
    """

    def to_python(self, value: str) -> Any:
        number = super().to_python(value)
        if isinstance(number, int) and number > MAX_DATABASE_ID:
            raise NotFound()
        return number


class UnsafeInput(BadRequest):
    """A request carrying characters no person types and the database cannot store; answered 400 in Chinese."""


def unsafe_input() -> UnsafeInput:
    return UnsafeInput(description=_("请求中含有不允许的控制字符（U+0000），请删除后重试"))


def refuse_nul_characters() -> None:
    """400 for a NUL in the path, the query string or a form field (file contents are bytes, not text: allowed)."""
    texts: list[str | None] = [request.path]
    fields = [request.args]
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        fields.append(request.form)
        for name, storages in request.files.lists():
            texts += [name, *(storage.filename for storage in storages)]
    for multidict in fields:
        for key, values in multidict.lists():
            texts += [key, *values]
    # A multipart part without a name has the key None, a file part without a file name the file name None.
    if any(text is not None and NUL in text for text in texts):
        raise unsafe_input()


def init_app(app: Flask) -> None:
    """Derive MAX_CONTENT_LENGTH from the upload settings unless configured, and install the hooks and the converter.

    Call before any blueprint is registered (routes take the converter they are added with) and before any extension
    whose `before_request` reads the body (CSRF protection reads the form): hooks run in the order of registration.
    """
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = largest_body(app.config)
    app.url_map.converters["int"] = DatabaseIdConverter
    # The limit first: checking the form for NUL characters reads the body.
    app.before_request(limit_request_body)
    app.before_request(refuse_nul_characters)
    app.after_request(add_security_headers)
