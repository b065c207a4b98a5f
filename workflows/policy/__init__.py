"""Policy rules (DESIGN §5): dated parameters with sources, and pure Decimal calculations.

Calculation modules (`fees`, `aid`, `studio`, `hazard`) take plain values (str, int, bool, Decimal,
dict) so BPMN script tasks can call them by name; `parameters` reads the dated values from the database.
Money is rounded to the fen (0.01 yuan) with ROUND_HALF_UP (四舍五入), the rounding used in Chinese
financial practice.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")


def as_decimal(value: Decimal | int | str, name: str = "数值") -> Decimal:
    """Coerce a script or form value to Decimal.

    Floats are refused: a binary float has already lost the exact amount, so accepting one would hide
    the bug that produced it. bool is refused because it is an int that is never a meant amount.
    """
    if isinstance(value, bool | float):
        raise TypeError(f"{name}必须是精确数值（Decimal、整数或数字字符串），不能是 {type(value).__name__}")
    if isinstance(value, Decimal):
        result = value
    else:
        try:
            result = Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            raise ValueError(f"{name}不是有效数值：{value!r}") from None
    if not result.is_finite():
        raise ValueError(f"{name}不是有限数值：{value!r}")
    return result


def to_fen(amount: Decimal) -> Decimal:
    """Round an amount in yuan to the fen, half up."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def as_count(value: Decimal | int | str, name: str = "数量") -> int:
    """A whole number from a parameter that may arrive as Decimal ("25") or int; refuses fractions."""
    number = as_decimal(value, name)
    if number != number.to_integral_value():
        raise ValueError(f"{name}必须是整数：{value!r}")
    return int(number)


__all__ = ["FEN", "as_count", "as_decimal", "to_fen"]
