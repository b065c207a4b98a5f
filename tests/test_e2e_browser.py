"""End to end in real headless Chromium (issue #3 §6): sign in, claim from 部门待办, submit 现场核查, see the next
step on the case page and highlighted in the BPMN diagram.

Playwright drives Debian's /usr/bin/chromium through `executable_path` (never `playwright install`), with the plain
sync API in module-scoped fixtures (pytest-playwright is deliberately not used: its session event loop breaks the
plain sync API in the same run). The app runs on a live werkzeug server over a copy of the seeded database, with
CSRF protection ON: the browser only gets through if every form the journey posts carries its token.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Error, Page, Request, sync_playwright
from sqlalchemy import select

from tests.conftest import Databases
from tests.live_server import serving
from tests.workflow_helpers import complete, open_task, start_report
from webapp import create_app
from webapp import database as webapp_database
from workflows.demo import DEMO_PASSWORD
from workflows.models import ApprovalStep

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 8_000
NEXT_STEP = "rectify_notice"  # after a verified general hazard, the district issues the rectification notice

VERIFY_FORM = {
    "inspection_date": "2026-11-20",
    "inspectors": "马晓东、朱丽",
    "verification_result": "属实",
    "hazard_level": "一般",
    "reporter_responsible": "false",
    "evidence": "现场照片三张，配电箱门确已损坏。",
    "opinion": "经现场核查，情况属实，请下达整改通知。",
}


@dataclass(frozen=True)
class LiveApp:
    app: Flask
    base_url: str
    case_id: int
    case_number: str
    verify_task_id: str


@pytest.fixture(scope="module")
def live_app(databases: Databases, app_db_template: str) -> Iterator[LiveApp]:
    app = create_app(
        {"DATABASE_URL": databases.new(template=app_db_template), "SECRET_KEY": "e2e-secret", "WTF_CSRF_ENABLED": True}
    )
    assert app.config["WTF_CSRF_ENABLED"] is True and not app.testing
    # Arrange through the workflow layer: 现场核查 ready and unclaimed in 甘井子区总工会's queue.
    with webapp_database.session_factory(app)() as session:
        case = start_report(session, "ganjingzi1")
        complete(session, "ganjingzi1", case, "register_report", {"decision": "受理", "opinion": "同意受理。"})
        complete(session, "jingji1", case, "triage", {"triage_level": "一般", "opinion": "请区总工会核查。"})
        verify = open_task(session, case, "verify")
        assert verify.claimed_by_id is None
        session.commit()
        live = (case.id, case.case_number or "", verify.task_id)
    with serving(app, "e2e-server") as base_url:
        yield LiveApp(app, base_url, *live)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def fill_field(page: Page, name: str, value: str) -> None:
    """Fill one rendered JSON Schema field, whatever control the form renderer chose for it."""
    checkbox = page.locator(f'input[type="checkbox"][name="{name}"]')
    if checkbox.count():
        checkbox.set_checked(value == "true")
        return
    radio = page.locator(f'input[type="radio"][name="{name}"][value="{value}"]')
    if radio.count():
        radio.check()
        return
    select_box = page.locator(f'select[name="{name}"]')
    if select_box.count():
        select_box.select_option(value)
        return
    page.locator(f'input[name="{name}"]:not([type="hidden"]), textarea[name="{name}"]').fill(value)


def journey(page: Page, live: LiveApp) -> None:
    base = live.base_url

    # Sign in.
    page.goto(f"{base}/login")
    page.fill('input[name="username"]', "ganjingzi1")
    page.fill('input[name="password"]', DEMO_PASSWORD)
    page.locator('form:has(input[name="password"]) button[type="submit"]').click()
    page.wait_for_load_state()
    assert "/login" not in page.url, f"sign-in failed: {page.locator('main').inner_text()}"

    # 部门待办, then claim the verification task.
    page.locator('nav a[data-view="queue"]').click()
    page.wait_for_url("**/?view=queue*")
    row = page.locator(f'tr[data-task-id="{live.verify_task_id}"]')
    assert row.count() == 1, f"{live.case_number} 现场核查 not in 部门待办: {page.locator('main').inner_text()}"
    assert "现场核查" in row.inner_text()
    row.get_by_role("button", name="认领").click()
    page.wait_for_load_state()
    assert "/login" not in page.url and "400" not in page.title(), f"claim refused: {page.locator('main').inner_text()}"
    if f"/tasks/{live.verify_task_id}" not in page.url:
        page.goto(f"{base}/tasks/{live.verify_task_id}")

    # Fill in and submit the form.
    for name, value in VERIFY_FORM.items():
        fill_field(page, name, value)
    page.get_by_role("button", name="提交", exact=True).click()
    page.wait_for_load_state()
    flashes = page.locator(".flash")
    assert flashes.count() > 0, f"no flash message after submitting; at {page.url}: {page.locator('main').inner_text()}"
    assert f"/tasks/{live.verify_task_id}" not in page.url, f"submit not accepted: {page.locator('main').inner_text()}"

    # The case page: the next step is current, in the table and highlighted in the diagram.
    page.goto(f"{base}/cases/{live.case_id}")
    current = page.locator(f'#current-tasks tr[data-bpmn-id="{NEXT_STEP}"]')
    assert current.count() == 1, f"next step missing: {page.locator('#current-tasks').inner_text()}"
    assert "下达整改通知" in current.inner_text()
    assert page.locator('#timeline tr[data-bpmn-id="verify"]').inner_text().count("属实") >= 1

    diagram = page.locator("#case-diagram")
    page.wait_for_selector('#case-diagram[data-diagram-state="ready"], #case-diagram[data-diagram-state="error"]')
    assert diagram.get_attribute("data-diagram-state") == "ready", diagram.get_attribute("data-diagram-error")
    highlighted = page.locator(f'.djs-element[data-element-id="{NEXT_STEP}"].highlight-current')
    assert highlighted.count() == 1, "the next step is not highlighted"
    fill = highlighted.locator(".djs-visual > :nth-child(1)").evaluate("node => getComputedStyle(node).fill")
    assert fill == "rgb(255, 224, 138)", fill
    assert page.locator('.djs-element[data-element-id="verify"].highlight-done').count() == 1
    assert page.locator('.djs-element[data-element-id="verify"].highlight-current').count() == 0
    watermark = page.locator("#case-diagram a.bjs-powered-by")
    assert watermark.is_visible() and "bpmn.io" in (watermark.get_attribute("href") or "")


def test_official_claims_and_submits_verification_then_sees_the_next_step(
    page: Page, live_app: LiveApp, tmp_path: Path
) -> None:
    page_errors: list[str] = []
    foreign_requests: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))

    def note_request(request: Request) -> None:
        if not request.url.startswith((live_app.base_url, "data:")):
            foreign_requests.append(request.url)

    page.on("request", note_request)
    try:
        journey(page, live_app)
    except (AssertionError, Error) as failure:
        shot = tmp_path / "failure.png"
        page.screenshot(path=str(shot), full_page=True)
        raise AssertionError(f"{failure}\n(at {page.url}; screenshot: {shot}; page errors: {page_errors})") from failure
    assert page_errors == []
    assert foreign_requests == [], "the app must not load anything from another host (no CDN)"

    with webapp_database.session_factory(live_app.app)() as session:
        step = session.scalar(
            select(ApprovalStep).where(ApprovalStep.instance_id == live_app.case_id, ApprovalStep.bpmn_id == "verify")
        )
        assert step is not None and step.actor_name == "马晓东" and step.decision == "属实"


# --- 批量审批 (issue #4): tick two tasks in 部门待办, one opinion, both cases done -----------------------------------

BATCH_OPINION = "材料齐全，同意受理，请市总工会分级。"


def batch_journey(page: Page, live: LiveApp, tasks: dict[str, str]) -> None:
    base = live.base_url
    page.goto(f"{base}/login")
    page.fill('input[name="username"]', "ganjingzi2")
    page.fill('input[name="password"]', DEMO_PASSWORD)
    page.locator('form:has(input[name="password"]) button[type="submit"]').click()
    page.wait_for_load_state()
    assert "/login" not in page.url, f"sign-in failed: {page.locator('main').inner_text()}"

    page.locator('nav a[data-view="queue"]').click()
    page.wait_for_url("**/?view=queue*")
    for task_id in tasks.values():
        page.locator(f'tr[data-task-id="{task_id}"] input[type="checkbox"][name="task_id"]').check()
    page.get_by_role("button", name="批量审批").click()
    page.wait_for_load_state()
    assert page.url.endswith("/batch"), f"no batch form: {page.locator('main').inner_text()}"
    listed = page.locator(".batch-cases").inner_text()
    assert all(number in listed for number in tasks), listed
    assert page.locator('textarea[name="opinion"]').count() == 1  # the form once for all of them

    page.locator('select[name="decision"]').select_option("受理")
    page.locator('textarea[name="opinion"]').fill(BATCH_OPINION)
    page.get_by_role("button", name="批量提交").click()
    page.wait_for_url("**/batch/result")
    for number in tasks:
        row = page.locator(f'.batch-completed tr[data-case-number="{number}"]')
        assert row.count() == 1, f"{number} not done: {page.locator('main').inner_text()}"
        assert "已办理" in row.inner_text()
    assert page.locator(".batch-skipped tr[data-task-id]").count() == 0, page.locator(".batch-skipped").inner_text()

    # Both are now in 已办.
    page.locator('nav a[data-view="done"]').click()
    page.wait_for_url("**/?view=done*")
    for task_id in tasks.values():
        assert page.locator(f'tr[data-task-id="{task_id}"]').count() == 1


def test_official_batch_approves_two_queue_tasks_with_one_opinion(
    page: Page, live_app: LiveApp, tmp_path: Path
) -> None:
    with webapp_database.session_factory(live_app.app)() as session:
        cases = [start_report(session, "ganjingzi1", location=f"批量审批{n}号仓库") for n in ("一", "二")]
        session.commit()
        tasks = {case.case_number or "": open_task(session, case, "register_report").task_id for case in cases}
        case_ids = [case.id for case in cases]
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    try:
        batch_journey(page, live_app, tasks)
    except (AssertionError, Error) as failure:
        shot = tmp_path / "batch-failure.png"
        page.screenshot(path=str(shot), full_page=True)
        raise AssertionError(f"{failure}\n(at {page.url}; screenshot: {shot}; page errors: {page_errors})") from failure
    assert page_errors == []

    with webapp_database.session_factory(live_app.app)() as session:
        steps = session.scalars(
            select(ApprovalStep).where(
                ApprovalStep.instance_id.in_(case_ids), ApprovalStep.bpmn_id == "register_report"
            )
        ).all()
        assert sorted(step.instance_id for step in steps) == sorted(case_ids)
        assert all((s.actor_name, s.decision, s.opinion) == ("朱丽", "受理", BATCH_OPINION) for s in steps)


# --- 退回 (issue #4): the city returns a case to the district's registration, which reads the reason -----------

RETURN_REASON = "企业统一社会信用代码与名称不符，请核实后重新登记。"


def sign_in_as(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', DEMO_PASSWORD)
    page.locator('form:has(input[name="password"]) button[type="submit"]').click()
    page.wait_for_load_state()
    assert "/login" not in page.url, f"sign-in as {username} failed: {page.locator('main').inner_text()}"


def return_journey(page: Page, live: LiveApp, triage_task_id: str, register_task_id: str) -> None:
    base = live.base_url
    sign_in_as(page, base, "jingji1")
    page.goto(f"{base}/tasks/{triage_task_id}")
    page.locator("#op-return summary").click()
    target = page.locator('#op-return select[name="target_task_id"]')
    assert "登记查重" in target.inner_text(), target.inner_text()
    target.select_option(register_task_id)
    page.locator('#op-return textarea[name="reason"]').fill(RETURN_REASON)
    page.get_by_role("button", name="确认退回").click()
    page.wait_for_load_state()
    flash = page.locator(".flash-success")
    assert flash.count() == 1 and "已退回" in flash.inner_text(), page.locator("main").inner_text()

    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login*")
    sign_in_as(page, base, "ganjingzi1")
    page.locator('nav a[data-view="mine"]').click()
    page.wait_for_url("**/?view=mine*")
    row = page.locator(f'tr[data-task-id="{register_task_id}"]')
    assert row.count() == 1, f"returned step not in 待办: {page.locator('main').inner_text()}"
    page.goto(f"{base}/tasks/{register_task_id}")
    box = page.locator("#return-reason")
    assert box.is_visible(), page.locator("main").inner_text()
    text = box.inner_text()
    assert "退回理由" in text and RETURN_REASON in text and "王建国" in text, text

    # 常用语: the picker sits next to the opinion box and inserts the chosen phrase.
    picker = page.locator('.phrase-picker[data-phrase-for="opinion"] select')
    assert picker.is_visible()
    opinion = page.locator('textarea[name="opinion"]')
    opinion.fill("经核实，")
    opinion.click()
    opinion.press("End")
    picker.select_option("同意。")
    assert opinion.input_value() == "经核实，同意。"


def test_city_returns_a_case_and_the_district_reads_why(page: Page, live_app: LiveApp, tmp_path: Path) -> None:
    # Imported here so that this test appends to the module without touching its shared header.
    from workflows.models import CaseAction, TaskIndexEntry

    with webapp_database.session_factory(live_app.app)() as session:
        case = start_report(session, "ganjingzi1", location="退回演示二号车间")
        complete(session, "ganjingzi1", case, "register_report", {"decision": "受理", "opinion": "同意受理。"})
        session.commit()
        triage_id = open_task(session, case, "triage").task_id
        register_id = session.scalar(
            select(TaskIndexEntry.task_id).where(
                TaskIndexEntry.instance_id == case.id, TaskIndexEntry.bpmn_id == "register_report"
            )
        )
        case_id = case.id
    assert register_id is not None
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    try:
        return_journey(page, live_app, triage_id, register_id)
    except (AssertionError, Error) as failure:
        shot = tmp_path / "return-failure.png"
        page.screenshot(path=str(shot), full_page=True)
        raise AssertionError(f"{failure}\n(at {page.url}; screenshot: {shot}; page errors: {page_errors})") from failure
    assert page_errors == []

    with webapp_database.session_factory(live_app.app)() as session:
        action = session.scalar(select(CaseAction).where(CaseAction.instance_id == case_id))
        assert action is not None and action.kind == "return"
        assert (action.actor_name, action.reason) == ("王建国", RETURN_REASON)
        entry = session.scalar(select(TaskIndexEntry).where(TaskIndexEntry.task_id == register_id))
        assert entry is not None and entry.status == "ready"
