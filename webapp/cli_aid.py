"""`flask --app webapp import-aid-list YEAR FILE --user USERNAME`: the province imports a year's draft aid list.

Every problem goes to stderr, one line each naming the row and the column; nothing is imported then (exit 1).
A good file prints the split by city (exit 0). Issue #6's web page uses the same operation.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from webapp.database import session_factory
from workflows.aid.importing import city_split, import_aid_list
from workflows.aid.validation import ListRejected
from workflows.errors import OperationRefused, PermissionDenied
from workflows.models import User


@click.command("import-aid-list")
@with_appcontext
@click.argument("year", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "username", required=True, help="导入人（省总工会生活保障部）的用户名")
def import_aid_list_command(year: int, file: Path, username: str) -> None:
    """Import the year's draft hardship-aid list (.xlsx or .csv): all rows or none."""
    with session_factory(current_app)() as session:
        try:
            with session.begin():
                user = session.scalar(select(User).where(User.username == username))
                if user is None:
                    raise OperationRefused(f"用户 {username} 不存在")
                aid_import = import_aid_list(session, user, year, file.read_bytes(), file.name)
                split = city_split(session, year)
        except ListRejected as rejected:
            for problem in rejected.problems:
                click.echo(str(problem), err=True)
            click.echo(f"导入失败：{len(rejected.problems)} 个问题，未导入任何数据", err=True)
            sys.exit(1)
        except (OperationRefused, PermissionDenied) as refused:
            click.echo(f"导入失败：{refused}", err=True)
            sys.exit(1)
    click.echo(f"已导入 {year} 年度援助名单：{aid_import.row_count} 人")
    for city, count in split:
        click.echo(f"  {city.name}：{count} 人")
