"""Safe reading and writing of spreadsheets for list imports and exports (issue #5 "hostile and broken input").

`read_table` takes `.xlsx` or `.csv` bytes as hostile: size, row and column limits (`TableLimits`); an xlsx zip
directory (total size, compression ratio, entries) is checked BEFORE openpyxl opens it, so a bomb never inflates;
content that is not what the name says (old .xls or encrypted OLE2, executables, other zips) is refused; formulas
are never evaluated (read-only, no cached values) but reported by row and column; every cell becomes text, and a
number or date in a column the caller marks as text (IDs, card numbers) is an error, as Excel has already rounded
it. CSV is UTF-8 (with or without BOM) or GB18030 (what Excel in China saves), comma-separated.

`write_xlsx` / `write_csv` prefix text starting with = + - @ tab CR (or full-width ＝＋－＠) with a real `'`, so no
spreadsheet runs it (CSV injection), even after a later "save as CSV"; Decimals are text with 2 places; every cell
is text (xlsx format "@"), so long digit strings stay exact. CSV is UTF-8 with BOM so Excel shows Chinese.
"""

from __future__ import annotations

import csv
import io
import operator
import re
import zipfile
from collections import Counter
from collections.abc import Collection, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import repeat
from typing import Any

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell
from openpyxl.cell.read_only import EMPTY_CELL

EXCEL_MAX_ROW = 1_048_576  # no real sheet has a row beyond this; bounds the blank rows openpyxl fills in
MAX_PROBLEMS = 20  # cell problems listed before reading stops
HEADER_SEARCH_ROWS = 10  # a title row or two may sit above the header
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"#!")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
TEXT_FORMAT_HINT = "请将该列单元格格式设置为“文本”后重新填写"
SCIENTIFIC = re.compile(r"\d(\.\d+)?E\+\d+", re.IGNORECASE)  # how Excel saves a long number to CSV: 6.22202E+18


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
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # openpyxl raises many types for a broken workbook; all mean "cannot read"
        raise TableError("无法读取工作簿：文件已损坏或格式不受支持，请用 Excel 重新保存为 .xlsx") from exc
    return _sheet_rows(workbook, limits)


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


def _sheet_rows(workbook: Any, limits: TableLimits) -> _Cells:
    try:
        if not workbook.worksheets:
            raise TableError("工作簿里没有工作表")
        sheet = workbook.worksheets[0]
        # Cells right of column max_columns + 1 are never read, so the stored used range (written by Excel, WPS,
        # LibreOffice) must not be wider. Then it is dropped: openpyxl would silently stop at a wrong last row.
        if (sheet.max_column or 0) > limits.max_columns:
            raise TableError(
                f"工作表已用区域宽 {sheet.max_column} 列，超过上限 {limits.max_columns} 列；"
                "如果右侧没有数据，请删除多余的列后重新保存"
            )
        sheet.reset_dimensions()
        rows = enumerate(sheet.iter_rows(max_col=limits.max_columns + 1), start=1)
        gap_row: Any = None
        while True:
            try:
                number, cells = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # broken XML, entity expansion refused by expat, bad CRC, ...
                raise TableError("无法读取工作表：文件已损坏或格式不受支持，请用 Excel 重新保存为 .xlsx") from exc
            if number > EXCEL_MAX_ROW:
                raise TableError(f"工作表行号超出 Excel 范围（{EXCEL_MAX_ROW} 行），文件异常")
            # openpyxl fills skipped rows with one shared tuple of EMPTY_CELL; recognising it by identity keeps a
            # lone cell at row 1,000,000 a million cheap steps, not a hundred million cell conversions.
            if cells is gap_row or all(map(operator.is_, cells, repeat(EMPTY_CELL))):
                gap_row = cells
                yield number, ()
            elif all(cell.value is None for cell in cells):
                yield number, ()
            else:
                yield number, [_xlsx_value(cell) for cell in cells]
    finally:
        workbook.close()


def _xlsx_value(cell: Any) -> Any:
    if cell.data_type == "f" or not isinstance(cell.value, (str, int, float, bool, date, time, timedelta, type(None))):
        return _Refused("不接受公式，请改为直接填写数值或文字")  # also ArrayFormula / DataTableFormula objects
    if cell.data_type == "e":
        return _Refused(f"单元格为错误值 {cell.value}")
    return cell.value


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
            continue
        values = [_text(value, header, column, number, text_columns, problems) for column, value in enumerate(raw)]
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


def _text(
    value: Any, header: tuple[str, ...], column: int, number: int, text_columns: set[str], problems: list[str]
) -> str:
    name = f"「{header[column]}」" if column < len(header) else f"第 {column + 1} 列"
    where = f"第 {number} 行{name}"
    if value is None:
        return ""
    if isinstance(value, _Refused):
        problems.append(f"{where}：{value.reason}")
        return ""
    if isinstance(value, str):
        if column < len(header) and header[column] in text_columns and SCIENTIFIC.fullmatch(value.strip()):
            problems.append(f"{where}：“{value.strip()}”已被 Excel 改成科学计数法，原号码已丢失；{TEXT_FORMAT_HINT}")
        return value.strip()
    if column < len(header) and header[column] in text_columns:
        problems.append(f"{where}：该列须为文本，数字会被 Excel 改动；{TEXT_FORMAT_HINT}")
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


CellValue = str | int | Decimal | date | None


def export_text(value: CellValue) -> str:
    """The text written for `value`: Decimal with 2 places, bool as 是/否, text escaped against formulas."""
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
        text: str = ILLEGAL_CHARACTERS_RE.sub("", value)
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


def write_xlsx(header: Sequence[str], rows: Iterable[Sequence[CellValue]], sheet_title: str = "Sheet1") -> bytes:
    return write_xlsx_sheets([(sheet_title, header, rows)])


def write_xlsx_sheets(sheets: Sequence[Sheet]) -> bytes:
    """An .xlsx of one or more sheets, every cell text escaped by `export_text`."""
    workbook = openpyxl.Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title)
        for texts in _export_rows(header, rows):
            cells = []
            for text in texts:
                cell = WriteOnlyCell(sheet, value=text)
                cell.data_type = "s"  # never "f": export_text already escaped every text openpyxl would take for one
                cell.number_format = "@"  # text: Excel keeps long digit strings exact if the user edits them
                cells.append(cell)
            sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
