"""E-mail for notifications (issue #8 §Notifications): optional, off unless an SMTP server is configured.

An outbox: the scheduler pass sends notifications not yet e-mailed whose recipient has an address, each marked
`emailed_at` in its own short transaction once the server accepted it. Only notifications of the last day are
sent, so switching SMTP on later does not flood people with old news. A message the server refuses counts an
attempt (given up after MAX_ATTEMPTS); a server that cannot be reached counts nothing and is tried on the next
pass. Logs name the notification id and the error class only: never an address, a name or a body.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from workflows.db import utcnow
from workflows.models import Notification, User

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# Configurable defaults, not rules: how far back a pass looks, and how many notifications it reads at a time.
RECENT = timedelta(days=1)
BATCH_SIZE = 50
SUBJECT_PREFIX = "【UnionFlow】"


@dataclass(frozen=True)
class MailSettings:
    """The SMTP server; an empty host means e-mail is off (the default)."""

    host: str = ""
    port: int = 25
    user: str = ""
    password: str = ""
    sender: str = ""
    starttls: bool = False
    timeout: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    @property
    def from_address(self) -> str:
        return self.sender or (self.user if "@" in self.user else "unionflow@localhost")


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def settings_from(config: Mapping[str, Any]) -> MailSettings:
    """The settings from the application's SMTP_* configuration (webapp.create_app reads the environment)."""
    return MailSettings(
        host=str(config.get("SMTP_HOST") or "").strip(),
        port=int(config.get("SMTP_PORT") or 25),
        user=str(config.get("SMTP_USER") or ""),
        password=str(config.get("SMTP_PASSWORD") or ""),
        sender=str(config.get("SMTP_FROM") or ""),
        starttls=_flag(config.get("SMTP_STARTTLS")),
    )


# What the web layer gives: the link of a notification (a full URL, or a path when no base URL is configured).
LinkBuilder = Callable[[Session, Notification], str]


def compose(settings: MailSettings, notification: Notification, recipient: User, link: str) -> EmailMessage:
    """The message: the title (which names the kind, e.g. 新待办：分级研判) as subject, the body and the link."""
    message = EmailMessage()
    message["Subject"] = f"{SUBJECT_PREFIX}{notification.title}"
    message["From"] = settings.from_address
    message["To"] = Address(recipient.display_name, addr_spec=recipient.email or "")
    lines = [
        f"{recipient.display_name}，您好：",
        "",
        notification.title,
        *([notification.body] if notification.body else []),
        "",
        f"查看：{link}",
        "",
        "此邮件由 UnionFlow 工会业务流程系统自动发送，请勿直接回复。",
    ]
    message.set_content("\n".join(lines))
    return message


def pending_ids(session: Session, now: datetime, limit: int = BATCH_SIZE, after: int = 0) -> list[int]:
    """Notifications to e-mail: not sent, not given up, of the last day, to an active user with an address."""
    query = (
        select(Notification.id)
        .join(User, User.id == Notification.recipient_id)
        .where(
            Notification.id > after,
            Notification.emailed_at.is_(None),
            Notification.email_attempts < MAX_ATTEMPTS,
            Notification.created_at >= now - RECENT,
            User.active.is_(True),
            User.email.is_not(None),
            User.email != "",
        )
        .order_by(Notification.id)
        .limit(limit)
    )
    return list(session.scalars(query))


class _Connection:
    """One SMTP session for a pass, opened on first use and again after a failure broke it."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def get(self) -> smtplib.SMTP:
        if self.smtp is None:
            settings = self.settings
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
            try:
                if settings.starttls:
                    smtp.starttls()
                if settings.user:
                    smtp.login(settings.user, settings.password)
            except BaseException:
                smtp.close()
                raise
            self.smtp = smtp
        return self.smtp

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except OSError:
                self.smtp.close()
            self.smtp = None


def _locked(session: Session, notification_id: int) -> Notification | None:
    """The notification, still unsent, locked so that a second scheduler skips it instead of sending it again."""
    lock: dict[str, Any] = {"skip_locked": True} if session.get_bind().dialect.name == "postgresql" else {}
    return session.scalar(
        select(Notification)
        .where(Notification.id == notification_id, Notification.emailed_at.is_(None))
        .with_for_update(**lock)
        .execution_options(populate_existing=True)
    )


def send_pending(
    factory: sessionmaker[Any],
    settings: MailSettings,
    link_for: LinkBuilder,
    *,
    now: datetime | None = None,
    limit: int = BATCH_SIZE,
) -> int:
    """E-mail the pending notifications, read `limit` at a time, each committed on its own; returns how many were
    sent. With SMTP off, nothing (not even a query)."""
    if not settings.enabled:
        return 0
    now = now or utcnow()
    connection = _Connection(settings)
    sent = 0
    after = 0
    try:
        while True:
            with factory() as session:
                ids = pending_ids(session, now, limit, after)
            for notification_id in ids:
                outcome = _send_one(factory, settings, connection, notification_id, link_for)
                if outcome is None:
                    return sent  # the server is unavailable: the rest waits for the next pass
                sent += outcome
            if len(ids) < limit:
                return sent
            after = ids[-1]
    finally:
        connection.close()


def _send_one(
    factory: sessionmaker[Any],
    settings: MailSettings,
    connection: _Connection,
    notification_id: int,
    link_for: LinkBuilder,
) -> int | None:
    """Send one notification in its own transaction: 1 if sent, 0 if not (refused, or taken by another scheduler),
    None if the server cannot be reached (nothing is counted against the message)."""
    with factory() as session, session.begin():
        notification = _locked(session, notification_id)
        if notification is None:
            return 0  # sent meanwhile by another scheduler, or being sent by it now
        recipient = session.get(User, notification.recipient_id)
        if recipient is None or not recipient.email:
            return 0
        try:
            message = compose(settings, notification, recipient, link_for(session, notification))
        except Exception as exc:  # a message that cannot be written must not stop the outbox behind it
            notification.email_attempts += 1
            log.error("composing the e-mail of notification %s failed (%s)", notification.id, _name(exc))
            return 0
        try:
            smtp = connection.get()
        except OSError as exc:  # smtplib's errors are OSErrors too
            log.warning("SMTP server unavailable (%s); notifications are e-mailed on a later pass", _name(exc))
            return None
        try:
            smtp.send_message(message)
        except OSError as exc:
            notification.email_attempts += 1
            if not isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused):
                connection.close()  # the connection broke; a refusal (4xx/5xx) leaves it usable
            log.warning(
                "e-mailing notification %s failed (attempt %d, %s)%s",
                notification.id,
                notification.email_attempts,
                _name(exc),
                "; giving up" if notification.email_attempts >= MAX_ATTEMPTS else "",
            )
            return 0
        notification.emailed_at = utcnow()
        return 1


def _name(exc: BaseException) -> str:
    """An error by its class and SMTP code only: the messages of smtplib's errors repeat the addresses."""
    code = getattr(exc, "smtp_code", None)
    return f"{type(exc).__name__} {code}" if code else type(exc).__name__
