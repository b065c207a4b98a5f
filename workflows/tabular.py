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
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from workflows.table_export import (  # noqa: F401  re-exported for the callers of the reading side
    CellValue,
    Sheet,
    _export_rows,
    export_text,
    write_csv,
    write_xlsx,
    write_xlsx_sheets,
)
from workflows.table_limits import (  # noqa: F401  TableError and TableLimits re-exported for the importers
    EXCEL_MAX_ROW,
    MAX_PROBLEMS,
    TableError,
    TableLimits,
    _Cells,
    _Refused,
    refuse_foreign,
)
from workflows.xlsx_reading import _xlsx_rows

HEADER_SEARCH_ROWS = 10  # a title row or two may sit above the header
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


def _csv_rows(data: bytes, limits: TableLimits) -> _Cells:
    refuse_foreign(data, "CSV 文件")
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
