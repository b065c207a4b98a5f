"""Files attached to a case or one of its steps; the bytes live outside the database (issue #3 §2, §4)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base, utcnow


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    # The engine task the file belongs to; None for a file attached to the case as a whole (e.g. a public report).
    task_id: Mapped[str | None] = mapped_column(String(36))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    # Content address: the file is stored under its SHA-256, which the approval record prints.
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # None when the file came from the public report page (workers have no accounts).
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
