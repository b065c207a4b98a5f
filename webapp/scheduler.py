"""The in-process scheduler of the embedded deployment tier (DESIGN §8 tier 1): each pass fires due timers, writes
the automatic due-soon and overdue reminders (issue #4) and forgets old rate-limit events."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from flask import Flask

from webapp.database import session_factory
from workflows.db import utcnow
from workflows.inbox import near_due_limit
from workflows.rate_limit import forget_before
from workflows.reminders import send_due_reminders
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
    with factory() as session, session.begin():
        forget_before(session, utcnow() - RATE_LIMIT_RETENTION)
    return fired


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
