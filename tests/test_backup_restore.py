"""`flask --app webapp backup FILE` and `restore FILE` (issue #5, privacy and records).

A backup of the demo database with worked cases and an attachment restores into an empty database with every row,
value and file intact, and the restored database passes verify-audit and check and keeps working. Restore refuses
a database with rows, another schema revision and a tampered archive, and a restore whose data fails the check
leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from tests.test_check_command import work_cases
from tests.workflow_helpers import complete, open_steps, user
from webapp import create_app
from webapp.database import engine, session_factory
from workflows.attachments import UploadPolicy, attachment_path, store_attachment
from workflows.backup import MANIFEST
from workflows.db import Base
from workflows.migrate import current_revision, upgrade_database
from workflows.models import ApprovalStep, AuditEvent, HazardReport, ProcessInstance, User
from workflows.restore import NOT_RESTORED

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 40  # the upload check sniffs the signature only


def run(app: Flask, *args: str) -> Result:
    # `flask` pushes an app context before running a command; the test runner leaves that to the caller.
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


# The dashboard's tallies are derived and append-only: a restore rebuilds them folded, one row per key, so their
# row counts differ from the source's; `flask check` (run after each restore) holds them equal to a recount. The
# reference token is not restored either: the restore replaces it (workflows.restore.NOT_RESTORED).


def row_counts(db: Engine) -> dict[str, int]:
    with db.connect() as connection:
        return {
            table.name: connection.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
            if table.name not in NOT_RESTORED
        }


@pytest.fixture
def target(fresh_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app over a new, empty database (no tables yet) with its own upload folder."""
    application = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": fresh_database_url,
            "SECRET_KEY": "test",
            "UPLOAD_DIR": str(tmp_path / "restored-files"),
        }
    )
    yield application
    engine(application).dispose()


@pytest.fixture
def archive(app: Flask, app_db: Session, tmp_path: Path) -> Path:
    """A backup of the demo database plus two worked cases and a photo on one of them."""
    worked = work_cases(app_db)
    store_attachment(
        app_db,
        app.config["UPLOAD_DIR"],
        worked.waiting.id,
        None,
        filename="现场照片.png",
        data=PNG,
        uploaded_by_id=user(app_db, "ganjingzi1").id,
        policy=UploadPolicy(max_bytes=1024, allowed_types=frozenset({"image/png"})),
    )
    app_db.commit()
    path = tmp_path / "backup.zip"
    result = run(app, "backup", str(path))
    assert result.exit_code == 0, result.output
    assert f"备份完成：{path}" in result.output and "附件 1 个" in result.output
    return path


def test_the_archive_is_readable_by_its_owner_only(archive: Path) -> None:
    # It holds every identity, card and mobile number in full.
    assert archive.stat().st_mode & 0o777 == 0o600


def assert_empty(db: Engine) -> None:
    assert set(row_counts(db).values()) == {0}


def test_a_backup_restores_into_an_empty_database_with_every_row_value_and_file(
    app: Flask, app_db: Session, archive: Path, target: Flask
) -> None:
    assert run(target, "init-db", "--schema-only").exit_code == 0
    assert_empty(engine(target))

    restored = run(target, "restore", str(archive))

    assert restored.exit_code == 0, restored.output
    assert "恢复完成" in restored.output and "检查通过：5 个案件" in restored.output
    source_counts, target_counts = row_counts(engine(app)), row_counts(engine(target))
    assert target_counts == source_counts and source_counts["approval_step"] > 0
    assert current_revision(engine(target)) == current_revision(engine(app))
    verified = run(target, "verify-audit")
    assert verified.exit_code == 0 and f"审计链完整：{source_counts['audit_event']} 条事件" in verified.output
    checked = run(target, "check")
    assert checked.exit_code == 0, checked.output

    # Typed values survive: Decimal money, dates, aware timestamps, JSON, and the attachment's bytes.
    with session_factory(target)() as copy:
        report = copy.scalar(select(HazardReport).where(HazardReport.reward_amount.is_not(None)))
        assert report is not None and report.reward_amount == Decimal("300.00")
        assert str(report.reward_paid_on) == "2026-12-02" and report.reward_card_number == "6228480040000123451"
        original = app_db.scalars(select(ApprovalStep).order_by(ApprovalStep.id)).all()
        copied = copy.scalars(select(ApprovalStep).order_by(ApprovalStep.id)).all()
        assert [(s.id, s.data, s.data_hash, s.completed_at) for s in copied] == [
            (s.id, s.data, s.data_hash, s.completed_at) for s in original
        ]
        assert all(s.completed_at.tzinfo is not None for s in copied)
    stored = app_db.scalars(select(AuditEvent.hash).order_by(AuditEvent.id)).all()
    with session_factory(target)() as copy:
        assert copy.scalars(select(AuditEvent.hash).order_by(AuditEvent.id)).all() == stored
    photo = attachment_path(target.config["UPLOAD_DIR"], hashlib.sha256(PNG).hexdigest())
    assert photo.read_bytes() == PNG

    # The restored database keeps working: new rows get fresh ids (sequences reset), cases move on.
    with session_factory(target)() as copy:
        highest_user_id = copy.scalar(select(func.max(User.id))) or 0
    created = run(target, "create-user", "restored1", "--password", "restored-pass-1", "--org-unit", "210211")
    assert created.exit_code == 0, created.output
    with session_factory(target)() as copy:
        assert user(copy, "restored1").id == highest_user_id + 1
        waiting = copy.scalars(select(ProcessInstance).order_by(ProcessInstance.id.desc())).first()
        assert waiting is not None and open_steps(copy, waiting) == ["enterprise_reply"]
        complete(
            copy,
            "ganjingzi1",
            waiting,
            "enterprise_reply",
            {"reply_date": "2026-11-28", "measures": "已更换配电箱门并加锁。"},
        )
        copy.commit()
        assert open_steps(copy, waiting) == ["reinspect"]
    assert run(target, "check").exit_code == 0


def test_restore_migrates_a_database_without_tables_first(archive: Path, target: Flask) -> None:
    restored = run(target, "restore", str(archive))

    assert restored.exit_code == 0, restored.output
    assert "数据库尚未建表：先迁移到最新结构" in restored.output
    assert row_counts(engine(target))["process_instance"] == 5


def test_an_archive_without_its_files_does_not_restore_into_an_upload_folder(
    app: Flask, archive: Path, target: Flask, tmp_path: Path
) -> None:
    bare = tmp_path / "bare.zip"
    assert run(app, "backup", "--no-attachments", str(bare)).exit_code == 0

    refused = run(target, "restore", str(bare))

    assert refused.exit_code == 1, refused.output
    assert "附件 #1（现场照片.png）：文件缺失" in refused.output and "已全部撤销" in refused.output
    assert_empty(engine(target))
    # Restoring the rows alone is possible when the operator says so.
    assert run(target, "restore", "--no-attachments", str(bare)).exit_code == 0


def test_restore_refuses_a_database_that_has_rows(archive: Path, target: Flask) -> None:
    assert run(target, "init-db").exit_code == 0  # loads policy parameters and deploys the processes
    before = row_counts(engine(target))
    assert before["policy_parameter"] > 0

    refused = run(target, "restore", str(archive))

    assert refused.exit_code == 1
    assert "恢复失败：数据库不是空的（表" in refused.output and "只能恢复到刚建表的空数据库" in refused.output
    assert row_counts(engine(target)) == before


def rewrite(archive: Path, change: Callable[[str, bytes], bytes]) -> None:
    """Rewrite the zip with every member passed through `change(name, data)`."""
    members = {}
    with zipfile.ZipFile(archive) as original:
        for name in original.namelist():
            members[name] = change(name, original.read(name))
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as changed:
        for name, data in members.items():
            changed.writestr(name, data)


def edit_manifest(archive: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    def change(name: str, data: bytes) -> bytes:
        if name != MANIFEST:
            return data
        manifest = json.loads(data)
        edit(manifest)
        return json.dumps(manifest).encode()

    rewrite(archive, change)


def _raise_reward(name: str, data: bytes) -> bytes:
    return data.replace(b'"300.00"', b'"30000.00"') if name == "tables/hazard_report.jsonl" else data


def _drop_last_event(name: str, data: bytes) -> bytes:
    return b"".join(data.splitlines(keepends=True)[:-1]) if name == "tables/audit_event.jsonl" else data


def _swap_photo(name: str, data: bytes) -> bytes:
    return PNG + b"edited" if name.startswith("attachments/") else data


def _fewer_rows(manifest: dict[str, Any]) -> None:
    for table in manifest["tables"]:
        if table["name"] == "user_account":
            table["rows"] -= 1


TAMPERING: dict[str, Callable[[Path], None]] = {
    "a value edited": lambda path: rewrite(path, _raise_reward),
    "a row removed": lambda path: rewrite(path, _drop_last_event),
    "an attachment replaced": lambda path: rewrite(path, _swap_photo),
    "a row count edited": lambda path: edit_manifest(path, _fewer_rows),
    "cut short": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
}


@pytest.mark.parametrize("tamper", TAMPERING.values(), ids=TAMPERING.keys())
def test_restore_refuses_a_tampered_archive(archive: Path, target: Flask, tamper: Callable[[Path], None]) -> None:
    tamper(archive)

    refused = run(target, "restore", str(archive))

    assert refused.exit_code == 1
    assert "恢复失败：备份文件已损坏或被改动" in refused.output and "拒绝恢复" in refused.output
    assert current_revision(engine(target)) is None  # refused before the database was even touched


def test_restore_checks_the_whole_file_against_a_digest_kept_elsewhere(
    app: Flask, archive: Path, target: Flask
) -> None:
    wrong = run(target, "restore", str(archive), "--sha256", "0" * 64)
    assert wrong.exit_code == 1 and "整个文件的 SHA-256 与给出的值不符" in wrong.output

    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    right = run(target, "restore", str(archive), "--sha256", digest)
    assert right.exit_code == 0, right.output


def test_restore_refuses_another_schema_revision(archive: Path, target: Flask) -> None:
    def older(manifest: dict[str, Any]) -> None:
        manifest["alembic_revision"] = "0002"

    edit_manifest(archive, older)
    refused = run(target, "restore", str(archive))
    assert refused.exit_code == 1
    assert "备份的数据库结构版本 0002 与本程序的版本" in refused.output


def test_restore_refuses_a_database_at_another_revision(archive: Path, target: Flask) -> None:
    upgrade_database(engine(target), "0002")

    refused = run(target, "restore", str(archive))

    assert refused.exit_code == 1
    assert "数据库结构版本 0002 与备份的版本" in refused.output


def test_a_restore_whose_data_fails_the_check_leaves_the_database_empty(
    app: Flask, app_db: Session, tmp_path: Path, target: Flask
) -> None:
    # The source itself is broken (an audit event edited), so its archive is faithful but not consistent.
    app_db.execute(text("UPDATE audit_event SET actor_id = NULL WHERE id = 2"))
    app_db.commit()
    path = tmp_path / "broken.zip"
    assert run(app, "backup", str(path)).exit_code == 0

    refused = run(target, "restore", str(path))

    assert refused.exit_code == 1
    assert "[audit] 审计事件 #2：审计链在此断开" in refused.output
    assert "恢复失败：恢复的数据未通过检查（1 个问题），已全部撤销" in refused.output
    assert_empty(engine(target))

    forced = run(target, "restore", str(path), "--allow-findings")
    assert forced.exit_code == 1 and "已按 --allow-findings 提交" in forced.output
    assert row_counts(engine(target)) == row_counts(engine(app))


def test_backup_never_overwrites_a_file(app: Flask, tmp_path: Path) -> None:
    existing = tmp_path / "kept.zip"
    existing.write_bytes(b"an older backup")

    refused = run(app, "backup", str(existing))

    assert refused.exit_code == 1 and "文件已存在" in refused.output
    assert existing.read_bytes() == b"an older backup"
