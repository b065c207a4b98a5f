"""The district review grid in real Chromium (issue #6): select the page with 全选, mark all 符合 with one opinion.

The app runs with CSRF on, as in production, on a copy of the demo database with a year's list imported.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page
from sqlalchemy import func, select

from tests.conftest import Databases
from tests.live_server import serving
from tests.test_aid_review import GANJINGZI, import_list
from tests.test_e2e_browser import browser, page, sign_in_as  # noqa: F401  (fixtures)
from webapp import create_app
from webapp import database as webapp_database
from workflows.models import AidWorker


@pytest.fixture
def live_base_url(databases: Databases, app_db_template: str) -> Iterator[tuple[str, object]]:
    url = databases.new(template=app_db_template)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "e2e-secret", "WTF_CSRF_ENABLED": True})
    with webapp_database.session_factory(app)() as session:
        import_list(session)
        session.commit()
    try:
        with serving(app, "aid-review-server") as base_url:
            yield base_url, app
    finally:
        databases.drop(url)


def test_a_district_official_marks_a_whole_page_eligible_with_one_opinion(
    page: Page,  # noqa: F811  (the fixture imported above)
    live_base_url: tuple[str, object],
) -> None:
    base_url, app = live_base_url
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_as(page, base_url, "ganjingzi1")
    page.get_by_role("link", name="援助名单审查").click()
    assert "已审查 0 / 60 人" in page.locator(".aid-progress").inner_text()

    page.locator(".aid-grid .select-all").check()
    assert page.locator(".aid-grid tbody input[name=worker_id]:checked").count() == 50
    page.select_option("#f-conclusion", "符合")
    page.fill("#f-evidence", "入户走访核实，家庭收入低于当地标准")
    page.get_by_role("button", name="应用于所选职工").click()

    assert "已记录 50 人的审查结论：符合" in page.locator("main").inner_text()
    assert "已审查 50 / 60 人" in page.locator(".aid-progress").inner_text()
    page.select_option("select[name=status]", "pending")
    page.get_by_role("button", name="筛选").click()
    assert page.locator(".aid-grid tbody tr[data-worker-id]").count() == GANJINGZI - 50
    assert errors == []
    with webapp_database.session_factory(app)() as session:  # type: ignore[arg-type]
        reviewed = select(func.count()).select_from(AidWorker).where(AidWorker.review_conclusion == "符合")
        assert session.scalar(reviewed) == 50
