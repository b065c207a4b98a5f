"""The in-process timer scheduler of the embedded deployment tier (DESIGN §8 tier 1)."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from flask import Flask

from webapp.database import session_factory
from workflows.db import utcnow
from workflows.rate_limit import forget_before
from workflows.timers import run_scheduler_pass

log = logging.getLogger(__name__)


# Rate-limit events older than this are no longer inside any window (the longest is an hour).
RATE_LIMIT_RETENTION = timedelta(days=1)


def run_once(app: Flask) -> int:
    factory = session_factory(app)
    fired = run_scheduler_pass(factory)
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
