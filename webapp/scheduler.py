"""The in-process scheduler of the embedded deployment tier (DESIGN §8 tier 1): each pass fires due timers, writes
the automatic due-soon and overdue reminders (issue #4), escalates overdue supervised matters and e-mails new
notifications when SMTP is configured (issue #8), forgets old rate-limit events and folds the dashboard's tallies."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from flask import Flask

from webapp.database import session_factory
from webapp.notifications import email_link
from workflows.db import utcnow
from workflows.inbox import near_due_limit
from workflows.mailer import send_pending, settings_from
from workflows.plans.tally import compact_tallies
from workflows.rate_limit import forget_before
from workflows.reminders import send_due_reminders
from workflows.supervision.escalation import escalate_overdue_items
from workflows.timers import run_scheduler_pass
from workflows.working_days import calendar_overrides

log = logging.getLogger(__name__)


# Rate-limit events older than this are no longer inside any window (the longest is an hour).
RATE_LIMIT_RETENTION = timedelta(days=1)


def run_once(app: Flask) -> int:
    """One pass; returns how many timers fired. Each part runs in its own transaction."""
    factory = session_factory(app)
    fired = run_scheduler_pass(factory)
    # After the timers: a timer may have opened a task that is already near its due time.
    now = utcnow()
    try:
        with factory() as session, session.begin():
            near = near_due_limit(now, int(app.config["NEAR_DUE_WORKING_DAYS"]), calendar_overrides(session))
            reminded = send_due_reminders(session, now, near)
        if reminded:
            log.info("scheduler wrote %d due reminder(s)", reminded)
    except Exception:  # reminders are retried on the next pass; the housekeeping below must still run
        log.exception("writing due reminders failed")
    try:
        with factory() as session, session.begin():
            escalated = escalate_overdue_items(session, now)
        if escalated:
            log.info("scheduler escalated %d overdue supervised matter(s)", escalated)
    except Exception:  # retried on the next pass: an item is marked escalated only when its head was told
        log.exception("escalating overdue supervised matters failed")
    # Last: what this pass wrote (reminders, escalations) goes out in the same pass.
    send_notification_emails(app)
    with factory() as session, session.begin():
        forget_before(session, utcnow() - RATE_LIMIT_RETENTION)
    with factory() as session, session.begin():
        # The dashboard's tallies gain a row per change; folding them keeps its reads short (issue #9).
        compact_tallies(session)
    return fired


def send_notification_emails(app: Flask) -> int:
    """The e-mail outbox (workflows.mailer); off, and no database query, while SMTP_HOST is empty."""
    settings = settings_from(app.config)
    if not settings.enabled:
        return 0
    try:
        # The links are built as for a request to BASE_URL: absolute URLs when it is set, paths otherwise.
        with app.test_request_context(base_url=app.config.get("BASE_URL") or None):
            sent = send_pending(session_factory(app), settings, email_link)
    except Exception:  # e-mail is retried on the next pass; it must not stop the scheduler
        log.exception("e-mailing notifications failed")
        return 0
    if sent:
        log.info("scheduler e-mailed %d notification(s)", sent)
    return sent


def start_in_process(app: Flask) -> threading.Thread:
    interval = float(app.config["SCHEDULER_INTERVAL_SECONDS"])
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                fired = run_once(app)
                if fired:
                    log.info("scheduler fired %d timer(s)", fired)
            except Exception:  # the loop must survive one bad pass; the error is logged with its traceback
                log.exception("scheduler pass failed")

    thread = threading.Thread(target=loop, name="unionflow-scheduler", daemon=True)
    thread.start()
    app.extensions["unionflow.scheduler_stop"] = stop
    return thread
