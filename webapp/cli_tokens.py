"""`flask --app webapp create-token USERNAME` and `revoke-tokens USERNAME` (issue #3 §5).

create-token prints the token alone on stdout, so scripts can capture it (`TOKEN=$(flask --app webapp create-token
jingji1)`); anything meant for a person goes to stderr.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.database import session_factory
from workflows.models import User
from workflows.tokens import DEFAULT_TOKEN_DAYS, TokenError, create_token, revoke_user_tokens


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        click.echo(f"错误：用户不存在：{username}", err=True)
        sys.exit(1)
    return user


@click.command("create-token")
@with_appcontext
@click.argument("username")
@click.option("--label", default="", help="令牌用途说明，如 “省总人事数据对接”")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help=f"有效天数（默认取配置 API_TOKEN_DAYS，未配置时为 {DEFAULT_TOKEN_DAYS} 天）",
)
def create_token_command(username: str, label: str, days: int | None) -> None:
    """Create an API token for USERNAME and print it (it is shown only this once)."""
    valid_days = days if days is not None else int(current_app.config.get("API_TOKEN_DAYS", DEFAULT_TOKEN_DAYS))
    try:
        with session_factory(current_app)() as session, session.begin():
            token = create_token(session, _user(session, username), label, timedelta(days=valid_days))
    except TokenError as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(1)
    click.echo(token)
    click.echo(f"已为 {username} 创建 API 令牌，有效期 {valid_days} 天；令牌只显示这一次。", err=True)


@click.command("revoke-tokens")
@with_appcontext
@click.argument("username")
def revoke_tokens_command(username: str) -> None:
    """Revoke every API token of USERNAME."""
    with session_factory(current_app)() as session, session.begin():
        count = revoke_user_tokens(session, _user(session, username))
    click.echo(f"已吊销 {username} 的 API 令牌 {count} 个")
