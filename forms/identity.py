"""Checks and list masking for Chinese identifiers: resident ID, USCC, bank card, mobile number.

The ``*_problem`` functions return ``None`` for a valid value, else a short Chinese reason that a form
error message can append to the field title.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum import luhn
from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

# GB/T 2260 province-level codes. We deliberately check only the province, not the county: python-stdnum's
# cn.ric checks the county against the year it was created, and rejects genuine IDs of people born before
# their county was renamed or founded (e.g. 210211 甘井子区, created 1983, for members born in the 1960s).
PROVINCES = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82",
        "83",  # residence permits for Taiwan residents
    }
)  # fmt: skip

_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RIC_CHECK = "10X98765432"
_RIC_SHAPE = re.compile(r"\d{17}[\dX]")

_MOBILE = re.compile(r"1(3[0-9]|4[01456879]|5[0-35-9]|6[2567]|7[0-8]|8[0-9]|9[0-35-9])\d{8}")


def _normalise_resident_id(value: str) -> str:
    return value.strip().upper()


def resident_id_check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits of a resident ID."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _RIC_WEIGHTS, strict=True))
    return _RIC_CHECK[total % 11]


def _birth_date(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def resident_id_problem(value: str) -> str | None:
    """Why ``value`` is not a valid 18-digit resident ID number, or None if it is."""
    if not isinstance(value, str):
        return "应为文本"
    number = _normalise_resident_id(value)
    if len(number) != 18:
        return "应为18位"
    if not _RIC_SHAPE.fullmatch(number):
        return "前17位应为数字，最后一位应为数字或X"
    if number[:2] not in PROVINCES:
        return "地区代码无效"
    born = _birth_date(number)
    if born is None:
        return "出生日期无效"
    if born.year < 1900:
        return "出生年份不能早于1900年"
    if born > date.today():
        return "出生日期不能晚于今天"
    if resident_id_check_character(number[:17]) != number[17]:
        return "校验位错误"
    return None


def is_valid_resident_id(value: str) -> bool:
    return resident_id_problem(value) is None


def _valid_resident_id(value: str) -> str:
    problem = resident_id_problem(value)
    if problem is not None:
        raise ValueError(f"身份证号码{problem}")
    return _normalise_resident_id(value)


def resident_id_birth_date(value: str) -> date:
    """The holder's birth date; raises ValueError for an invalid ID."""
    born = _birth_date(_valid_resident_id(value))
    assert born is not None  # validated above
    return born


def resident_id_sex(value: str) -> str:
    """Sex: "男" (odd order code) or "女"; raises ValueError for an invalid ID."""
    return "男" if int(_valid_resident_id(value)[16]) % 2 else "女"


def uscc_problem(value: str) -> str | None:
    """Why ``value`` is not a valid unified social credit code (统一社会信用代码), or None if it is."""
    if not isinstance(value, str):
        return "应为文本"
    try:
        uscc.validate(value.strip().upper())
    except InvalidLength:
        return "应为18位"
    except InvalidFormat:
        return "包含无效字符"
    except InvalidChecksum:
        return "校验位错误"
    except InvalidComponent:
        return "登记管理部门或机构类别代码无效"
    except ValidationError:
        return "格式不正确"
    return None


def _compact_card(value: str) -> str:
    return "".join(value.split())


def bank_card_problem(value: str) -> str | None:
    """Why ``value`` is not a plausible bank card number (16–19 digits, Luhn), or None if it is."""
    if not isinstance(value, str):
        return "应为文本"
    number = _compact_card(value)
    if not number.isascii() or not number.isdigit():
        return "只能包含数字"
    if not 16 <= len(number) <= 19:
        return "应为16至19位数字"
    if not luhn.is_valid(number):
        return "校验失败，请核对卡号"
    return None


def mobile_problem(value: str) -> str | None:
    """Why ``value`` is not a mainland mobile number, or None if it is."""
    if not isinstance(value, str):
        return "应为文本"
    number = value.strip()
    if not (len(number) == 11 and number.isascii() and number.isdigit()):
        return "应为11位数字"
    if not _MOBILE.fullmatch(number):
        return "号段无效"
    return None


def _mask(value: str | None, keep_start: int, keep_end: int) -> str:
    if not value:
        return ""
    if len(value) <= keep_start + keep_end:
        # Too short to hide anything while keeping both ends: hide everything rather than leak it.
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end :]


def mask_resident_id(value: str | None) -> str:
    """Keep the first 6 (region) and last 4 characters: ``210211********0130``."""
    return _mask(value.strip() if value else value, 6, 4)


def mask_bank_card(value: str | None) -> str:
    """Keep the first 4 and last 4 digits: ``6228***********3451``."""
    return _mask(_compact_card(value) if value else value, 4, 4)


def mask_mobile(value: str | None) -> str:
    """Keep the first 3 and last 4 digits: ``139****0000``."""
    return _mask(value.strip() if value else value, 3, 4)
