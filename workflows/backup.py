"""Backup and restore (issue #5, privacy and records): a portable archive of every table, restored in one transaction.

The archive is a zip file:

- `manifest.json`: format and version, the Alembic revision of the schema, the database dialect it came from, and
  per table its columns, row count and the SHA-256 of its data file; per attachment its SHA-256 and size;
- `tables/<table>.jsonl`: one JSON array per row, values in the manifest's column order, tables in foreign-key
  order. Values are typed by their column, not by the database: Decimal as its exact string, dates and
  timezone-aware timestamps in ISO 8601, bytes in base64, JSON columns as JSON. So an archive written from SQLite
  restores into PostgreSQL and back;
- `attachments/<sha256>`: the files of the upload folder that attachment rows name (optional).

Restore refuses an archive whose files do not match the manifest's SHA-256 (damage or editing), a schema revision
other than the database's and the program's, and any database with a row in any table. It writes every row in ONE
transaction, resets PostgreSQL's sequences, and runs `integrity.run_checks` (with the audit chain) before it
commits: a crash or a refusal at any point leaves the database as empty as it was. The manifest's hashes protect
against accidental damage, not against a forger who rewrites the manifest too; the audit chain and the check catch
edits of audited rows, and `restore --sha256` compares the whole file with a digest kept elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import JSON, Column, Connection, Engine, Table, select
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from workflows.attachments import attachment_path
from workflows.db import Base
from workflows.integrity import snapshot
from workflows.migrate import alembic_config, current_revision
from workflows.models import Attachment

FORMAT = "unionflow-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# Rows per INSERT batch, and how often a long table reports progress.
BATCH = 1000
PROGRESS_EVERY = 10_000
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")

Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore refused, with a Chinese message naming what is wrong."""


@dataclass
class BackupSummary:
    path: Path
    revision: str
    rows: dict[str, int] = field(default_factory=dict)
    attachments: int = 0
    sha256: str = ""

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def no_progress(_message: str) -> None:
    pass


def tables() -> list[Table]:
    """Every table of the schema, parents before children (foreign-key order)."""
    return list(Base.metadata.sorted_tables)


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


# --- values ---------------------------------------------------------------------------------------------------------


def python_type(column: Column[Any]) -> type | None:
    kind = column.type
    # A TypeDecorator (AwareDateTime) names no Python type of its own: its underlying type does.
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    try:
        python_type: type = kind.python_type
    except NotImplementedError:
        return None
    return python_type


def encode_value(column: Column[Any], value: Any) -> Any:
    """A column value as plain JSON, independent of the database it was read from."""
    if value is None or isinstance(column.type, JSON):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def decode_value(column: Column[Any], value: Any) -> Any:
    """The inverse of `encode_value`, by the column's Python type."""
    if value is None or isinstance(column.type, JSON):
        return value
    kind = python_type(column)
    if kind is datetime:
        moment = datetime.fromisoformat(value)
        # A zone-less timestamp column stays zone-less; an aware one comes back aware (UTC).
        return moment.astimezone(UTC) if moment.tzinfo is not None else moment
    if kind is date:
        return date.fromisoformat(value)
    if kind is Decimal:
        return Decimal(value)
    if kind is bytes:
        return base64.b64decode(value)
    if kind is float:
        return float(value)
    return value


# --- backup ---------------------------------------------------------------------------------------------------------


class _HashingWriter:
    """Hashes what goes into one zip member, so the manifest can name it."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.sha256.update(data)
        self._target.write(data)


def _dump_table(connection: Connection, table: Table, archive: zipfile.ZipFile) -> dict[str, Any]:
    columns = list(table.columns)
    name = f"tables/{table.name}.jsonl"
    rows = 0
    with archive.open(name, "w", force_zip64=True) as member:
        writer = _HashingWriter(member)
        query = select(table).order_by(*table.primary_key.columns).execution_options(yield_per=BATCH)
        for row in connection.execute(query):
            values = [encode_value(column, value) for column, value in zip(columns, row, strict=True)]
            line = json.dumps(values, ensure_ascii=False, separators=(",", ":")) + "\n"
            writer.write(line.encode("utf-8"))
            rows += 1
    return {
        "name": table.name,
        "file": name,
        "columns": [column.name for column in columns],
        "rows": rows,
        "sha256": writer.sha256.hexdigest(),
    }


def _dump_attachments(session: Session, upload_dir: str | Path, archive: zipfile.ZipFile) -> list[dict[str, Any]]:
    hashes = sorted(set(session.scalars(select(Attachment.sha256))))
    missing = [sha for sha in hashes if not attachment_path(upload_dir, sha).is_file()]
    if missing:
        raise BackupError(
            f"附件文件缺失 {len(missing)} 个（如 {missing[0]}）："
            "请先运行 check 查明原因，或用 --no-attachments 只备份数据库"
        )
    listed = []
    for sha in hashes:
        data = attachment_path(upload_dir, sha).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            raise BackupError(f"附件文件 {sha} 的内容与其 SHA-256 不符：请先运行 check 查明原因")
        # Photos and PDFs are compressed already.
        archive.writestr(f"attachments/{sha}", data, compress_type=zipfile.ZIP_STORED)
        listed.append({"sha256": sha, "size": len(data)})
    return listed


def write_backup(
    engine: Engine,
    path: str | Path,
    *,
    upload_dir: str | Path | None = None,
    progress: Progress = no_progress,
) -> BackupSummary:
    """Write the archive of the whole database (and the attachments named by it, if `upload_dir` is given).

    Everything is read in one snapshot, so a backup taken while the server runs is consistent. The archive is
    written under a temporary name and renamed when complete: a crash never leaves a plausible partial archive.
    """
    target = Path(path)
    revision = current_revision(engine)
    if revision is None:
        raise BackupError("数据库尚未建表（没有结构版本），无可备份的数据")
    summary = BackupSummary(path=target, revision=revision)
    temporary = target.with_name(target.name + ".partial")
    temporary.unlink(missing_ok=True)  # left by a backup that crashed
    try:
        # Readable by the owner only: the archive holds every identity, card and mobile number in full.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with (
            snapshot(engine) as session,
            os.fdopen(descriptor, "wb") as file,
            zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as archive,
        ):
            connection = session.connection()
            listed_tables = []
            for table in tables():
                progress(f"备份表 {table.name} …")
                entry = _dump_table(connection, table, archive)
                listed_tables.append(entry)
                summary.rows[table.name] = entry["rows"]
            listed_attachments = _dump_attachments(session, upload_dir, archive) if upload_dir is not None else []
            summary.attachments = len(listed_attachments)
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "alembic_revision": revision,
                "dialect": engine.dialect.name,
                "created_at": datetime.now(UTC).isoformat(),
                "tables": listed_tables,
                "attachments": listed_attachments,
            }
            archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
        summary.sha256 = file_sha256(temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return summary


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
