"""Single-case PDFs (issue #9 "Documents": the approval record warm under 200 ms): what an official waits for.

On a seeded SQLite file (policy parameters, the demo organisation, every diagram deployed, the demo aid list and
studio call), a general hazard report is worked through every step to 办结 (registration, triage, verification,
rectification, re-inspection, reward, payment, feedback) with the service layer. Then each document is fetched
through the Flask test client as the user who would print it, the whole request (sign-in session, visibility,
the record's data, the template, WeasyPrint, the audit event's commit): once cold (the first render in the process
loads WeasyPrint, Pango and the fonts), then `warm` times; wall time, and the process's CPU time (steadier when
other processes share the cores). Documents: the hazard case's approval record (审批表,
`/cases/<id>/record.pdf`, as 甘井子区's official), an aid worker's record (个人档案, as 生活保障部) and a studio
application record (申报审批表, as 经济技术和劳动保护部). For the approval record it also splits one warm render
into its phases (record data, template, WeasyPrint). Each PDF's text is extracted once (pypdf) and must contain
the case number or the worker's name, so an empty or broken PDF cannot pass.

    .venv/bin/python bench/record_pdf.py [warm]        # default 20 warm renders of each document
"""

from __future__ import annotations

import io
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pypdf  # noqa: E402
from flask import render_template  # noqa: E402
from flask_babel import force_locale  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from tests.workflow_helpers import HAZARD_STEPS_TO_REWARD, complete, start_report  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.records import RECORD_LOCALE, html_to_pdf, qr_data_uri  # noqa: E402
from workflows.db import Base, make_engine  # noqa: E402
from workflows.demo import DEMO_PASSWORD, seed_demo  # noqa: E402
from workflows.demo_aid import seed_demo_aid  # noqa: E402
from workflows.demo_studio import seed_demo_studio  # noqa: E402
from workflows.engine.deployment import deploy_paths  # noqa: E402
from workflows.models import AidWorker, InstanceStatus, ProcessInstance, StudioApplication  # noqa: E402
from workflows.policy.parameters import seed_policy_parameters  # noqa: E402
from workflows.records import approval_record  # noqa: E402
from workflows.routing import BPMN_DIR, load_routing  # noqa: E402

TARGET_MS = 200.0  # issue #9: the approval record PDF, warm

PAYMENT = {"notice_date": "2026-12-02", "payee_name": "李大勇", "bank_name": "中国农业银行大连甘井子支行",
           "card_number": "6228480040000123451", "paid_amount": "300", "paid_date": "2026-12-02",
           "voucher_number": "付2026-1201"}  # fmt: skip
FEEDBACK = {"feedback_date": "2026-12-03", "feedback_channel": "电话", "feedback_content": "已告知处理结果。",
            "opinion": "经研究，同意。"}  # fmt: skip


def seed(url: str) -> tuple[int, str]:
    """The seeded database and a closed hazard case: (instance id, case number)."""
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        seed_policy_parameters(session)
        seed_demo(session)
        deploy_paths(session, [BPMN_DIR], load_routing())
        seed_demo_aid(session)
        seed_demo_studio(session)
        case = start_report(session)
        for step, username, data in HAZARD_STEPS_TO_REWARD:
            complete(session, username, case, step, data)
        complete(session, "caiwu1", case, "reward_payment", PAYMENT)
        complete(session, "ganjingzi1", case, "feedback_close", FEEDBACK)
        assert case.status == InstanceStatus.COMPLETED, case.status
        found = case.id, case.case_number
    engine.dispose()
    return found


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF"), data[:200]
    return "".join(page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages)


class Timings:
    """One document's requests: wall and CPU milliseconds of the cold one and of each warm one."""

    def __init__(self, title: str) -> None:
        self.title, self.wall, self.cpu, self.pages, self.size = title, list[float](), list[float](), 0, 0

    def row(self) -> str:
        warm, cpu = self.wall[1:], self.cpu[1:]
        return (f"| {self.title} | {self.wall[0]:.0f} | {statistics.median(warm):.0f} | {p95(warm):.0f} "
                f"| {statistics.median(cpu):.0f} | {self.pages} | {self.size / 1024:.0f} |")  # fmt: skip


def timed_gets(client: Any, title: str, url: str, warm: int, must_contain: str) -> Timings:
    """The document fetched once cold and `warm` times; the last PDF's text must contain `must_contain`."""
    timings = Timings(title)
    for _ in range(warm + 1):
        started, cpu = time.perf_counter(), time.process_time()
        answer = client.get(url)
        timings.cpu.append((time.process_time() - cpu) * 1000)
        timings.wall.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (url, answer.status_code)
    text = pdf_text(answer.data)
    assert must_contain in text, f"{must_contain!r} not in the PDF of {url}"
    timings.pages, timings.size = len(pypdf.PdfReader(io.BytesIO(answer.data)).pages), len(answer.data)
    return timings


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def main() -> None:
    warm = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        instance_id, case_number = seed(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True, "WTF_CSRF_ENABLED": False,
                          "UPLOAD_DIR": f"{tmp}/attachments"})  # fmt: skip
        engine = make_engine(url)
        with Session(engine) as session:
            worker = session.scalars(select(AidWorker).order_by(AidWorker.id).limit(1)).one()
            # The demo's second application, before the expert panel: 经济技术和劳动保护部 reviewed it, so may print it.
            newest = select(StudioApplication).order_by(StudioApplication.id.desc()).limit(1)
            application = session.scalars(newest).one()
            documents = [
                ("审批表 (approval record)", "ganjingzi1", f"/cases/{instance_id}/record.pdf", case_number),
                ("援助个人档案 (aid worker record)", "baozhang1", f"/aid/workers/{worker.id}/record.pdf", worker.name),
                ("创新工作室申报审批表 (studio application)", "jingji1",
                 f"/studio/applications/{application.id}/record.pdf", application.instance.case_number),
            ]  # fmt: skip
        results = []
        for title, username, path, must_contain in documents:
            client = app.test_client()
            answer = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
            assert answer.status_code in (302, 303), answer.status_code
            results.append(timed_gets(client, title, path, warm, must_contain))

        # One warm approval record split into its phases (the request above also registers the printed hash).
        with app.test_request_context(), Session(engine) as session:
            instance = session.get(ProcessInstance, instance_id)
            assert instance is not None
            started = time.perf_counter()
            record = approval_record(session, instance, routing=load_routing())
            built = time.perf_counter()
            with force_locale(RECORD_LOCALE):
                html = render_template("record/record.html", record=record, verify_url="http://localhost/verify/x",
                                       qr=qr_data_uri("http://localhost/verify/x"))  # fmt: skip
            templated = time.perf_counter()
            html_to_pdf(html)
            laid_out = time.perf_counter()
        engine.dispose()

    print(f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, SQLite file; "
          f"{warm} warm renders after one cold, through the Flask test client (whole request)\n")  # fmt: skip
    print("| document | cold ms | warm p50 ms | warm p95 ms | warm CPU p50 ms | pages | KB |")
    print("|---|---|---|---|---|---|---|")
    for timings in results:
        print(timings.row())
    print(f"\nOne warm approval record by phase: record data {(built - started) * 1000:.1f} ms, template "
          f"{(templated - built) * 1000:.1f} ms, WeasyPrint {(laid_out - templated) * 1000:.1f} ms")  # fmt: skip
    record_p50 = statistics.median(results[0].wall[1:])
    print(f"Approval record warm p50 / target {TARGET_MS:.0f} ms = {record_p50 / TARGET_MS:.2f} "
          f"({'met' if record_p50 < TARGET_MS else 'NOT met'})")  # fmt: skip


if __name__ == "__main__":
    main()
