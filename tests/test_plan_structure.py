"""A plan's structure is read once per process and reference revision (workflows.plans.structure, issue #9 §2), and
read anew after any change to the plan or the organisation: by the changing transaction at once, by everyone else
once it commits. Pages render from the cached (detached) objects."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.conftest import AuthActions
from webapp import database as webapp_database
from workflows.models import OrgUnit, Plan, PlanItem, UnitKind
from workflows.models.reference import current_token, replace_token
from workflows.organisation import unit_by_code
from workflows.plans.structure import forget_plan_structures, plan_structure, read_plan_structure

PLAN_CODE = "dalian-2017-28"


@pytest.fixture
def engine(app: Flask) -> Iterator[Engine]:
    forget_plan_structures()
    yield webapp_database.engine(app)
    forget_plan_structures()


def the_plan(session: Session) -> Plan:
    plan = session.scalar(select(Plan).where(Plan.code == PLAN_CODE))
    assert plan is not None
    return plan


def headings(structure: Any) -> dict[int, str]:
    return {item.number: item.heading for item in structure.items}


def row_labels(structure: Any) -> set[str]:
    return {row.label for rows in structure.rows.values() for row in rows}


class Statements:
    def __init__(self, engine: Engine) -> None:
        self.sent: list[str] = []
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self.record)

    def record(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        self.sent.append(statement)

    def stop(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self.record)


def test_the_structure_is_read_once_then_served_from_the_cache(engine: Engine) -> None:
    with Session(engine) as session:
        cold = plan_structure(session, the_plan(session))
        assert cold.items and cold.rows and cold.units
        assert headings(cold) == headings(read_plan_structure(session, the_plan(session)))
    with Session(engine) as session:
        plan = the_plan(session)
        statements = Statements(engine)
        warm = plan_structure(session, plan)
        statements.stop()
    assert warm is cold
    assert len(statements.sent) == 1 and "reference_revision" in statements.sent[0]
    # Detached, with what the pages read loaded: no session is needed to read them.
    hazard_item = next(item for item in warm.items if item.number == 13)
    assert hazard_item.measure.title and [target.metric for target in hazard_item.targets][:2] == [
        "hazard_reports_verified", "hazard_rewards_paid"
    ]  # fmt: skip
    assert [link.process_key for link in hazard_item.processes] == ["hazard_report"]
    assert all(row.org_unit.name for rows in warm.rows.values() for row in rows)


def test_a_changed_item_is_read_by_its_own_transaction_at_once_and_by_others_after_commit(engine: Engine) -> None:
    with Session(engine) as session:
        before = plan_structure(session, the_plan(session))
    with Session(engine) as writer, Session(engine) as reader:
        item = writer.scalar(select(PlanItem).where(PlanItem.plan_id == the_plan(writer).id, PlanItem.number == 1))
        assert item is not None
        item.heading = "改过的事项标题"
        assert headings(plan_structure(writer, the_plan(writer)))[1] == "改过的事项标题"  # flushed, not committed
        assert plan_structure(reader, the_plan(reader)) is before  # the others still see the committed plan
        reader.rollback()
        writer.commit()
        assert headings(plan_structure(reader, the_plan(reader)))[1] == "改过的事项标题"


def test_a_target_removed_from_its_item_is_read_anew(engine: Engine) -> None:
    """Removing a child from an item's list deletes it during the flush (delete-orphan), never through
    `session.delete`: the item's changed collection replaces the token."""
    with Session(engine) as session:
        before = plan_structure(session, the_plan(session))
        token = current_token(session)
    with Session(engine) as session, session.begin():
        item = session.scalar(select(PlanItem).where(PlanItem.plan_id == the_plan(session).id, PlanItem.number == 13))
        assert item is not None and len(item.targets) == 2
        item.targets.pop()
    with Session(engine) as session:
        assert current_token(session) != token
        after = plan_structure(session, the_plan(session))
    counts = [len(item.targets) for structure in (before, after) for item in structure.items if item.number == 13]
    assert counts == [2, 1]


def test_a_renamed_district_and_a_new_grassroots_union_are_read_anew(engine: Engine) -> None:
    with Session(engine) as session:
        before = plan_structure(session, the_plan(session))
        assert "甘井子区总工会" in row_labels(before)
    with Session(engine) as session, session.begin():
        district = unit_by_code(session, "210211")
        district.name = "甘井子区总工会（新）"
        grassroots = OrgUnit(code="210211-NEW", name="新建基层工会", kind=UnitKind.GRASSROOTS.value,
                             parent_id=district.id, path="/")  # fmt: skip
        session.add(grassroots)
        session.flush()
        grassroots.path = f"{district.path}{grassroots.id}/"
    with Session(engine) as session:
        after = plan_structure(session, the_plan(session))
        assert after is not before
        assert "甘井子区总工会（新）" in row_labels(after) and "甘井子区总工会" not in row_labels(after)
        new_id = unit_by_code(session, "210211-NEW").id
        assert new_id in after.units and new_id not in before.units


def test_a_schema_built_from_the_models_or_the_migrations_has_a_token(engine: Engine, seeded_engine: Engine) -> None:
    for built in (engine, seeded_engine):  # the app's database is migrated; the seeded one built with create_all
        with Session(built) as session:
            assert current_token(session) is not None


def test_a_write_that_bypasses_the_orm_replaces_the_token_itself(engine: Engine) -> None:
    with Session(engine) as session:
        before = plan_structure(session, the_plan(session))
        token = current_token(session)
    with engine.begin() as connection:
        replace_token(connection)  # what a restore does after inserting its rows
    with Session(engine) as session:
        assert current_token(session) != token
        assert plan_structure(session, the_plan(session)) is not before


def page_without_csrf(response: TestResponse) -> str:
    """The page's text with its CSRF tokens blanked: a token carries the second it was signed in."""
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', response.get_data(as_text=True))


def test_pages_render_from_the_cached_structure(client: FlaskClient, auth: AuthActions, engine: Engine) -> None:
    # A district's own-row view and the province's read-only view, each twice: cold, then from the cache.
    for username in ("ganjingzi1", "shengzong_jingji1"):
        auth.login(username)
        cold, warm = client.get("/plans/"), client.get("/plans/")
        assert cold.status_code == warm.status_code == 200
        assert page_without_csrf(cold) == page_without_csrf(warm)
        auth.logout()
    auth.login("jingji_head")
    pages = [client.get(url) for url in ("/plans/", "/plans/?scope=all", "/plans/ledger.xlsx", "/plans/")]
    assert [page.status_code for page in pages] == [200, 200, 200, 200]
    assert page_without_csrf(pages[0]) == page_without_csrf(pages[3])  # cold and warm alike
    with Session(engine) as session:
        item_id = session.scalar(select(PlanItem.id).where(PlanItem.number == 13))
    item_page = client.get(f"/plans/items/{item_id}")
    assert item_page.status_code == 200 and "隐患" in item_page.get_data(as_text=True)
