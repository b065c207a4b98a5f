"""A demo hardship-aid list (fictional workers), dispatched and distributed, so the districts' review grid and the
`hardship_aid` case can be tried at once after `./dev.sh run`. Not part of `seed-demo`: the test databases stay
without it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import luhn

from forms.identity import resident_id_check_character
from workflows.aid.importing import import_aid_list
from workflows.aid.process import dispatch_aid_list
from workflows.aid.validation import COLUMNS
from workflows.calendar import beijing_today
from workflows.models import AidImport, TaskIndexEntry, TaskStatus, User
from workflows.operations import complete_task
from workflows.tabular import write_xlsx

DEMO_YEAR = 2018
_ENTERPRISE = ("大连钢铁集团有限公司", "91210211MA0Q3R5K70")
_DISTRICTS = (("甘井子区", "210211", 12), ("中山区", "210202", 6), ("西岗区", "210203", 6))
_NAMES = [
    "王建国",
    "李秀英",
    "张志强",
    "刘桂兰",
    "陈明华",
    "杨玉梅",
    "赵德胜",
    "黄丽娟",
    "周海涛",
    "吴淑芬",
    "徐国庆",
    "孙凤霞",
]


def _row(n: int, district: str, region: str) -> list[str]:
    first17 = f"{region}1959{1 + n % 12:02d}{10 + n % 18:02d}{100 + 2 * n + 1:03d}"
    card = f"622202{n:010d}"
    card += luhn.calc_check_digit(card)
    name = _NAMES[n % len(_NAMES)]
    bought_out = n % 4 == 3
    common = {"姓名": name, "身份证号": first17 + resident_id_check_character(first17), "性别": "男",
              "原企业名称": _ENTERPRISE[0], "统一社会信用代码": _ENTERPRISE[1], "所在市": "大连市",
              "所在区县": district, "手机号码": f"139041{n:05d}", "开户银行": "中国工商银行大连分行",
              "银行卡号": card}  # fmt: skip
    if bought_out:
        common.update({"安置方式": "买断解除劳动关系", "买断日期": "2018-02-01", "失业保险金领取起始日期": "2018-02-15",
                       "失业保险金领取终止日期": "2019-08-14"})  # fmt: skip
    else:
        common.update({"安置方式": "内部退养", "内退起始日期": "2017-03-01",
                       "法定退休日期": f"2019-{1 + n % 12:02d}-{10 + n % 18:02d}"})  # fmt: skip
    return [common.get(column, "") for column in COLUMNS]


def seed_demo_aid(session: Session) -> int:
    """Import, dispatch and distribute the demo year's list unless it exists; returns the number of workers."""
    if session.scalar(select(AidImport.id).where(AidImport.year == DEMO_YEAR)) is not None:
        return 0
    rows, n = [], 0
    for district, region, count in _DISTRICTS:
        for _ in range(count):
            rows.append(_row(n, district, region))
            n += 1
    drafter = session.scalar(select(User).where(User.username == "shengzong_baozhang1"))
    city_official = session.scalar(select(User).where(User.username == "baozhang1"))
    assert drafter is not None and city_official is not None, "run seed-demo first"
    aid_import = import_aid_list(session, drafter, DEMO_YEAR, write_xlsx(COLUMNS, rows), "演示援助名单.xlsx")
    for case in dispatch_aid_list(session, drafter, DEMO_YEAR):
        entry = session.scalar(
            select(TaskIndexEntry).where(
                TaskIndexEntry.instance_id == case.id, TaskIndexEntry.status == TaskStatus.READY.value
            )
        )
        assert entry is not None
        deadline = (beijing_today() + timedelta(days=30)).isoformat()
        complete_task(session, city_official, case.id, entry.task_id,
                      {"review_deadline": deadline, "opinion": "请各单位逐人审查家庭经济和就业情况。"})  # fmt: skip
    return aid_import.row_count
