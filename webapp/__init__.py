"""UnionFlow's Flask application: `create_app(test_config=None)`."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from webapp import (
    aid,
    aid_case,
    aid_documents,
    aid_payment,
    aid_review,
    api,
    auth,
    batch,
    calendar_admin,
    cases,
    cli,
    database,
    edge,
    errors,
    formatting,
    i18n,
    inbox,
    notifications,
    plans,
    public,
    public_api,
    records,
    scheduler,
    settings,
    start,
    studio,
    studio_documents,
    supervision,
    task_ops,
    tasks,
)
from webapp.template_cache import COMPILED_TEMPLATES
from webapp.url_rules import SharedBuilderRule
from workflows.attachments import JPEG, PDF, PNG
from workflows.db import RedactDatabaseErrors
from workflows.inbox import NAV_HISTORY_CAP

csrf = CSRFProtect()


def _default_database_url(app: Flask) -> str:
    return f"sqlite:///{Path(app.instance_path) / 'unionflow.db'}"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Configuration comes from defaults, then `FLASK_`-prefixed environment variables, then `test_config`."""
    app = Flask(__name__, instance_relative_config=True)
    app.jinja_options = {**app.jinja_options, "bytecode_cache": COMPILED_TEMPLATES}  # before jinja_env is built
    app.url_rule_class = SharedBuilderRule
    app.config.from_mapping(
        SECRET_KEY=None,
        DATABASE_URL=os.environ.get("DATABASE_URL"),
        DEMO_MODE=os.environ.get("UNIONFLOW_DEMO") == "1",
        RUN_SCHEDULER=False,
        SCHEDULER_INTERVAL_SECONDS=60,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # A CSRF token lives as long as the session: an official may spend more than an hour on a long form.
        WTF_CSRF_TIME_LIMIT=None,
        # Request bodies (issue #5, webapp.edge): each endpoint accepts its files plus
        # REQUEST_FORM_MAX_BYTES of form fields, and no more; larger bodies get 413 before any view runs.
        # MAX_CONTENT_LENGTH is the hard ceiling over all of them, derived from the upload limits unless set.
        MAX_CONTENT_LENGTH=None,
        REQUEST_FORM_MAX_BYTES=1024 * 1024,
        # Werkzeug 3.1's bounds on multipart forms, made explicit: bytes of one non-file field, number of parts.
        MAX_FORM_MEMORY_SIZE=500_000,
        MAX_FORM_PARTS=1_000,
        UPLOAD_DIR=None,
        NEAR_DUE_WORKING_DAYS=2,
        # The navigation counts 已办 and 我发起 up to this many and shows “999+” beyond (issue #9; a default).
        NAV_HISTORY_CAP=NAV_HISTORY_CAP,
        # Files officials attach to a case or a step (issue #4): size limit and the types sniffed from the bytes.
        CASE_UPLOAD_MAX_BYTES=10 * 1024 * 1024,
        CASE_UPLOAD_TYPES=(JPEG, PNG, PDF),
        CASE_UPLOAD_MAX_FILES=1,  # one file per request, on the case page and in the API
        # Public hazard reports (configurable defaults, not seed rules): the unit of the service account that
        # starts them, photo limits, reports per client address per hour, and how many proxies to trust.
        PUBLIC_INTAKE_UNIT="210200",
        PUBLIC_PHOTO_MAX_BYTES=5 * 1024 * 1024,
        PUBLIC_PHOTO_MAX_COUNT=5,
        PUBLIC_REPORTS_PER_HOUR=5,
        TRUST_PROXY=0,
        # E-mail of notifications (issue #8): off while SMTP_HOST is empty. BASE_URL (e.g. https://oa.example.cn)
        # makes the links in e-mails absolute; without it they are paths. FLASK_SMTP_* overrides these as well.
        SMTP_HOST=os.environ.get("UNIONFLOW_SMTP_HOST", ""),
        SMTP_PORT=int(os.environ.get("UNIONFLOW_SMTP_PORT") or 25),
        SMTP_USER=os.environ.get("UNIONFLOW_SMTP_USER", ""),
        SMTP_PASSWORD=os.environ.get("UNIONFLOW_SMTP_PASSWORD", ""),
        SMTP_FROM=os.environ.get("UNIONFLOW_SMTP_FROM", ""),
        SMTP_STARTTLS=os.environ.get("UNIONFLOW_SMTP_STARTTLS", "").strip().lower() in ("1", "true", "yes", "on"),
        BASE_URL=os.environ.get("UNIONFLOW_BASE_URL", ""),
    )
    app.config.from_prefixed_env()
    if test_config is not None:
        app.config.update(test_config)
    if not app.config["DATABASE_URL"]:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["DATABASE_URL"] = _default_database_url(app)
    if not app.config["UPLOAD_DIR"]:
        app.config["UPLOAD_DIR"] = str(Path(app.instance_path) / "attachments")
    if not app.config["SECRET_KEY"]:
        if not (app.config["DEMO_MODE"] or app.testing):
            raise RuntimeError("SECRET_KEY is not set: export FLASK_SECRET_KEY (only the demo mode may run without it)")
        # Demo and tests only: a per-process key, so sessions end when the server restarts.
        app.config["SECRET_KEY"] = secrets.token_hex(32)

    # First: its body limit must be in place before any other hook (CSRF protection) reads the form.
    edge.init_app(app)
    # A failed request's database error is logged by its summary: PostgreSQL's DETAIL repeats personal data.
    app.logger.addFilter(RedactDatabaseErrors())
    database.init_app(app)
    formatting.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    cli.init_app(app)
    errors.init_app(app)
    inbox.init_app(app)
    csrf.init_app(app)
    for blueprint in (auth.bp, i18n.bp, inbox.bp, tasks.bp, task_ops.bp, start.bp, cases.bp, records.bp, public.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(settings.bp)
    app.register_blueprint(calendar_admin.bp)
    app.register_blueprint(batch.bp)
    app.register_blueprint(aid.bp)
    app.register_blueprint(aid_review.bp)
    app.register_blueprint(aid_payment.bp)
    app.register_blueprint(aid_case.bp)
    app.register_blueprint(aid_documents.bp)
    app.register_blueprint(studio_documents.bp)
    app.register_blueprint(studio.bp)
    app.register_blueprint(supervision.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(plans.bp)
    # The API authenticates every request with a bearer token, never a cookie, so CSRF does not apply to it.
    csrf.exempt(api.bp)
    app.register_blueprint(api.bp)
    # The workers' mobile app posts hazard reports with no cookie and no account: CSRF does not apply either.
    csrf.exempt(public_api.bp)
    app.register_blueprint(public_api.bp)
    if app.config["RUN_SCHEDULER"]:
        scheduler.start_in_process(app)
    return app
