"""Writing spreadsheets for exports (issue #5 CSV injection; issue #9 speed), split from `workflows.tabular`.

`write_xlsx` / `write_csv` prefix text starting with = + - @ tab CR (or full-width ＝＋－＠) with a real `'`, so no
spreadsheet runs it (CSV injection), even after a later "save as CSV"; Decimals are text with 2 places; every cell
is text (xlsx format "@"), so long digit strings stay exact. CSV is UTF-8 with BOM so Excel shows Chinese. openpyxl
writes the workbook with each sheet's header; the data rows are written into it as text (issue #9).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from itertools import repeat

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell
from openpyxl.utils.cell import get_column_letter

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


CellValue = str | int | Decimal | date | None


def export_text(value: CellValue) -> str:
    """The text written for `value`: Decimal with 2 places, bool as 是/否, text escaped against formulas."""
    if type(value) is str:  # most cells: straight to the last branch
        text: str = ILLEGAL_CHARACTERS_RE.sub("", value)
        return "'" + text if text.lstrip(" \u3000").startswith(FORMULA_PREFIXES) else text
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        # Control characters first: xlsx cannot store them, and "\x01=cmd" must not become "=cmd" unescaped.
        text = ILLEGAL_CHARACTERS_RE.sub("", value)
        # Leading spaces too: some importers trim them ("trim spaces") before deciding what a cell is.
        return "'" + text if text.lstrip(" \u3000").startswith(FORMULA_PREFIXES) else text
    raise TypeError(f"cannot export {type(value).__name__} (use str, int, Decimal or date; never float)")


def _export_rows(header: Sequence[str], rows: Iterable[Sequence[CellValue]]) -> Iterator[list[str]]:
    yield [export_text(name) for name in header]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row has {len(row)} cells for {len(header)} columns")
        yield [export_text(value) for value in row]


def write_csv(header: Sequence[str], rows: Iterable[Sequence[CellValue]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(_export_rows(header, rows))
    return buffer.getvalue().encode("utf-8-sig")


# A sheet to write: its title, its header, its rows.
Sheet = tuple[str, Sequence[str], Iterable[Sequence[CellValue]]]


def write_xlsx(
    header: Sequence[str], rows: Iterable[Sequence[CellValue]], sheet_title: str = "Sheet1", *,
    stamped: datetime | None = None,
) -> bytes:  # fmt: skip
    return write_xlsx_sheets([(sheet_title, header, rows)], stamped=stamped)


def write_xlsx_sheets(sheets: Sequence[Sheet], *, stamped: datetime | None = None) -> bytes:
    """An .xlsx of one or more sheets, every cell text escaped by `export_text`; with `stamped`, the zip entries and
    the document properties carry that time instead of the time of writing, so the same content gives the same bytes.

    openpyxl writes the package with each sheet's header row, so the workbook, its styles and the text format "@"
    are its own; the data rows are then written into each sheet as the same XML openpyxl writes for a text cell,
    from strings, in UTF-8 (issue #9: openpyxl's per-cell objects and styles made a 20,000-row bank file 3 s).
    """
    workbook = openpyxl.Workbook(write_only=True)
    bodies = []
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title)
        texts = _export_rows(header, rows)
        cells = []
        for text in next(texts):
            cell = WriteOnlyCell(sheet, value=text)
            cell.data_type = "s"  # never "f": export_text already escaped every text openpyxl would take for one
            cell.number_format = "@"  # text: Excel keeps long digit strings exact if the user edits them
            cells.append(cell)
        sheet.append(cells)
        bodies.append((len(cells), texts))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _with_data_rows(buffer.getvalue(), bodies, stamped)


_SHEET_PART = re.compile(r"xl/worksheets/sheet(\d+)\.xml")
_TEXT_STYLE = re.compile(rb'<c r="A1" s="(\d+)"')
_NOT_XML = re.compile("[\ufffe\uffff]")  # not characters in XML 1.0; lxml refused them, now they are dropped
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
ROWS_PER_CHUNK = 1_000


_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip cannot store an earlier time
_CORE_TIMES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def _with_data_rows(
    package: bytes, bodies: Sequence[tuple[int, Iterator[list[str]]]], stamped: datetime | None
) -> bytes:
    """The package with each sheet's data rows (from row 2) written after its header row, other parts unchanged but
    for the times when `stamped`."""
    utc = stamped.astimezone(UTC).replace(tzinfo=None) if stamped else None
    when = utc.timetuple()[:6] if utc and utc.year >= 1980 else _ZIP_EPOCH
    iso = (utc or datetime(*_ZIP_EPOCH)).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    source, target = zipfile.ZipFile(io.BytesIO(package)), io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for entry in source.infolist():
            content = source.read(entry)
            info = zipfile.ZipInfo(entry.filename, date_time=when if stamped else entry.date_time)
            info.compress_type, info.external_attr = entry.compress_type, entry.external_attr
            if stamped and entry.filename == "docProps/core.xml":
                content = _CORE_TIMES.sub(lambda found: found[1] + iso + found[2], content)
            found = _SHEET_PART.fullmatch(entry.filename)
            if found is None:
                out.writestr(info, content)
                continue
            width, rows = bodies[int(found[1]) - 1]  # openpyxl names the sheets' parts in order: sheet1.xml, ...
            head, tail = content.split(b"</sheetData>", 1)
            style = _TEXT_STYLE.search(head)
            with out.open(info, "w") as stream:
                stream.write(head)
                for chunk in _row_chunks(rows, width, style[1].decode() if style else "0"):
                    stream.write(chunk)
                stream.write(b"</sheetData>" + tail)
    return target.getvalue()


def _row_chunks(rows: Iterator[list[str]], width: int, style: str) -> Iterator[bytes]:
    """Rows 2, 3, … as openpyxl writes text cells (inline strings in the text style; xml:space="preserve" on text
    with blanks at either end; an empty cell without <is>), ROWS_PER_CHUNK rows at a time, UTF-8."""
    columns = [get_column_letter(index) for index in range(1, width + 1)]
    parts: list[str] = []
    for number, texts in enumerate(rows, start=2):
        parts.append(f'<row r="{number}">' if texts else f'<row r="{number}"/>')
        for column, text in zip(columns, map(_NOT_XML.sub, repeat(""), texts), strict=True):
            if not text:
                parts.append(f'<c r="{column}{number}" s="{style}" t="inlineStr"></c>')
                continue
            space = ' xml:space="preserve"' if text != text.strip() else ""
            escaped = text.translate(_XML_ESCAPES)
            parts.append(f'<c r="{column}{number}" s="{style}" t="inlineStr"><is><t{space}>{escaped}</t></is></c>')
        if texts:
            parts.append("</row>")
        if number % ROWS_PER_CHUNK == 0:
            yield "".join(parts).encode()
            parts.clear()
    yield "".join(parts).encode()
