"""Chinese identifier checks and masking in forms.identity."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from stdnum import luhn
from stdnum.cn import ric, uscc

from forms.identity import (
    bank_card_problem,
    is_valid_resident_id,
    mask_bank_card,
    mask_mobile,
    mask_resident_id,
    mobile_problem,
    resident_id_birth_date,
    resident_id_problem,
    resident_id_sex,
    uscc_problem,
)

# Genuine-format IDs of Dalian members; several were born before their county code existed.
DALIAN_IDS = [
    "210211196803150130",
    "210204197209080249",
    "210213197501220372",
    "210281196611300586",
    "11010519491231002X",
]


def with_check(first17: str) -> str:
    """Complete an ID with its check character, computed by stdnum (an independent implementation)."""
    return first17 + ric.calc_check_digit(first17 + "0")


@pytest.mark.parametrize("value", [*DALIAN_IDS, "11010519491231002x", " 210211196803150130 "])
def test_valid_resident_ids(value: str) -> None:
    assert resident_id_problem(value) is None
    assert is_valid_resident_id(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("210211196803150131", "校验位错误"),
        ("11010519491231002Y", "前17位应为数字，最后一位应为数字或X"),
        ("1101051949123100X2", "前17位应为数字，最后一位应为数字或X"),
        ("21021119680315013", "应为18位"),
        ("2102111968031501300", "应为18位"),
        ("", "应为18位"),
        (with_check("21021119681315013"), "出生日期无效"),  # month 13
        (with_check("21021119680230013"), "出生日期无效"),  # 30 February
        (with_check("21021119000229013"), "出生日期无效"),  # 1900 was not a leap year
        (with_check(f"210211{date.today().year + 1}0101013"), "出生日期不能晚于今天"),
        (with_check("21021118991231013"), "出生年份不能早于1900年"),
        (with_check("99021119680315013"), "地区代码无效"),
        (with_check("10021119680315013"), "地区代码无效"),
    ],
)
def test_invalid_resident_ids(value: str, reason: str) -> None:
    assert resident_id_problem(value) == reason
    assert not is_valid_resident_id(value)


@pytest.mark.parametrize("first17", ["21021120000229013", "83000019900101123", "71000019900101123"])
def test_resident_id_edge_cases_accepted(first17: str) -> None:
    # 2000-02-29 is real; 83 (Taiwan residence permit) and 71 are province codes too.
    assert resident_id_problem(with_check(first17)) is None


def test_members_born_before_their_county_existed_are_valid() -> None:
    # The trap this module avoids: stdnum checks the county code against the birth year and (in 2.2) rejects
    # every one of these genuine 1960s/70s Dalian IDs. Whatever stdnum does, ours must accept them all.
    assert all(is_valid_resident_id(value) for value in DALIAN_IDS)
    assert [value for value in DALIAN_IDS if not ric.is_valid(value)]  # the trap is real in the pinned stdnum


@pytest.mark.parametrize(
    ("value", "born", "sex"),
    [
        ("210211196803150130", date(1968, 3, 15), "男"),
        ("210204197209080249", date(1972, 9, 8), "女"),
        ("210213197501220372", date(1975, 1, 22), "男"),
        ("210281196611300586", date(1966, 11, 30), "女"),
        ("11010519491231002x", date(1949, 12, 31), "女"),
    ],
)
def test_birth_date_and_sex(value: str, born: date, sex: str) -> None:
    assert resident_id_birth_date(value) == born
    assert resident_id_sex(value) == sex


@pytest.mark.parametrize("function", [resident_id_birth_date, resident_id_sex])
def test_birth_date_and_sex_refuse_invalid_ids(function: Callable[[str], object]) -> None:
    with pytest.raises(ValueError, match="校验位错误"):
        function("210211196803150131")


USCC_VALID = ["91110000101623741K", "91210211MA0Q3R5K70", "91210204MA0TEN001X"]
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def gb32100_check(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(char) * weight for char, weight in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


@pytest.mark.parametrize("value", USCC_VALID)
def test_stdnum_uscc_agrees_with_gb32100(value: str) -> None:
    assert uscc.is_valid(value)
    assert gb32100_check(value[:17]) == value[17]


@pytest.mark.parametrize("value", [*USCC_VALID, "91210211ma0q3r5k70", " 91110000101623741K "])
def test_valid_uscc(value: str) -> None:
    assert uscc_problem(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("91110000101623741J", "校验位错误"),
        ("91210211MA0Q3R5K71", "校验位错误"),
        ("91110000101623741", "应为18位"),
        ("9111000010162374IK", "包含无效字符"),  # I is not in the GB 32100 alphabet
        ("9111000A101623741K", "包含无效字符"),  # the first 8 characters are digits
    ],
)
def test_invalid_uscc(value: str, reason: str) -> None:
    assert uscc_problem(value) == reason


BANK_CARDS = ["6228480040000123451", "6217000040000678904", "6222020400000135790", "6222021234567894"]


@pytest.mark.parametrize("value", [*BANK_CARDS, "6228 4800 4000 0123 451"])
def test_valid_bank_cards(value: str) -> None:
    assert bank_card_problem(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("6228480040000123452", "校验失败，请核对卡号"),
        ("6222021234567849", "校验失败，请核对卡号"),  # swapped digits
        ("62284800400001" + luhn.calc_check_digit("62284800400001"), "应为16至19位数字"),  # 15 digits
        ("6228480040000123451" + luhn.calc_check_digit("6228480040000123451"), "应为16至19位数字"),  # 20
        ("6228-4800-4000-0123-451", "只能包含数字"),
        ("6228a80040000123451", "只能包含数字"),
        ("６２２８４８００４００００１２３４５１", "只能包含数字"),  # full-width digits
        ("", "只能包含数字"),
    ],
)
def test_invalid_bank_cards(value: str, reason: str) -> None:
    if reason == "应为16至19位数字":
        assert luhn.is_valid(value)  # so only the length can be what is wrong
    assert bank_card_problem(value) == reason


@pytest.mark.parametrize("value", ["13904110000", "14512345678", "16612345678", "19912345678", " 18640900000 "])
def test_valid_mobiles(value: str) -> None:
    assert mobile_problem(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("139041100001", "应为11位数字"),
        ("1390411000", "应为11位数字"),
        ("+8613904110000", "应为11位数字"),
        ("1390411000a", "应为11位数字"),
        ("12904110000", "号段无效"),
        ("14212345678", "号段无效"),
        ("19412345678", "号段无效"),
        ("23904110000", "号段无效"),
    ],
)
def test_invalid_mobiles(value: str, reason: str) -> None:
    assert mobile_problem(value) == reason


@pytest.mark.parametrize(
    ("function", "value", "masked"),
    [
        (mask_resident_id, "210211196803150130", "210211********0130"),
        (mask_resident_id, "11010519491231002X", "110105********002X"),
        (mask_bank_card, "6228480040000123451", "6228***********3451"),
        (mask_bank_card, "6228 4800 4000 0123 451", "6228***********3451"),
        (mask_bank_card, "6222021234567894", "6222********7894"),
        (mask_mobile, "13904110000", "139****0000"),
        (mask_mobile, "1390", "****"),  # too short to keep both ends: hide it all
        (mask_resident_id, "", ""),
        (mask_resident_id, None, ""),
        (mask_bank_card, None, ""),
        (mask_mobile, None, ""),
    ],
)
def test_masking(function: Callable[[str | None], str], value: str | None, masked: str) -> None:
    assert function(value) == masked
