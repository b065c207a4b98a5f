"""`flask --app webapp check`, `backup FILE` and `restore FILE` (issue #5: crash safety, backup and restore).

The logic lives in workflows.integrity, workflows.backup and workflows.restore; these commands only print.
Findings go to stdout, one line each, so scripts can read them; progress and refusals go to stderr. Exit code 0
when all is well, 1 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from webapp.database import engine
from workflows.backup import BackupError, write_backup
from workflows.integrity import run_checks, snapshot
from workflows.migrate import current_revision
from workflows.restore import RestoreFindings, restore_backup


def _progress(message: str) -> None:
    click.echo(message, err=True)


@click.command("check")
@with_appcontext
@click.option("--no-files", is_flag=True, help="不检查附件文件是否都在上传目录中")
def check_command(no_files: bool) -> None:
    """Prove the database is consistent: engine states, task index, timers, approval steps, audit chain."""
    if current_revision(engine(current_app)) is None:
        click.echo("检查未通过：数据库尚未建表（没有结构版本），请先运行 init-db 或 restore", err=True)
        sys.exit(1)
    upload_dir = None if no_files else current_app.config["UPLOAD_DIR"]
    with snapshot(engine(current_app)) as session:
        report = run_checks(session, upload_dir=upload_dir)
    if report.ok:
        click.echo(report.summary())
        return
    for finding in report.findings:
        click.echo(finding.line())
    click.echo(f"检查未通过：发现 {len(report.findings)} 个问题", err=True)
    sys.exit(1)


@click.command("backup")
@with_appcontext
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--attachments/--no-attachments", default=True, help="是否同时备份上传目录中的附件文件（默认备份）")
def backup_command(file: Path, attachments: bool) -> None:
    """Write a portable archive of the whole database (and its attachment files) to FILE."""
    if file.exists():
        click.echo(f"错误：文件已存在：{file}（不会覆盖已有备份）", err=True)
        sys.exit(1)
    upload_dir = current_app.config["UPLOAD_DIR"] if attachments else None
    try:
        summary = write_backup(engine(current_app), file, upload_dir=upload_dir, progress=_progress)
    except BackupError as exc:
        click.echo(f"备份失败：{exc}", err=True)
        sys.exit(1)
    click.echo(
        f"备份完成：{file}，{len(summary.rows)} 张表共 {summary.total_rows} 行，附件 {summary.attachments} 个，"
        f"结构版本 {summary.revision}"
    )
    click.echo(f"SHA-256：{summary.sha256}（请另行保存，恢复时可用 --sha256 核对）")


@click.command("restore")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sha256", "expected_sha256", default=None, help="备份完成时显示的整个文件的 SHA-256，用于核对")
@click.option("--attachments/--no-attachments", default=True, help="是否恢复备份中的附件文件（默认恢复）")
@click.option("--allow-findings", is_flag=True, help="恢复的数据未通过检查时仍然提交（问题照常列出）")
def restore_command(file: Path, expected_sha256: str | None, attachments: bool, allow_findings: bool) -> None:
    """Restore FILE into an empty database in one transaction, then check it and verify the audit chain."""
    upload_dir = current_app.config["UPLOAD_DIR"] if attachments else None
    try:
        summary = restore_backup(
            engine(current_app),
            file,
            upload_dir=upload_dir,
            expected_sha256=expected_sha256,
            allow_findings=allow_findings,
            progress=_progress,
        )
    except RestoreFindings as exc:
        for finding in exc.findings:
            click.echo(finding.line())
        click.echo(f"恢复失败：{exc}", err=True)
        sys.exit(1)
    except BackupError as exc:
        click.echo(f"恢复失败：{exc}", err=True)
        sys.exit(1)
    click.echo(f"恢复完成：{len(summary.rows)} 张表共 {summary.total_rows} 行，附件 {summary.attachments} 个")
    check = summary.check
    if check is not None and check.ok:
        click.echo(check.summary())
    elif check is not None:
        for finding in check.findings:
            click.echo(finding.line())
        click.echo(f"已按 --allow-findings 提交，但恢复的数据有 {len(check.findings)} 个问题", err=True)
        sys.exit(1)


COMMANDS = (check_command, backup_command, restore_command)
