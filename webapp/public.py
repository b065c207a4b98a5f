"""Public hazard-report page for workers without accounts (issue #3 §2): no sign-in, photos, a receipt number.

The page is the one part of the app open to anyone, so it shows nothing but the form and the reporter's own
receipt: the receipt URL carries a signed token rather than the case number, so guessing numbers reveals nothing.
Submissions are rate limited per client address (counted in the database, so every worker process agrees).
The helpers below are shared with the mobile-app endpoint in webapp.public_api.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

import forms
from forms import FormValidationError
from forms.html_form import FieldView, field_views, flat_values, submission_from_post, unplaced_errors
from webapp.database import get_session
from workflows.attachments import Upload, UploadPolicy, size_text
from workflows.db import utcnow
from workflows.models import ProcessInstance
from workflows.public_intake import (
    DEFAULT_INTAKE_UNIT,
    DEFAULT_PHOTO_MAX_BYTES,
    DEFAULT_PHOTO_MAX_COUNT,
    DEFAULT_REPORTS_PER_HOUR,
    INTAKE_FORM,
    PHOTO_FIELD,
    district_units,
    ensure_service_account,
    submit_public_report,
)
from workflows.rate_limit import address_key, allow

bp = Blueprint("public", __name__)

RATE_WINDOW = timedelta(hours=1)
RATE_PURPOSE = "public-report"
RECEIPT_SALT = "public-report-receipt"
# A receipt link works for a week: long enough to come back to, short enough that an old shared link dies.
RECEIPT_MAX_AGE_SECONDS = 7 * 24 * 3600
DISTRICT_FIELD = "enterprise_district_code"
# Fixed by the page (public_intake.PUBLIC_CHANNEL), so never shown to the reporter.
HIDDEN_FIELDS = frozenset({"channel"})
HINTS = {
    "enterprise_name": "企业尚未登记时必填",
    DISTRICT_FIELD: "企业尚未登记时必选：企业所在的区市县、先导区或产业工会",
    "reporter.name": "匿名报告可不填；举报本单位隐患须实名",
    "reporter.resident_id": "申请奖励时需要，仅用于核实身份，严格保密",
}


# --- Shared with the API ---------------------------------------------------------------------------------------


def _config_int(name: str, default: int) -> int:
    value = current_app.config.get(name)
    return default if value is None or value == "" else int(value)


def photo_policy() -> UploadPolicy:
    return UploadPolicy(
        max_bytes=_config_int("PUBLIC_PHOTO_MAX_BYTES", DEFAULT_PHOTO_MAX_BYTES),
        max_count=_config_int("PUBLIC_PHOTO_MAX_COUNT", DEFAULT_PHOTO_MAX_COUNT),
    )


def reports_per_hour() -> int:
    return _config_int("PUBLIC_REPORTS_PER_HOUR", DEFAULT_REPORTS_PER_HOUR)


def client_address() -> str:
    """The reporter's address: the socket peer, or, behind N trusted proxies (TRUST_PROXY = N or True), the
    address the nearest of them saw. Entries further left in X-Forwarded-For are written by the client itself."""
    hops = int(current_app.config.get("TRUST_PROXY") or 0)
    if hops > 0:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr or "unknown"


def within_rate_limit(session: Session) -> bool:
    """Count this submission against the client's hourly allowance.

    The count is written in the request's transaction: a submission refused for invalid data is rolled back and
    does not use up the allowance (a worker fixing a typo is not a flood), while accepted reports do.
    """
    key = address_key(RATE_PURPOSE, client_address(), str(current_app.secret_key))
    return allow(session, key, reports_per_hour(), RATE_WINDOW, utcnow())


def uploaded_photos() -> list[Upload]:
    """The files posted as `photos`, each read only up to one byte past the limit (enough to refuse it)."""
    limit = photo_policy().max_bytes + 1
    photos = []
    for storage in request.files.getlist(PHOTO_FIELD):
        data = storage.stream.read(limit)
        if not storage.filename and not data:
            continue  # the empty part a browser sends when no file was chosen
        photos.append(Upload(storage.filename or "", data))
    return photos


def file_report(session: Session, data: dict[str, Any], photos: list[Upload]) -> ProcessInstance:
    """Start the case as the service account (created on first use, so a database set up without it works)."""
    service_user = ensure_service_account(session, current_app.config.get("PUBLIC_INTAKE_UNIT") or DEFAULT_INTAKE_UNIT)
    return submit_public_report(
        session,
        data,
        photos,
        service_user=service_user,
        upload_dir=str(current_app.config["UPLOAD_DIR"]),
        policy=photo_policy(),
    )


def too_many_message() -> str:
    return _(
        "提交过于频繁：同一网络每小时最多提交 %(count)s 份隐患报告，请稍后再试。情况紧急请拨打职工服务热线 12351。",
        count=reports_per_hour(),
    )


# --- Receipt tokens ----------------------------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.secret_key), salt=RECEIPT_SALT)


def receipt_token(case_number: str) -> str:
    return _serializer().dumps(case_number)


def receipt_number(token: str) -> str | None:
    try:
        number = _serializer().loads(token, max_age=RECEIPT_MAX_AGE_SECONDS)
    except BadSignature:  # SignatureExpired is a subclass
        return None
    return number if isinstance(number, str) else None


# --- Page --------------------------------------------------------------------------------------------------------


def _fields(form: forms.FormDefinition) -> list[FieldView]:
    def hinted(view: FieldView) -> FieldView:
        children = tuple(hinted(child) for child in view.children)
        return dataclasses.replace(view, description=HINTS.get(view.name, view.description), children=children)

    return [hinted(view) for view in field_views(form) if view.name not in HIDDEN_FIELDS]


def _render(form: forms.FormDefinition, values: dict[str, Any], errors: dict[str, str], status: int = 200) -> Any:
    fields = _fields(form)
    policy = photo_policy()
    page = render_template(
        "public/report.html",
        form=form,
        fields=fields,
        district_field=DISTRICT_FIELD,
        districts=district_units(get_session(), current_app.config.get("PUBLIC_INTAKE_UNIT") or DEFAULT_INTAKE_UNIT),
        values=values,
        errors=errors,
        other_errors=unplaced_errors(fields, errors, PHOTO_FIELD),
        max_count=policy.max_count,
        max_size=size_text(policy.max_bytes),
        type_names=policy.allowed_names(),
        accept=",".join(sorted(policy.allowed_types)),
    )
    return page, status


@bp.route("/report", methods=["GET", "POST"])
def report() -> Any:
    form = forms.load_form(INTAKE_FORM)
    if request.method == "GET":
        return _render(form, {}, {})
    session = get_session()
    if not within_rate_limit(session):
        session.rollback()
        page = render_template("error.html", title=_("提交过于频繁"), message=too_many_message(), status=429)
        return page, 429, {"Retry-After": str(int(RATE_WINDOW.total_seconds()))}
    data = submission_from_post(form, request.form)
    try:
        instance = file_report(session, data, uploaded_photos())
    except FormValidationError as exc:
        session.rollback()
        return _render(form, flat_values(data), exc.errors, 422)
    session.commit()
    assert instance.case_number is not None
    return redirect(url_for("public.receipt", token=receipt_token(instance.case_number)), 303)


@bp.route("/report/receipt/<token>")
def receipt(token: str) -> Response:
    number = receipt_number(token)
    if number is None:
        abort(404)
    response = make_response(render_template("public/receipt.html", case_number=number))
    # The page is the reporter's own: keep it out of shared caches and browser history caches.
    response.headers["Cache-Control"] = "no-store"
    return response
