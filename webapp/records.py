"""The PDF approval record (审批表) and its public verification page (issue #3 §4, DESIGN §6).

The record's content and hash come from `workflows.records`; this module lays it out with WeasyPrint. WeasyPrint
is imported on the first render, not at start-up (the import alone takes about half a second), and it may read
nothing but the app's own static files and `data:` URIs (the QR code), so a record can never make the server fetch
a URL. What every render would redo is done once per process (issue #9 "Documents"): the font configuration (per
thread), the static stylesheets (parsed once, see `html_to_pdf`) and the QR code of a verification URL.
"""

from __future__ import annotations

import mimetypes
import re
import threading
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit
from urllib.request import url2pathname

from flask import Blueprint, Response, abort, render_template, url_for
from flask_babel import force_locale
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from webapp.database import get_session
from workflows.models import ProcessInstance
from workflows.queries import visible_case
from workflows.records import ApprovalRecord, approval_record, register_issue, verify_record_hash
from workflows.routing import load_routing
from workflows.studio.experts import hidden_panel_steps

bp = Blueprint("records", __name__)

STATIC_DIR = (Path(__file__).resolve().parent / "static").resolve()
# Whatever the visitor's language, the record is the federation's Chinese document, like the data it prints.
RECORD_LOCALE = "zh_CN"


class FetchRefused(PermissionError):
    """A resource outside the app's static files was asked for while rendering a PDF."""


def static_path_for(url: str) -> Path | None:
    """Where the PDF renderer may read `url` from: a static file's path, or None for a `data:` URI.

    Anything else (http, https, ftp, a file outside webapp/static, a directory) raises FetchRefused.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "data":
        return None
    if scheme == "file" and parts.netloc in ("", "localhost"):
        path = Path(url2pathname(unquote(parts.path))).resolve()
        if path.is_relative_to(STATIC_DIR) and path.is_file():
            return path
    raise FetchRefused(f"PDF 渲染只允许读取本系统的静态文件：{url[:200]}")


@cache
def _fetcher_type() -> type[Any]:
    """WeasyPrint's URLFetcher narrowed to static files and data: URIs (a class, built on first use)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        def __init__(self) -> None:
            # Belt and braces: even the parent's opener would refuse every scheme but data:.
            super().__init__(allowed_protocols=("data",), allow_redirects=False)

        def fetch(self, url: str, headers: dict[str, str] | None = None) -> Any:
            path = static_path_for(url)
            if path is None:
                return super().fetch(url, headers)  # decoded by urllib's DataHandler, no I/O
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": content_type})

    return StaticOnlyFetcher


_fonts = threading.local()


def _font_config() -> Any:
    """One FontConfiguration per thread: building it scans fontconfig's set again, and Pango is not thread-safe."""
    config = getattr(_fonts, "config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _fonts.config = FontConfiguration()
    return config


# A template's own stylesheet link, exactly as the PDF templates write it (a file of webapp/static).
_STYLESHEET_LINK = re.compile(r'<link rel="stylesheet" href="([\w.-]+\.css)">')
_stylesheets: dict[Path, tuple[int, Any]] = {}  # path: (mtime in ns, parsed CSS)
_stylesheets_lock = threading.Lock()


def _parsed_stylesheet(name: str) -> Any | None:
    """The parsed `CSS` of static file `name`, parsed once per version of the file; None if it may not be read.

    Parsing is about 10 ms a render for the aid documents' sheet. The file still passes `static_path_for` on every
    render, like anything else a PDF reads; an edited file (a new mtime) is parsed again.
    """
    from weasyprint import CSS

    try:
        path = static_path_for(f"{STATIC_DIR.as_uri()}/{name}")
    except FetchRefused:
        return None
    assert path is not None  # a file: URL, never data:
    mtime = path.stat().st_mtime_ns
    with _stylesheets_lock:
        known = _stylesheets.get(path)
        if known is None or known[0] != mtime:
            sheet = CSS(filename=str(path), base_url=STATIC_DIR.as_uri() + "/", url_fetcher=_fetcher_type()())
            known = _stylesheets[path] = (mtime, sheet)
    return known[1]


def html_to_pdf(html: str) -> bytes:
    """Render HTML to PDF with the static-only fetcher; relative URLs resolve inside webapp/static.

    `<link rel="stylesheet" href="NAME.css">` of a static file is replaced by the sheet parsed once per process
    (`_parsed_stylesheet`), passed to WeasyPrint as a user stylesheet: the cascade is the same as long as the
    document has no other author styles than a `<style>` block the linked sheet does not contradict (user rules
    lose to author ones whatever their specificity), which holds for every PDF template. Anything else, such as a
    link the fetcher refuses, is left to WeasyPrint as before.
    """
    from weasyprint import HTML

    sheets = []

    def take(link: re.Match[str]) -> str:
        sheet = _parsed_stylesheet(link.group(1))
        if sheet is None:
            return link.group(0)
        sheets.append(sheet)
        return ""

    html = _STYLESHEET_LINK.sub(take, html)
    document = HTML(string=html, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=_fetcher_type()())
    pdf: bytes = document.write_pdf(stylesheets=sheets, font_config=_font_config())
    return pdf


@lru_cache(maxsize=256)
def qr_data_uri(url: str) -> str:
    """The QR code of `url` as an SVG data: URI; a record printed again reuses it (the mask search costs ~8 ms)."""
    import segno

    data_uri: str = segno.make(url, error="m", micro=False).svg_data_uri(border=2)
    return data_uri


def _render(record: ApprovalRecord, verify_url: str) -> bytes:
    with force_locale(RECORD_LOCALE):
        html = render_template("record/record.html", record=record, verify_url=verify_url, qr=qr_data_uri(verify_url))
    return html_to_pdf(html)


def render_record_pdf(
    session: Session, instance: ProcessInstance, base_url: str, *, actor_id: int | None = None
) -> bytes:
    """The PDF of the case's current record; `base_url` is the app's root URL (e.g. `request.url_root`).

    Also registers the printed hash (an audit event, flushed), so the QR code verifies: the caller commits.
    The caller has checked that the requester may see the case.
    """
    record = approval_record(session, instance, routing=load_routing())
    pdf = _render(record, urljoin(base_url.rstrip("/") + "/", f"verify/{record.record_hash}"))
    register_issue(session, record, actor_id=actor_id)
    return pdf


def _commit_issue(session: Session, record: ApprovalRecord, actor_id: int) -> None:
    """Register and commit; retried once, since a GET has taken no write lock before the audit chain's tail read."""
    for attempt in range(2):
        try:
            register_issue(session, record, actor_id=actor_id)
            session.commit()
            return
        except (IntegrityError, OperationalError):
            session.rollback()
            if attempt == 1:
                raise


def pdf_response(pdf: bytes, case_number: str) -> Response:
    """`inline`, so the browser shows it; the Chinese filename RFC 5987-encoded, with an ASCII fallback."""
    filename = f"审批表-{case_number}.pdf"
    ascii_name = f"approval-record-{case_number}.pdf".encode("ascii", "replace").decode()
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )
    # Personal data: never kept by shared caches.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/cases/<int:instance_id>/record.pdf")
@login_required
def record_pdf(instance_id: int) -> Response:
    session = get_session()
    user = current_user.user
    instance = visible_case(session, user, instance_id, load_routing())
    if hidden_panel_steps(session, user, instance):
        # The printed record is whole or not at all: an expert waits for the panel round to close.
        abort(403)
    record = approval_record(session, instance, routing=load_routing())
    pdf = _render(record, url_for("records.verify", record_hash=record.record_hash, _external=True))
    _commit_issue(session, record, user.id)
    return pdf_response(pdf, record.case_number)


@bp.route("/verify/<record_hash>")
def verify(record_hash: str) -> str:
    """Public: whether a printed record is the current one. Shows no personal data, whatever the hash."""
    verification = verify_record_hash(get_session(), record_hash)
    return render_template("record/verify.html", verification=verification, record_hash=record_hash[:64])
