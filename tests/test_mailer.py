"""E-mail of notifications (issue #8): off by default; with SMTP configured, the scheduler pass sends each new
notification once to a real SMTP server (aiosmtpd), counts refusals and logs no address."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.workflow_helpers import complete, open_task, start_report, user
from webapp.scheduler import run_once
from workflows.mailer import MAX_ATTEMPTS
from workflows.models import Notification

ADDRESS = "wangjianguo@example.cn"
REFUSED = "refused@example.cn"


class Inbox:
    """An aiosmtpd handler keeping what arrived; it refuses one recipient address."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address == REFUSED:
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def triage_waiting(app_db: Session) -> tuple[str, str]:
    """A case whose 分级研判 waits in the city's queue: jingji1 (and colleagues) have a new-task notification."""
    case = start_report(app_db, "haichang_gonghui")
    complete(app_db, "ganjingzi1", case, "register_report", {"decision": "受理", "opinion": "同意受理。"})
    task_id = open_task(app_db, case, "triage").task_id
    jingji1 = user(app_db, "jingji1")
    jingji1.email = ADDRESS
    app_db.commit()
    return case.case_number or "", task_id


def notifications_of(app_db: Session, username: str) -> list[Notification]:
    app_db.expire_all()
    return list(
        app_db.scalars(select(Notification).where(Notification.recipient_id == user(app_db, username).id))
    )


def test_with_smtp_off_nothing_is_sent_and_nothing_breaks(app: Flask, app_db: Session, smtp: tuple[Inbox, int]) -> None:
    inbox, _port = smtp
    triage_waiting(app_db)
    assert not app.config["SMTP_HOST"]  # the default

    run_once(app)

    assert inbox.messages == []
    assert all(n.emailed_at is None for n in notifications_of(app_db, "jingji1"))


def test_a_new_notification_is_emailed_once_with_its_link(app: Flask, app_db: Session, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    case_number, task_id = triage_waiting(app_db)
    jingji2 = user(app_db, "jingji2")
    jingji2.email = ""  # no address: stays in the app only
    (old,) = [n for n in notifications_of(app_db, "jingji1") if n.task_id == task_id]
    stale = Notification(
        recipient_id=old.recipient_id, kind="task", title="旧通知", created_at=old.created_at - timedelta(days=2)
    )
    app_db.add(stale)
    app_db.commit()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_FROM="unionflow@example.cn")
    app.config["BASE_URL"] = "https://oa.example.cn"

    run_once(app)
    run_once(app)  # already sent: nothing again

    # The demo's cases told jingji1 of their tasks too, and the pass wrote due-soon reminders: each is sent once.
    (message,) = [m for m in inbox.messages if case_number in m.get_content() and "新待办" in m["Subject"]]
    assert len(inbox.messages) == len(notifications_of(app_db, "jingji1")) - 1  # all but the stale one
    assert message["To"].addresses[0].addr_spec == ADDRESS
    assert message["To"].addresses[0].display_name == "王建国"
    assert message["Subject"] == "【UnionFlow】新待办：分级研判"
    body = message.get_content()
    assert case_number in body and f"https://oa.example.cn/tasks/{task_id}" in body
    sent = {n.id: n for n in notifications_of(app_db, "jingji1")}
    assert sent[old.id].emailed_at is not None and sent[old.id].email_attempts == 0
    assert sent[stale.id].emailed_at is None  # older than a day when SMTP came on: never e-mailed
    assert all(n.emailed_at is None for n in notifications_of(app_db, "jingji2"))


def test_a_refused_message_counts_attempts_gives_up_and_logs_no_address(
    app: Flask, app_db: Session, smtp: tuple[Inbox, int], caplog: pytest.LogCaptureFixture
) -> None:
    inbox, port = smtp
    triage_waiting(app_db)
    user(app_db, "jingji1").email = REFUSED
    app_db.commit()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)

    with caplog.at_level(logging.INFO):
        for _ in range(MAX_ATTEMPTS + 1):
            run_once(app)

    assert inbox.messages == []
    notifications = notifications_of(app_db, "jingji1")
    assert notifications and all(n.email_attempts == MAX_ATTEMPTS and n.emailed_at is None for n in notifications)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("workflows", "webapp")))
    assert "giving up" in ours
    assert REFUSED not in ours and "王建国" not in ours and "分级研判" not in ours


def test_an_unreachable_server_counts_nothing(app: Flask, app_db: Session, caplog: pytest.LogCaptureFixture) -> None:
    triage_waiting(app_db)
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port())  # nobody listens there

    run_once(app)

    notifications = notifications_of(app_db, "jingji1")
    assert notifications and all(n.email_attempts == 0 and n.emailed_at is None for n in notifications)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("workflows", "webapp")))
    assert "SMTP server unavailable" in ours and ADDRESS not in ours
