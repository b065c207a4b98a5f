"""API tokens (workflows.tokens) and the create-token / revoke-tokens commands (webapp.cli_tokens)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tests.workflow_helpers import user
from webapp.cli_tokens import create_token_command, revoke_tokens_command
from workflows.db import utcnow
from workflows.models import ApiToken, Role
from workflows.tokens import (
    DEFAULT_TOKEN_DAYS,
    LAST_USED_RESOLUTION,
    TokenError,
    create_token,
    revoke_token,
    revoke_user_tokens,
    user_for_token,
)

# --- workflows.tokens ----------------------------------------------------------------------------------------


def test_a_token_identifies_its_user_and_only_its_hash_is_stored(world: Session) -> None:
    official = user(world, "jingji1")
    token = create_token(world, official, "省总人事数据对接")

    assert token.startswith("uf_") and len(token) > 40
    assert user_for_token(world, token, utcnow()) is official
    record = world.scalar(select(ApiToken).where(ApiToken.user_id == official.id))
    assert record is not None
    assert record.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert record.label == "省总人事数据对接"
    assert record.expires_at is not None
    assert abs(record.expires_at - utcnow() - timedelta(days=DEFAULT_TOKEN_DAYS)) < timedelta(minutes=1)
    # Nowhere in the row, whatever the column, is the token itself.
    row = world.execute(text("SELECT * FROM api_token WHERE id = :id"), {"id": record.id}).one()
    assert all(token not in str(value) for value in row)


def test_two_tokens_of_one_user_differ(world: Session) -> None:
    official = user(world, "jingji1")
    assert create_token(world, official) != create_token(world, official)


def test_unknown_and_malformed_tokens_identify_nobody(world: Session) -> None:
    create_token(world, user(world, "jingji1"))
    now = utcnow()
    assert user_for_token(world, "uf_" + "A" * 43, now) is None
    assert user_for_token(world, "", now) is None
    assert user_for_token(world, "not-even-our-format", now) is None


def test_an_expired_token_is_refused(world: Session) -> None:
    issued = utcnow() - timedelta(days=3)
    token = create_token(world, user(world, "jingji1"), expires_in=timedelta(days=2), now=issued)
    assert user_for_token(world, token, issued + timedelta(days=1)) is not None
    assert user_for_token(world, token, utcnow()) is None


def test_a_revoked_token_is_refused(world: Session) -> None:
    token = create_token(world, user(world, "jingji1"))
    assert revoke_token(world, token) is True
    assert revoke_token(world, token) is False  # already revoked
    assert user_for_token(world, token, utcnow()) is None


def test_revoking_a_users_tokens_leaves_other_users_tokens_working(world: Session) -> None:
    first, second = create_token(world, user(world, "jingji1")), create_token(world, user(world, "jingji1"))
    other = create_token(world, user(world, "caiwu1"))
    assert revoke_user_tokens(world, user(world, "jingji1")) == 2
    assert user_for_token(world, first, utcnow()) is None and user_for_token(world, second, utcnow()) is None
    assert user_for_token(world, other, utcnow()) is not None


def test_tokens_of_deactivated_or_service_accounts_are_refused(world: Session) -> None:
    official, colleague = user(world, "jingji1"), user(world, "jingji2")
    official_token, colleague_token = create_token(world, official), create_token(world, colleague)
    official.active = False
    colleague.role = Role.SERVICE.value
    world.flush()
    assert user_for_token(world, official_token, utcnow()) is None
    assert user_for_token(world, colleague_token, utcnow()) is None
    with pytest.raises(TokenError):
        create_token(world, official)
    with pytest.raises(TokenError):
        create_token(world, colleague)


def test_last_use_is_recorded_at_most_once_per_resolution(world: Session) -> None:
    token = create_token(world, user(world, "jingji1"))
    record = world.scalar(select(ApiToken))
    assert record is not None and record.last_used_at is None
    first = utcnow()
    user_for_token(world, token, first)
    assert record.last_used_at == first
    user_for_token(world, token, first + LAST_USED_RESOLUTION / 2)
    assert record.last_used_at == first
    later = first + LAST_USED_RESOLUTION
    user_for_token(world, token, later)
    assert record.last_used_at == later


def test_a_token_must_have_a_positive_lifetime(world: Session) -> None:
    with pytest.raises(TokenError):
        create_token(world, user(world, "jingji1"), expires_in=timedelta(0))


# --- the commands ----------------------------------------------------------------------------------------------


def test_create_token_prints_only_a_working_token(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient, app_db: Session
) -> None:
    result = runner.invoke(create_token_command, ["jingji1", "--label", "脚本"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    token = lines[0]
    assert token.startswith("uf_") and " " not in token
    answer = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    stored = app_db.scalar(select(ApiToken))
    assert stored is not None and stored.label == "脚本" and stored.token_hash != token
    assert stored.expires_at is not None
    assert abs(stored.expires_at - utcnow() - timedelta(days=DEFAULT_TOKEN_DAYS)) < timedelta(minutes=1)
    assert stored.last_used_at is not None  # the request above used it


def test_create_token_days_option_and_configured_default(app: Flask, runner: FlaskCliRunner, app_db: Session) -> None:
    assert runner.invoke(create_token_command, ["jingji1", "--days", "7"]).exit_code == 0
    app.config["API_TOKEN_DAYS"] = 30
    assert runner.invoke(create_token_command, ["jingji2"]).exit_code == 0
    lifetimes = {
        record.user.username: record.expires_at - record.created_at
        for record in app_db.scalars(select(ApiToken))
        if record.expires_at is not None
    }
    assert lifetimes == {"jingji1": timedelta(days=7), "jingji2": timedelta(days=30)}
    assert runner.invoke(create_token_command, ["jingji1", "--days", "0"]).exit_code != 0


def test_create_token_for_an_unknown_user_fails_and_prints_no_token(runner: FlaskCliRunner, app_db: Session) -> None:
    result = runner.invoke(create_token_command, ["nobody"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "nobody" in result.stderr
    assert app_db.scalar(select(ApiToken)) is None


def test_revoke_tokens_command_stops_the_users_tokens(runner: FlaskCliRunner, client: FlaskClient) -> None:
    token = runner.invoke(create_token_command, ["jingji1"]).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/processes", headers=headers).status_code == 200

    result = runner.invoke(revoke_tokens_command, ["jingji1"])

    assert result.exit_code == 0 and "1" in result.stdout
    assert client.get("/api/v1/processes", headers=headers).status_code == 401
