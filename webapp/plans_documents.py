"""The plan's ledger (台账) as Excel and PDF (issue #8 "Export the ledger (台账) to Excel and PDF for a period").

Served by webapp.plans at `/plans/ledger.xlsx` and `/plans/ledger.pdf` (`?period=`, `?scope=mine`, `?plan=`), with
what the user's dashboard shows: every item for the issuing federation and the province, a district union's own rows
and matters. Data: workflows.plans.ledger; the PDF through webapp.records.html_to_pdf on the aid documents'
stylesheet and base template (A4 landscape), in the record locale like every printed document.
"""

from __future__ import annotations

from flask import Response, render_template
from flask_babel import force_locale

from webapp.aid_documents import PDF, document_download
from webapp.records import RECORD_LOCALE, html_to_pdf
from workflows.plans.ledger import Ledger, ledger_xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _names(ledger: Ledger, extension: str) -> tuple[str, str]:
    """The Chinese file name (the ledger's title) and its ASCII fallback."""
    return f"{ledger.title}.{extension}", f"plan-ledger-{ledger.plan.code}-{ledger.period.code}.{extension}"


def xlsx_download(ledger: Ledger) -> Response:
    filename, ascii_name = _names(ledger, "xlsx")
    return document_download(ledger_xlsx(ledger), XLSX, filename, ascii_name)


def ledger_pdf(ledger: Ledger) -> bytes:
    with force_locale(RECORD_LOCALE):
        html = render_template("plans/ledger.html", ledger=ledger, generated_at=ledger.generated_at)
    return html_to_pdf(html)


def pdf_download(ledger: Ledger) -> Response:
    filename, ascii_name = _names(ledger, "pdf")
    return document_download(ledger_pdf(ledger), PDF, filename, ascii_name)
