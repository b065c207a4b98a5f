"""Restore (issue #5): verify a backup archive (workflows.backup) and load it into an empty database in ONE transaction.

Refused: an archive whose files do not match the manifest's SHA-256, a schema revision other than the database's and
the program's, and any database with a row in any table. Every row is written in one transaction, PostgreSQL's
sequences are reset, and `integrity.run_checks` runs before the commit: a crash or a refusal at any point leaves
the database as empty as it was.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError, StatementError
from sqlalchemy.orm import Session

from workflows.attachments import write_content
from workflows.backup import (
    BATCH,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    PROGRESS_EVERY,
    SHA256_PATTERN,
    BackupError,
    Progress,
    decode_value,
    file_sha256,
    head_revision,
    no_progress,
    python_type,
    tables,
)
from workflows.db import database_error_summary
from workflows.findings import Finding
from workflows.integrity import IntegrityReport, run_checks
from workflows.migrate import current_revision, upgrade_database
from workflows.models.reference import replace_token
from workflows.models.tally import DERIVED_TABLES
from workflows.plans.tally import recount_tallies

# Rebuilt by a restore rather than copied: the tallies (from the restored rows) and the reference token (a new one).
NOT_RESTORED = DERIVED_TABLES | {"reference_revision"}

# --- reading and verifying an archive ---------------------------------------------------------------------------------


class RestoreFindings(BackupError):
    """The restored data did not pass the check; nothing was committed."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__(f"恢复的数据未通过检查（{len(findings)} 个问题），已全部撤销")
        self.findings = findings


def _tampered(detail: str) -> BackupError:
    return BackupError(f"备份文件已损坏或被改动：{detail}，拒绝恢复")


def _open_archive(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BackupError(f"备份文件不存在：{path}") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise _tampered(f"不是有效的备份压缩包（{exc}）") from None


def _member_lines(archive: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    try:
        with archive.open(name) as member:
            yield from member
    except KeyError:
        raise _tampered(f"缺少文件 {name}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise _tampered(f"无法读取 {name}（{exc}）") from None


def read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except KeyError:
        raise _tampered("缺少清单 manifest.json") from None
    except (ValueError, zipfile.BadZipFile, OSError) as exc:
        raise _tampered(f"清单 manifest.json 无法读取（{exc}）") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("这不是 UnionFlow 的备份文件（清单格式不符）")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"备份格式版本 {manifest.get('format_version')} 不受本程序支持（支持 {FORMAT_VERSION}）")
    return manifest


def _check_manifest_tables(manifest: dict[str, Any]) -> list[tuple[Table, dict[str, Any]]]:
    """The archive's tables against this program's schema: the same tables with the same columns."""
    known = {table.name: table for table in tables()}
    listed = {str(entry.get("name")): entry for entry in manifest.get("tables", []) if isinstance(entry, dict)}
    if set(listed) != set(known):
        extra, missing = sorted(set(listed) - set(known)), sorted(set(known) - set(listed))
        raise BackupError(f"备份中的表与本程序的数据库结构不同（多出 {extra}，缺少 {missing}）")
    pairs = []
    for table in tables():
        entry = listed[table.name]
        columns = [column.name for column in table.columns]
        if entry.get("columns") != columns:
            raise BackupError(f"备份中表 {table.name} 的字段与本程序的数据库结构不同")
        if entry.get("file") != f"tables/{table.name}.jsonl":
            raise _tampered(f"表 {table.name} 的数据文件名不符")
        pairs.append((table, entry))
    return pairs


def verify_archive(path: str | Path, expected_sha256: str | None = None) -> dict[str, Any]:
    """Read the whole archive once and compare every file with the manifest; returns the manifest."""
    archive_path = Path(path)
    if expected_sha256 is not None and file_sha256(archive_path) != expected_sha256.strip().lower():
        raise _tampered("整个文件的 SHA-256 与给出的值不符")
    with _open_archive(archive_path) as archive:
        manifest = read_manifest(archive)
        for table, entry in _check_manifest_tables(manifest):
            digest, rows = hashlib.sha256(), 0
            for line in _member_lines(archive, entry["file"]):
                digest.update(line)
                rows += 1
            if digest.hexdigest() != entry.get("sha256"):
                raise _tampered(f"表 {table.name} 的数据文件 SHA-256 不符")
            if rows != entry.get("rows"):
                raise _tampered(f"表 {table.name} 的行数 {rows} 与清单的 {entry.get('rows')} 不符")
        for listed in manifest.get("attachments", []):
            sha = str(listed.get("sha256", ""))
            if not SHA256_PATTERN.fullmatch(sha):
                raise _tampered(f"附件名 {sha!r} 不是 SHA-256")
            try:
                data = archive.read(f"attachments/{sha}")
            except KeyError:
                raise _tampered(f"缺少附件文件 {sha}") from None
            if hashlib.sha256(data).hexdigest() != sha or len(data) != listed.get("size"):
                raise _tampered(f"附件文件 {sha} 的内容与其 SHA-256 不符")
    return manifest


# --- restore --------------------------------------------------------------------------------------------------------


def _first_nonempty_table(connection: Connection) -> str | None:
    for table in tables():
        if table.name in NOT_RESTORED:
            continue  # a new schema has its reference token already
        if connection.execute(select(text("1")).select_from(table).limit(1)).first() is not None:
            return table.name
    return None


def _ensure_schema(engine: Engine, revision: str, progress: Progress) -> None:
    """The database must be at the archive's revision, which must be this program's; an empty one is migrated."""
    head = head_revision(engine)
    if revision != head:
        raise BackupError(
            f"备份的数据库结构版本 {revision} 与本程序的版本 {head} 不同：请用备份时的程序版本恢复后再运行 init-db 升级"
        )
    current = current_revision(engine)
    if current is None:
        if inspect(engine).get_table_names():
            raise BackupError("数据库中已有表但没有结构版本记录：请换用一个空数据库")
        progress("数据库尚未建表：先迁移到最新结构 …")
        upgrade_database(engine)
        current = current_revision(engine)
    if current != revision:
        raise BackupError(f"数据库结构版本 {current} 与备份的版本 {revision} 不同：请先用 init-db 升级数据库")


def _parents_first(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a table that refers to itself (org_unit.parent_id), ordered so each parent is inserted first."""
    links = [(fk.parent.key, fk.column.key) for fk in table.foreign_keys if fk.column.table is table]
    if not links:
        return rows
    present = {(target, row[target]) for _source, target in links for row in rows}
    placed: set[tuple[str, Any]] = set()
    ordered: list[dict[str, Any]] = []
    pending = rows
    while pending:
        waiting = []
        for row in pending:
            ready = all(
                row[source] is None or (target, row[source]) in placed or (target, row[source]) not in present
                for source, target in links
            )
            if ready:
                ordered.append(row)
                placed.update((target, row[target]) for _source, target in links)
            else:
                waiting.append(row)
        if len(waiting) == len(pending):
            raise BackupError(f"表 {table.name} 的行互相引用成环，无法恢复")
        pending = waiting
    return ordered


def _decoded_rows(archive: zipfile.ZipFile, table: Table, entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    columns = list(table.columns)
    for number, line in enumerate(_member_lines(archive, entry["file"]), start=1):
        try:
            values = json.loads(line)
            if not isinstance(values, list) or len(values) != len(columns):
                raise ValueError("字段数不符")
            yield {column.key: decode_value(column, value) for column, value in zip(columns, values, strict=True)}
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise _tampered(f"表 {table.name} 第 {number} 行无法解析（{exc}）") from None


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _insert_table(
    connection: Connection, archive: zipfile.ZipFile, table: Table, entry: dict[str, Any], progress: Progress
) -> int:
    total = int(entry["rows"])
    if total == 0:
        return 0
    progress(f"恢复表 {table.name}（{total} 行）…")
    rows: Iterable[dict[str, Any]] = _decoded_rows(archive, table, entry)
    if any(fk.column.table is table for fk in table.foreign_keys):
        rows = _parents_first(table, list(rows))
    written = 0
    for chunk in _chunks(rows, BATCH):
        try:
            connection.execute(table.insert(), chunk)
        except StatementError as exc:
            # The driver's own message names the constraint; SQLAlchemy's would list the rows (personal data).
            raise BackupError(f"写入表 {table.name} 失败：{database_error_summary(exc)}") from None
        except SQLAlchemyError as exc:
            raise BackupError(f"写入表 {table.name} 失败：{type(exc).__name__}") from None
        before, written = written, written + len(chunk)
        if written // PROGRESS_EVERY > before // PROGRESS_EVERY:
            progress(f"{table.name}：已写入 {written}/{total} 行")
    return written


def _reset_sequences(connection: Connection) -> None:
    """PostgreSQL: rows were inserted with their ids, so each id sequence must continue after the largest one."""
    for table in tables():
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or python_type(keys[0]) is not int or keys[0].autoincrement is False:
            continue
        column = keys[0].name
        # Names come from this program's schema, never from the archive. An empty table restarts at 1.
        connection.execute(
            text(
                f'SELECT setval(pg_get_serial_sequence(:table, :column), COALESCE(MAX("{column}"), 1), '
                f'MAX("{column}") IS NOT NULL) FROM "{table.name}"'
            ),
            {"table": table.name, "column": column},
        )


def _lock_for_restore(connection: Connection) -> None:
    """Take the write lock first, so nothing can be written between the emptiness check and the restore."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        names = ", ".join(f'"{table.name}"' for table in tables())
        connection.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))


@dataclass
class RestoreSummary:
    revision: str
    rows: dict[str, int] = field(default_factory=dict)
    attachments: int = 0
    check: IntegrityReport | None = None

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def restore_backup(
    engine: Engine,
    path: str | Path,
    *,
    upload_dir: str | Path | None = None,
    expected_sha256: str | None = None,
    allow_findings: bool = False,
    progress: Progress = no_progress,
) -> RestoreSummary:
    """Restore the archive into an empty database, all or nothing (see the module docstring).

    The check runs inside the restoring transaction: with findings the restore is rolled back (RestoreFindings)
    unless `allow_findings`, when it commits and returns them. Attachment files are written before the check (which
    then verifies them) and the commit; they are stored under their SHA-256, so a file left by an aborted restore
    is harmless.
    """
    progress("校验备份文件 …")
    manifest = verify_archive(path, expected_sha256)
    revision = str(manifest.get("alembic_revision"))
    _ensure_schema(engine, revision, progress)
    summary = RestoreSummary(revision=revision)
    with _open_archive(Path(path)) as archive, engine.connect() as connection:
        try:
            _lock_for_restore(connection)
            occupied = _first_nonempty_table(connection)
            if occupied is not None:
                raise BackupError(
                    f"数据库不是空的（表 {occupied} 已有数据）：只能恢复到刚建表的空数据库"
                    "（新数据库上运行 init-db --schema-only，或不建表直接恢复）"
                )
            for table, entry in _check_manifest_tables(manifest):
                if table.name in NOT_RESTORED:
                    continue  # rebuilt below (archived tally ids would collide with the triggers'; a new token)
                summary.rows[table.name] = _insert_table(connection, archive, table, entry, progress)
            if connection.dialect.name == "postgresql":
                _reset_sequences(connection)
            if upload_dir is not None:
                for listed in manifest.get("attachments", []):
                    write_content(upload_dir, archive.read(f"attachments/{listed['sha256']}"))
                    summary.attachments += 1
            progress("检查恢复的数据（流程状态、任务索引、审批记录、审计链、附件文件）…")
            with Session(bind=connection, autoflush=False) as session:
                # The dashboard's tallies are derived (issue #9): rebuilt from the restored cases and task rows.
                recount_tallies(session)
                # Restored rows bypassed the ORM: what a server cached of the units and plans is stale.
                replace_token(connection)
                # With an upload folder the files are checked too: an archive made without them fails here.
                summary.check = run_checks(session, upload_dir=upload_dir)
            if summary.check.findings and not allow_findings:
                raise RestoreFindings(summary.check.findings)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
    return summary
