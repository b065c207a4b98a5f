"""What a spreadsheet import may hold and how it is refused (issue #5), shared by `workflows.tabular` (tables, CSV)
and `workflows.xlsx_reading` (the .xlsx package and its first sheet)."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

EXCEL_MAX_ROW = 1_048_576  # no real sheet has a row beyond this
MAX_PROBLEMS = 20  # cell problems listed before reading stops
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"#!")


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


_Cells = Generator[tuple[int, Sequence[Any]], None, None]  # (sheet row number, raw cell values)

@dataclass(frozen=True)
class _Refused:
    """A cell that is never imported: a formula or an error value; `reason` goes into the problem."""

    reason: str


def refuse_foreign(data: bytes, expected: str) -> None:
    if data.startswith(OLE2_MAGIC):
        raise TableError("这是旧版 Excel（.xls）或设置了密码的工作簿：请取消密码并“另存为”.xlsx 后再上传")
    if data.startswith(EXECUTABLE_MAGIC):
        raise TableError(f"文件内容是可执行程序，不是{expected}")
