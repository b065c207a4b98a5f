"""The in-process timer scheduler of the embedded deployment tier (DESIGN §8 tier 1)."""

from __future__ import annotations

import logging
import threading

from flask import Flask

from webapp.database import session_factory
from workflows.timers import run_scheduler_pass

log = logging.getLogger(__name__)


def run_once(app: Flask) -> int:
    return run_scheduler_pass(session_factory(app))


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
