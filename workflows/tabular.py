"""Safe reading and writing of spreadsheets for list imports and exports (issue #5 "hostile and broken input").

`read_table` takes `.xlsx` or `.csv` bytes as hostile: size, row and column limits (`TableLimits`); an xlsx zip
directory (total size, compression ratio, entries) is checked BEFORE openpyxl opens it, so a bomb never inflates;
content that is not what the name says (old .xls or encrypted OLE2, executables, other zips) is refused; formulas
are never evaluated (read-only, no cached values) but reported by row and column; every cell becomes text, and a
number or date in a column the caller marks as text (IDs, card numbers) is an error, as Excel has already rounded
it. CSV is UTF-8 (with or without BOM) or GB18030 (what Excel in China saves), comma-separated. openpyxl reads an
xlsx package's parts except the worksheet, which is streamed here row by row with the standard library's parser
(issue #9: openpyxl's cell objects made reading a 20,000-row list 3.5 times slower).

Writing lives in `workflows.table_export` (re-exported here: `write_xlsx`, `write_csv`, `export_text`).
"""

from __future__ import annotations

import csv
import gc
import io
import re
import zipfile
from collections import Counter
from collections.abc import Collection, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from xml.etree.ElementTree import XMLPullParser

from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.datetime import from_excel, from_ISO8601

from workflows.table_export import (  # noqa: F401  re-exported for the callers of the reading side
    CellValue,
    Sheet,
    _export_rows,
    export_text,
    write_csv,
    write_xlsx,
    write_xlsx_sheets,
)

EXCEL_MAX_ROW = 1_048_576  # no real sheet has a row beyond this
MAX_PROBLEMS = 20  # cell problems listed before reading stops
HEADER_SEARCH_ROWS = 10  # a title row or two may sit above the header
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"#!")
TEXT_FORMAT_HINT = "请将该列单元格格式设置为“文本”后重新填写"
SCIENTIFIC = re.compile(r"\d(\.\d+)?E\+\d+", re.IGNORECASE)  # how Excel saves a long number to CSV: 6.22202E+18


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused for a bulk operation (issue #9). Reading and validating a 20,000-row list
    keeps some 200,000 containers alive (cells, rows, validated rows, insert values), and every full collection
    walks them all again: 1.4 s of a 4 s import. Reference counting still frees everything else at once, and the
    collector resumes when the block ends, error or not, unless it was already off (another thread's pause)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


@dataclass(frozen=True)
class TableLimits:
    """Defaults sized for a 20,000-row hardship-aid list with room to spare; each can be set per import."""

    max_bytes: int = 20 * 1024 * 1024
    max_rows: int = 50_000  # data rows, header excluded
    max_columns: int = 100
    max_unzipped_bytes: int = 200 * 1024 * 1024  # sum over the xlsx zip directory
    max_compression_ratio: int = 100  # per zip entry larger than 1 MB uncompressed
    max_zip_entries: int = 1_000


class TableError(ValueError):
    """A file that cannot be imported; `problems` are Chinese sentences naming the row and column."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class TableRow:
    number: int  # 1-based row number in the sheet (CSV: record number), as the user sees it in Excel
    values: tuple[str, ...]  # one per header column


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[TableRow, ...]

    def records(self) -> Iterator[tuple[int, dict[str, str]]]:
        for row in self.rows:
            yield row.number, dict(zip(self.header, row.values, strict=True))


_Cells = Generator[tuple[int, Sequence[Any]], None, None]  # (sheet row number, raw cell values)


@dataclass(frozen=True)
class _Refused:
    """A cell that is never imported: a formula or an error value; `reason` goes into the problem."""

    reason: str


def read_table(
    data: bytes,
    filename: str,
    limits: TableLimits | None = None,
    *,
    text_columns: Collection[str] = (),
    required_columns: Collection[str] = (),
) -> Table:
    """The first sheet of an `.xlsx` or a `.csv` as text, each cell stripped of surrounding blanks; blank rows are
    skipped. The header is the first non-blank row or, with `required_columns`, the first of the first 10 rows
    that holds them all (a title row may sit above it)."""
    limits = limits or TableLimits()
    if len(data) > limits.max_bytes:
        raise TableError(f"文件过大（{len(data) / 1048576:.1f} MB），上限为 {limits.max_bytes // 1048576} MB")
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix in ("xls", "et"):
        raise TableError("不接受旧版 Excel（.xls）文件：请在 Excel 中“另存为”Excel 工作簿（.xlsx）后再上传")
    if suffix == "xlsx":
        cells = _xlsx_rows(data, limits)
    elif suffix == "csv":
        cells = _csv_rows(data, limits)
    else:
        raise TableError("只接受 Excel 工作簿（.xlsx）或 CSV 文件")
    try:
        return _build_table(cells, limits, set(text_columns), list(required_columns))
    finally:
        cells.close()  # an early error leaves the reader suspended; close the workbook now, not at garbage collection


def _refuse_foreign(data: bytes, expected: str) -> None:
    if data.startswith(OLE2_MAGIC):
        raise TableError("这是旧版 Excel（.xls）或设置了密码的工作簿：请取消密码并“另存为”.xlsx 后再上传")
    if data.startswith(EXECUTABLE_MAGIC):
        raise TableError(f"文件内容是可执行程序，不是{expected}")


def _xlsx_rows(data: bytes, limits: TableLimits) -> _Cells:
    _refuse_foreign(data, "Excel 工作簿")
    if not data.startswith(b"PK\x03\x04"):
        raise TableError("文件内容不是 Excel 工作簿（.xlsx）；如果是 CSV 文件，请使用 .csv 扩展名")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise TableError("文件已损坏，不是有效的 Excel 工作簿（.xlsx）") from exc
    _check_zip_directory(archive.infolist(), limits)
    names = set(archive.namelist())
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise TableError("压缩包里没有 Excel 工作簿，不是 .xlsx 文件")
    # The directory sizes checked above bind: zipfile stops at the declared size and fails the CRC of a liar.
    try:
        book = _open_workbook(data)
    except Exception as exc:  # openpyxl raises many types for a broken workbook; all mean "cannot read"
        raise TableError("无法读取工作簿：文件已损坏或格式不受支持，请用 Excel 重新保存为 .xlsx") from exc
    return _sheet_rows(book, limits)


def _check_zip_directory(entries: list[zipfile.ZipInfo], limits: TableLimits) -> None:
    if len(entries) > limits.max_zip_entries:
        raise TableError(f"工作簿内部文件过多（{len(entries)} 个），疑似恶意文件")
    total = 0
    for entry in entries:
        if entry.flag_bits & 0x1:
            raise TableError("工作簿内容已加密：请取消密码后再上传")
        total += entry.file_size
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > 1024 * 1024 and ratio > limits.max_compression_ratio:
            raise TableError(f"工作簿压缩比异常（{ratio:.0f} 倍），疑似压缩炸弹，已拒绝")
    if total > limits.max_unzipped_bytes:
        limit = limits.max_unzipped_bytes // 1048576
        raise TableError(f"工作簿解压后过大（{total / 1048576:.0f} MB），上限为 {limit} MB")


@dataclass
class _Workbook:
    """What reading the first worksheet needs from the rest of the package."""

    archive: zipfile.ZipFile
    sheet_path: str | None  # None: the workbook has no worksheet
    shared_strings: Sequence[str]
    date_styles: Collection[int]  # cell style ids whose number format is a date, a time ...
    timedelta_styles: Collection[int]  # ... or a duration ([h]:mm)
    epoch: datetime  # 1900 or, for workbooks saved with the 1904 date system, 1904


def _open_workbook(data: bytes) -> _Workbook:
    """The package parts as openpyxl's read-only loader reads them (manifest, shared strings, workbook, styles),
    without its worksheet step: that one parses a whole sheet lacking a <dimension> (what openpyxl itself writes)
    just to size it, a second full parse for nothing (issue #9: 1.5 s of a 20,000-row list)."""
    reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    try:
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        # The first worksheet, as `Workbook.worksheets[0]` would give it: chartsheets and missing parts are skipped.
        sheet_path = next(
            (rel.target for _sheet, rel in reader.parser.find_sheets()
             if rel.target in reader.valid_files and "chartsheet" not in rel.Type),
            None,
        )  # fmt: skip
        workbook = reader.wb
        return _Workbook(reader.archive, sheet_path, reader.shared_strings, workbook._date_formats,
                         workbook._timedelta_formats, workbook.epoch)  # fmt: skip
    except BaseException:
        reader.archive.close()
        raise


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW, _CELL, _VALUE, _FORMULA = f"{_MAIN}row", f"{_MAIN}c", f"{_MAIN}v", f"{_MAIN}f"
_INLINE, _TEXT, _RUN, _DIMENSION = f"{_MAIN}is", f"{_MAIN}t", f"{_MAIN}r", f"{_MAIN}dimension"
EXCEL_MAX_COLUMN = 16_384  # XFD
_COLUMN_LETTERS = re.compile(r"[A-Z]{1,3}")


def _column_number(letters: str, known: dict[str, int]) -> int:
    """Column letters as a number (B → 2), memoised in `known`; ValueError for what is not a column (A … XFD)."""
    number = known.get(letters)
    if number is None:
        if not _COLUMN_LETTERS.fullmatch(letters):
            raise ValueError(f"not a column: {letters!r}")
        number = 0
        for letter in letters:
            number = number * 26 + ord(letter) - 64
        if number > EXCEL_MAX_COLUMN:
            raise ValueError(f"not a column: {letters!r}")
        known[letters] = number
    return number


def _rich_text(node: Any) -> str:
    """The text of an <is> or <si>: its <t>, or its runs' <t>s; phonetic guides (<rPh>) are not the cell's text."""
    parts = []
    for child in node:
        if child.tag == _TEXT:
            parts.append(child.text or "")
        elif child.tag == _RUN:
            parts.append(child.findtext(_TEXT) or "")
    return "".join(parts)


def _cell_value(cell: Any, book: _Workbook) -> Any:
    """A <c> element's value as openpyxl's reader gives it (str, int, float, bool, date/time), or `_Refused`."""
    kind = cell.get("t", "n")
    if cell.find(_FORMULA) is not None:
        return _Refused("不接受公式，请改为直接填写数值或文字")  # also array and data-table formulas
    if kind == "inlineStr":
        inline = cell.find(_INLINE)
        return _rich_text(inline) if inline is not None else None
    value = cell.findtext(_VALUE) or None
    if value is None:
        return _Refused("单元格为错误值 None") if kind == "e" else None
    if kind == "n":
        number = float(value) if "." in value or "E" in value or "e" in value else int(value)
        style = int(cell.get("s") or 0)
        if style not in book.date_styles:
            return number
        try:
            return from_excel(number, book.epoch, timedelta=style in book.timedelta_styles)
        except (OverflowError, ValueError):  # a date serial beyond year 9999: openpyxl makes it an error cell
            return _Refused("单元格为错误值 #VALUE!")
    if kind == "s":
        return book.shared_strings[int(value)]
    if kind == "b":
        return bool(int(value))
    if kind == "d":
        return from_ISO8601(value)
    if kind == "e":
        return _Refused(f"单元格为错误值 {value}")
    return value  # "str" (a formula's cached text, here without the formula) or a type no writer uses: as text


def _row_values(row: Any, book: _Workbook, width: int, known: dict[str, int]) -> list[Any]:
    """The row's first `width` cells by column (None where there is none), without trailing Nones. A cell without
    a reference follows the previous one; a later cell of the same column wins, as in openpyxl."""
    values: list[Any] = []
    column = 0
    strings = book.shared_strings
    for cell in row:
        if cell.tag != _CELL:
            continue
        reference = cell.get("r")
        if reference:
            letters = reference.rstrip("0123456789")
            column = known.get(letters) or _column_number(letters, known)
        else:
            column += 1
        if column > width:
            continue
        # The two shapes nearly every text cell has, read here; any other goes through _cell_value, which gives
        # the same for these (a single child is never a formula).
        kind, only = cell.get("t"), cell[0] if len(cell) == 1 else None
        if only is None:
            value = _cell_value(cell, book)
        elif kind == "inlineStr" and only.tag == _INLINE and len(only) == 1 and only[0].tag == _TEXT:
            value = only[0].text or ""  # <c t="inlineStr"><is><t>text</t></is></c>, as openpyxl writes
        elif kind == "s" and only.tag == _VALUE:
            value = strings[int(only.text)] if only.text else None  # <c t="s"><v>7</v></c>, as Excel writes
        else:
            value = _cell_value(cell, book)
        if column > len(values):
            if value is None:
                continue
            values.extend([None] * (column - len(values)))
        values[column - 1] = value
    while values and values[-1] is None:
        values.pop()
    return values


def _sheet_rows(book: _Workbook, limits: TableLimits) -> _Cells:
    """The first worksheet's non-blank rows, streamed with the standard library's expat parser (entity expansion
    refused, no external entities), one row element in memory at a time: the rows openpyxl's read-only
    `iter_rows` would give, without building a cell object per cell (issue #9: a 20,000-row list 3.5× faster).
    Rows numbered at or below an earlier one are skipped, as openpyxl does."""
    try:
        if book.sheet_path is None:
            raise TableError("工作簿里没有工作表")
        width = limits.max_columns + 1
        known: dict[str, int] = {}  # column letters → number
        parser: Any = XMLPullParser(events=("end",))  # "end" events carry the finished element
        parsed = next_row = 0  # the last row number read; the lowest row number still to come
        with book.archive.open(book.sheet_path) as source:
            while True:
                try:
                    chunk = source.read(1 << 16)
                    if chunk:
                        parser.feed(chunk)
                    else:
                        parser.close()
                    events: list[tuple[str, Any]] = list(parser.read_events())
                    rows = []
                    for _event, element in events:
                        if element.tag == _ROW:
                            parsed = _row_number(element.get("r"), parsed)
                            if parsed >= next_row:
                                next_row = parsed + 1
                                rows.append((parsed, _row_values(element, book, width, known)))
                            element.clear()
                        elif element.tag == _DIMENSION:
                            _check_dimension(element.get("ref"), limits)
                except TableError:
                    raise
                except Exception as exc:  # broken XML, entity expansion refused by expat, bad CRC, bad cell ...
                    raise TableError("无法读取工作表：文件已损坏或格式不受支持，请用 Excel 重新保存为 .xlsx") from exc
                for number, values in rows:
                    if number > EXCEL_MAX_ROW:
                        raise TableError(f"工作表行号超出 Excel 范围（{EXCEL_MAX_ROW} 行），文件异常")
                    if values:
                        yield number, values
                if not chunk:
                    return
    finally:
        book.archive.close()


def _row_number(text: str | None, previous: int) -> int:
    """A row's number: its r attribute ("3", or "3.0" as openpyxl accepts), else the one after the previous row;
    raises ValueError for anything else (a broken sheet)."""
    if not text:
        return previous + 1
    if text.isdecimal():
        return int(text)
    number = float(text)
    if not number.is_integer():
        raise ValueError(f"not a row number: {text!r}")
    return int(number)


def _check_dimension(reference: str | None, limits: TableLimits) -> None:
    """Cells right of column max_columns + 1 are never read, so the stored used range (written by Excel, WPS,
    LibreOffice) must not be wider. It is not trusted otherwise: a wrong last row must not stop the reading."""
    if reference is None:
        return
    _min_column, _min_row, max_column, _max_row = range_boundaries(reference)
    if (max_column or 0) > limits.max_columns:
        raise TableError(
            f"工作表已用区域宽 {max_column} 列，超过上限 {limits.max_columns} 列；"
            "如果右侧没有数据，请删除多余的列后重新保存"
        )


def _csv_rows(data: bytes, limits: TableLimits) -> _Cells:
    _refuse_foreign(data, "CSV 文件")
    if data.startswith(b"PK\x03\x04"):
        raise TableError("文件内容是压缩包或 Excel 工作簿，不是 CSV；如果是 Excel 文件，请使用 .xlsx 扩展名")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TableError("不支持 UTF-16 编码：请在 Excel 中另存为“CSV UTF-8（逗号分隔）”")
    if b"\x00" in data:
        raise TableError("文件内容不是文本，不是 CSV 文件")
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    number = 0
    try:
        for number, record in enumerate(reader, start=1):
            yield number, record
    except csv.Error as exc:  # in practice a field over csv.field_size_limit(), e.g. after an unpaired quote
        raise TableError(f"第 {number + 1} 行：CSV 格式错误，单元格过长或引号不配对") from exc


def _decode(data: bytes) -> str:
    # UTF-8 first: a GB18030 reading of UTF-8 Chinese would fail anyway, the other way round it could succeed.
    for encoding in ["utf-8-sig"] if data.startswith(b"\xef\xbb\xbf") else ["utf-8", "gb18030"]:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError("无法识别文件编码：请保存为 UTF-8 或 GB18030 编码（Excel 的“CSV UTF-8”或“CSV（逗号分隔）”）")


def _build_table(cells: _Cells, limits: TableLimits, text_columns: set[str], required: list[str]) -> Table:
    header: tuple[str, ...] | None = None
    rows: list[TableRow] = []
    problems: list[str] = []
    missing = required  # required columns absent from the closest header candidate so far
    plain: list[bool] = []  # per column: a header column not in text_columns
    for number, raw in cells:
        if header is None:
            names = [value.strip() if isinstance(value, str) else "" if value is None else "?" for value in raw]
            while names and not names[-1]:
                names.pop()
            if not names:
                continue
            absent = [column for column in required if column not in names]
            missing = absent if absent and len(absent) < len(missing) else missing
            if absent and number >= HEADER_SEARCH_ROWS:
                raise TableError(_missing_header(missing))
            if not absent:
                header = _check_header(number, names, limits)
                plain = [name not in text_columns for name in header]  # text cells here need no further check
            continue
        if len(raw) > len(plain):
            plain += [False] * (len(raw) - len(plain))
        values = _texts(raw, header, number, text_columns, problems, plain)
        extra = [column for column in range(len(header), len(values)) if values[column]]
        if extra:
            where = f"第 {extra[0] + 1} 列" if extra[0] < limits.max_columns else f"超过 {limits.max_columns} 列的位置"
            problems.append(f"第 {number} 行：{where}有内容，但没有表头")
        if any(values):
            if len(rows) == limits.max_rows:
                raise TableError(f"数据超过 {limits.max_rows} 行，请拆分成多个文件后再上传")
            values = (values + [""] * len(header))[: len(header)]
            rows.append(TableRow(number, tuple(values)))
        if len(problems) >= MAX_PROBLEMS:
            raise TableError(*problems, f"（仅列出前 {MAX_PROBLEMS} 处问题，请改正后重新上传）")
    if header is None:
        raise TableError(_missing_header(missing))
    if problems:
        raise TableError(*problems)
    return Table(header, tuple(rows))


def _missing_header(missing: list[str]) -> str:
    if not missing:
        return "文件里没有表头"
    columns = "、".join(f"「{column}」" for column in missing)
    return f"未找到表头：前 {HEADER_SEARCH_ROWS} 行中没有一行包含所需的全部列，缺少列{columns}"


def _check_header(number: int, names: list[str], limits: TableLimits) -> tuple[str, ...]:
    if len(names) > limits.max_columns:
        raise TableError(f"第 {number} 行：表头超过 {limits.max_columns} 列")
    problems = [f"第 {number} 行：第 {i + 1} 列表头不是文字或为空" for i, name in enumerate(names) if name in ("", "?")]
    problems += [f"第 {number} 行：表头「{name}」重复" for name, count in Counter(names).items() if count > 1]
    if problems:
        raise TableError(*problems)
    return tuple(names)


def _texts(
    raw: Sequence[Any], header: tuple[str, ...], number: int, text_columns: set[str], problems: list[str],
    plain: list[bool],
) -> list[str]:  # fmt: skip
    """The row's cells as text. Text in a `plain` column, nearly every cell, takes the short way; the rest `_text`."""
    texts = []
    for column, value in enumerate(raw):
        if value.__class__ is str and plain[column]:
            texts.append(value.strip())
        elif value is None:
            texts.append("")
        else:
            texts.append(_text(value, header, column, number, text_columns, problems))
    return texts


def _text(
    value: Any, header: tuple[str, ...], column: int, number: int, text_columns: set[str], problems: list[str]
) -> str:
    def where() -> str:  # only for a problem: most cells have none
        name = f"「{header[column]}」" if column < len(header) else f"第 {column + 1} 列"
        return f"第 {number} 行{name}"

    if value is None:
        return ""
    if isinstance(value, _Refused):
        problems.append(f"{where()}：{value.reason}")
        return ""
    text_column = column < len(header) and header[column] in text_columns
    if isinstance(value, str):
        if text_column and SCIENTIFIC.fullmatch(value.strip()):
            problems.append(f"{where()}：“{value.strip()}”已被 Excel 改成科学计数法，原号码已丢失；{TEXT_FORMAT_HINT}")
        return value.strip()
    if text_column:
        problems.append(f"{where()}：该列须为文本，数字会被 Excel 改动；{TEXT_FORMAT_HINT}")
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(timespec="seconds")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)
