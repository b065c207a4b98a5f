"""Hazard reports from workers without accounts: the public page and the mobile app (issue #3 §2).

A report is started as the service account (Role.SERVICE): a real user row, so every case keeps a starter and
the approval record names who filed it, but one that cannot sign in and holds no tasks (workflows.signin,
workflows.routing). The hazard hooks put the case in the queue of the district union of the reported enterprise,
where an official registers it; the reporter only ever learns the case number.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import forms
from forms import FormValidationError
from workflows.attachments import CheckedUpload, Upload, UploadPolicy, check_uploads, store_checked
from workflows.audit import record_event
from workflows.models import Level, OrgUnit, ProcessInstance, Role, User
from workflows.operations import start_case
from workflows.organisation import UserAdminError, unit_by_code
from workflows.passwords import hash_password
from workflows.routing import RoutingTable

PROCESS_KEY = "hazard_report"
INTAKE_FORM = "hazard-intake"
# 随手拍 is the snap-and-report channel of the union's app and web page (domain §2.b B1); the reporter does not
# choose it: the other channels (hotline, letters, e-mail, grassroots referral) are recorded by officials.
PUBLIC_CHANNEL = "随手拍"
PHOTO_FIELD = "photos"
PHOTO_LABEL = "现场照片"

SERVICE_USERNAME = "public-intake"
SERVICE_DISPLAY_NAME = "公众上报"

# Configurable defaults, not seed rules (config PUBLIC_INTAKE_UNIT, PUBLIC_PHOTO_MAX_BYTES, PUBLIC_PHOTO_MAX_COUNT,
# PUBLIC_REPORTS_PER_HOUR). The service account sits at the city federation, a start level of hazard_report.
DEFAULT_INTAKE_UNIT = "210200"
DEFAULT_PHOTO_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_PHOTO_MAX_COUNT = 5
DEFAULT_REPORTS_PER_HOUR = 5


def ensure_service_account(session: Session, unit_code: str) -> User:
    """The public-intake service account at `unit_code`, created if missing (idempotent; flushes).

    Its password is random and never shown, and sign-in refuses the service role anyway. If the configured unit
    changed, the account moves there: configuration is the source of truth, and past approval steps keep the
    unit name they were written with.
    """
    unit = unit_by_code(session, unit_code)
    user = session.scalar(select(User).where(User.username == SERVICE_USERNAME))
    if user is None:
        candidate = User(
            username=SERVICE_USERNAME,
            display_name=SERVICE_DISPLAY_NAME,
            password_hash=hash_password(secrets.token_urlsafe(32)),
            org_unit=unit,
            role=Role.SERVICE.value,
        )
        try:
            # Two first-ever submissions may race to create it: the loser takes the winner's row.
            with session.begin_nested():
                session.add(candidate)
        except IntegrityError:
            user = session.scalar(select(User).where(User.username == SERVICE_USERNAME))
            assert user is not None
        else:
            user = candidate
    if user.role != Role.SERVICE:
        raise UserAdminError(f"用户名 {SERVICE_USERNAME} 已被非服务账户使用，请更名后重试")
    if user.org_unit_id != unit.id:
        user.org_unit = unit
        session.flush()
    return user


def district_units(session: Session, unit_code: str) -> list[OrgUnit]:
    """District-level unions under the intake unit: where an enterprise not yet on file may be placed."""
    root = unit_by_code(session, unit_code)
    units = session.scalars(select(OrgUnit).where(OrgUnit.path.startswith(root.path)).order_by(OrgUnit.code))
    return [unit for unit in units if unit.level == Level.DISTRICT]


def _validated_photos(photos: Sequence[Upload], policy: UploadPolicy) -> list[CheckedUpload]:
    checked = check_uploads(photos, policy, field=PHOTO_FIELD, label=PHOTO_LABEL)
    # The same picture chosen twice is one piece of evidence.
    unique: dict[str, CheckedUpload] = {}
    for upload in checked:
        unique.setdefault(upload.sha256, upload)
    return list(unique.values())


def submit_public_report(
    session: Session,
    data: Mapping[str, Any],
    photos: Sequence[Upload],
    *,
    service_user: User,
    upload_dir: str,
    policy: UploadPolicy,
    routing: RoutingTable | None = None,
) -> ProcessInstance:
    """Start a hazard case from a public submission and attach its photos to the case (flushes; caller commits).

    The form and the photos are checked together, before anything is written, so the reporter sees every
    problem at once and a refused submission leaves no case, no attachment row and no file. The receipt number
    to show the reporter is the returned instance's case number.
    """
    submitted = {**data, "channel": PUBLIC_CHANNEL}
    errors: dict[str, str] = {}
    try:
        forms.validate_submission(forms.load_form(INTAKE_FORM), submitted)
    except FormValidationError as exc:
        errors.update(exc.errors)
    checked: list[CheckedUpload] = []
    try:
        checked = _validated_photos(photos, policy)
    except FormValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise FormValidationError(errors)

    instance = start_case(session, service_user, PROCESS_KEY, submitted, routing=routing)
    for upload in checked:
        attachment = store_checked(session, upload_dir, instance.id, None, upload, None)
        record_event(
            session,
            "attachment.added",
            "case",
            instance.case_number or instance.id,
            {"sha256": attachment.sha256, "size": attachment.size, "content_type": attachment.content_type},
            actor_id=service_user.id,
        )
    return instance
