"""The draft aid list at scale (issue #6 "Scale", issue #9 §4): import, validate and split N rows; time and memory.

Builds an .xlsx of N valid workers (half 内退, half 买断, spread over 大连's districts), then runs the real operation
(workflows.aid.importing.import_aid_list: read, validate every row, bulk insert, split by city) on a seeded
SQLite file, and prints the wall time and the process's peak resident memory.

    .venv/bin/python bench/aid_import.py [rows]        # default 20000
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from stdnum import luhn  # noqa: E402

from forms.identity import resident_id_check_character  # noqa: E402
from tests.workflow_helpers import user  # noqa: E402
from workflows.aid.importing import city_split, import_aid_list  # noqa: E402
from workflows.aid.validation import COLUMNS  # noqa: E402
from workflows.db import Base, make_engine  # noqa: E402
from workflows.demo import seed_demo  # noqa: E402
from workflows.policy.parameters import seed_policy_parameters  # noqa: E402
from workflows.tabular import TableLimits, write_xlsx  # noqa: E402

DISTRICTS = ("中山区", "西岗区", "沙河口区", "甘井子区", "旅顺口区", "金州区", "普兰店区", "瓦房店市", "庄河市")
USCC = "91210211MA0Q3R5K70"


def worker(n: int) -> list[str]:
    """Worker n: odd n 内部退养 (men born 1958–1962, 内退 from 2017-06-01), even n 买断 in 2016."""
    born = date(1958, 1, 1) + timedelta(days=n % 1600)
    internal = n % 2 == 1
    # The sequence's last digit gives the sex: odd for men. Unique IDs: the sequence varies with n.
    sequence = (n // 1600) * 2 + 1 if internal else (n // 1600) * 2
    first17 = f"210211{born:%Y%m%d}{sequence % 1000:03d}"
    resident_id = first17 + resident_id_check_character(first17)
    sex = "男" if int(first17[16]) % 2 else "女"
    prefix = f"62220200{n:07d}"
    card = prefix + luhn.calc_check_digit(prefix)
    if internal:
        retire = born.replace(year=born.year + 60)
        placement = ["内部退养", "2017-06-01", retire.isoformat(), "", "", ""]
    else:
        placement = ["买断解除劳动关系", "", "", "2016-03-01", "2016-03-15", "2018-03-14"]
    district = DISTRICTS[n % len(DISTRICTS)]
    return [f"职工{chr(0x4E00 + n % 20000)}", resident_id, sex, *placement, "大连钢铁集团有限公司", USCC, "大连市",
            district, f"139{n:08d}", "中国工商银行大连分行", card]  # fmt: skip


def seed(engine: Engine) -> None:
    """The schema, the policy parameters (the demo's plans name them, as `flask init-db` loads them) and the demo."""
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        seed_policy_parameters(session)
        seed_demo(session)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    started = time.perf_counter()
    data = write_xlsx(list(COLUMNS), [worker(n) for n in range(rows)])
    built = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        seed(engine)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            drafter = user(session, "shengzong_baozhang1")
            limits = TableLimits(max_rows=max(rows, 50_000))
            aid_import = import_aid_list(session, drafter, 2017, data, "bench.xlsx", limits=limits)
            split = [(unit.name, count) for unit, count in city_split(session, 2017)]
            row_count = aid_import.row_count
        imported = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        engine.dispose()
    print(f"{rows} rows, {len(data) / 1e6:.1f} MB xlsx (built in {built:.1f} s), SQLite file")
    print(
        f"| import: read + validate + insert + split | {imported:.2f} s | peak RSS {peak / 1024:.0f} MB "
        f"(+{(peak - before) / 1024:.0f} MB during the import) |"
    )
    print(f"imported {row_count} workers; split: {split}")


if __name__ == "__main__":
    main()
