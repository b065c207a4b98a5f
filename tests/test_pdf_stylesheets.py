"""Static stylesheets parsed once per process (issue #9 "Documents", webapp.records.html_to_pdf).

A PDF template's `<link rel="stylesheet" href="NAME.css">` is replaced by the sheet parsed on first use and passed to
WeasyPrint as a user stylesheet. The documents must come out exactly as when WeasyPrint fetched and parsed the file
itself: the same text at the same places on the same pages, footers included.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdf
import pytest
import weasyprint
from flask import Flask, render_template
from flask_babel import force_locale
from sqlalchemy.orm import Session

from tests.workflow_helpers import HAZARD_STEPS_TO_REWARD, complete, start_report
from webapp import records as web_records
from webapp.aid_documents import roster_context
from workflows.aid.reports import Roster, RosterRow, paginate_roster
from workflows.db import utcnow
from workflows.records import approval_record


def weasyprint_alone(html: str) -> bytes:
    """The render before issue #9: WeasyPrint fetches and parses every linked stylesheet itself."""
    document = weasyprint.HTML(string=html, base_url=web_records.STATIC_DIR.as_uri() + "/",
                               url_fetcher=web_records._fetcher_type()())  # fmt: skip
    pdf: bytes = document.write_pdf(font_config=web_records._font_config())
    return pdf


def text_placement(pdf: bytes) -> list[list[tuple[str, float, float, float]]]:
    """Every piece of text of each page with its position and size, rounded to a hundredth of a point."""
    pages = []
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        shown: list[tuple[str, float, float, float]] = []

        def visit(text: str, cm: list[float], tm: list[float], _font: object, size: float, into: Any = shown) -> None:
            if text.strip():
                x, y = cm[0] * tm[4] + cm[2] * tm[5] + cm[4], cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
                into.append((text, round(x, 2), round(y, 2), round(size, 2)))

        page.extract_text(visitor_text=visit)
        pages.append(shown)
    return pages


def a_closed_hazard_record_html(app: Flask, world: Session) -> str:
    case = start_report(world)
    for step, username, data in HAZARD_STEPS_TO_REWARD:
        complete(world, username, case, step, data)
    record = approval_record(world, case)
    with app.test_request_context(), force_locale(web_records.RECORD_LOCALE):
        url = f"https://unionflow.example/verify/{record.record_hash}"
        html: str = render_template("record/record.html", record=record, verify_url=url,
                                    qr=web_records.qr_data_uri(url))  # fmt: skip
    return html


def a_roster_html(app: Flask) -> str:
    bank = "中国工商银行股份有限公司大连甘井子支行营业部"
    rows = [RosterRow(n, "欧阳建国", f"210202********{n:03d}X", "中山区总工会", "买断解除劳动关系", Decimal(1500 + n),
                      bank, f"6222***********{n:04d}", "成功", "210200-2018-01")
            for n in range(1, 30)]  # fmt: skip
    total = sum((r.amount for r in rows), Decimal())
    roster = Roster(2018, "大连市总工会", paginate_roster(rows), [], len(rows), total)
    with app.test_request_context(), force_locale(web_records.RECORD_LOCALE):
        html: str = render_template("aid/documents/roster.html", generated_at=utcnow(), **roster_context(roster))
    return html


@pytest.mark.parametrize("document", ["record", "roster"])
def test_a_parsed_once_stylesheet_lays_documents_out_as_weasyprint_alone(
    app: Flask, world: Session, document: str
) -> None:
    html = a_closed_hazard_record_html(app, world) if document == "record" else a_roster_html(app)
    assert '<link rel="stylesheet" href="' in html

    cached, alone = web_records.html_to_pdf(html), weasyprint_alone(html)

    placed = text_placement(cached)
    assert placed == text_placement(alone)
    assert all(placed) and (document == "record" or len(placed) == 2)  # text on every page (its footer at least)


def test_each_static_stylesheet_is_parsed_once_per_version_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_records, "STATIC_DIR", tmp_path.resolve())
    monkeypatch.setattr(web_records, "_stylesheets", {})
    parsed: list[object] = []
    original: Callable[..., object] = weasyprint.CSS

    def counting_css(*args: Any, **kwargs: Any) -> object:
        parsed.append(kwargs.get("filename"))
        return original(*args, **kwargs)

    monkeypatch.setattr(weasyprint, "CSS", counting_css)
    sheet = tmp_path / "doc.css"
    sheet.write_text(".hidden { display: none; }")
    html = '<html><head><link rel="stylesheet" href="doc.css"></head><body><p>可见</p><p class="hidden">隐藏</p></body>'

    first, second = web_records.html_to_pdf(html), web_records.html_to_pdf(html)

    assert parsed == [str(sheet.resolve())]
    for pdf in (first, second):
        text = text_placement(pdf)[0]
        assert [t[0].strip() for t in text] == ["可见"]
    sheet.write_text(".hidden { display: block; }")
    stat = sheet.stat()
    os.utime(sheet, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # an edit a second later

    edited = web_records.html_to_pdf(html)

    assert len(parsed) == 2
    assert "隐藏" in "".join(t[0] for t in text_placement(edited)[0])


def test_a_link_the_fetcher_refuses_is_left_to_weasyprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_records, "STATIC_DIR", tmp_path.resolve())
    monkeypatch.setattr(web_records, "_stylesheets", {})
    html = '<html><head><link rel="stylesheet" href="missing.css"></head><body><p>正文</p></body></html>'

    pdf = web_records.html_to_pdf(html)

    assert "正文" in "".join(t[0] for t in text_placement(pdf)[0])
    assert web_records._stylesheets == {}
