"""Coerce and validate submitted form data against a form's JSON Schema, with Chinese error messages.

Browsers submit every value as text, so submissions are first coerced per the schema (integers, Decimal
numbers, booleans, stripped strings, blank fields dropped), then validated with Draft 2020-12 plus our
formats. Every failing field gets exactly one message, keyed by its dotted path (``reporter.mobile``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError, best_match

from forms import identity
from forms.loader import FieldPath, FormDefinition, declared_properties, resolve_ref, schema_at

_CENT = Decimal("0.01")
_TRUE = frozenset({"true", "on", "1", "yes", "是"})
_FALSE = frozenset({"false", "off", "0", "no", "否"})
_INTEGER = re.compile(r"[+-]?\d+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# RFC 3339, but seconds and offset are optional because HTML datetime-local inputs omit them.
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})?")
_DROP = object()


class FormValidationError(ValueError):
    """A submission failed; ``errors`` maps each field path to one Chinese message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "；".join(self.errors.values())


IDENTITY_FORMATS: dict[str, Callable[[str], str | None]] = {
    "cn-resident-id": identity.resident_id_problem,
    "cn-uscc": identity.uscc_problem,
    "bank-card": identity.bank_card_problem,
    "cn-mobile": identity.mobile_problem,
}

# Stored in one canonical spelling, so lists, masking and duplicate checks see the same value.
_NORMALISERS: dict[str, Callable[[str], str]] = {
    "cn-resident-id": str.upper,
    "cn-uscc": str.upper,
    "bank-card": lambda value: "".join(value.split()),
}

_FORMAT_MESSAGES = {
    "date": "不是有效日期（YYYY-MM-DD）",
    "date-time": "不是有效日期时间（YYYY-MM-DD HH:MM）",
    "email": "不是有效的电子邮箱地址",
}

FORMAT_CHECKER = FormatChecker()


@FORMAT_CHECKER.checks("date", raises=ValueError)
def _is_date(instance: object) -> bool:
    return not isinstance(instance, str) or bool(_DATE.fullmatch(instance) and date.fromisoformat(instance))


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    return bool(_DATE_TIME.fullmatch(instance) and datetime.fromisoformat(instance.upper()))


def _identity_checker(problem: Callable[[str], str | None]) -> Callable[[object], bool]:
    def check(instance: object) -> bool:
        if isinstance(instance, str) and (reason := problem(instance)) is not None:
            raise ValueError(reason)  # becomes error.cause, so the specific reason reaches the user
        return True

    return check


for _name, _problem in IDENTITY_FORMATS.items():
    FORMAT_CHECKER.checks(_name, raises=ValueError)(_identity_checker(_problem))


def _required(validator: Any, names: Sequence[str], instance: Any, schema: Any) -> Iterator[ValidationError]:
    # Point the error at the missing field rather than its parent, so forms can show it beside the input.
    if validator.is_type(instance, "object"):
        for name in names:
            if name not in instance:
                yield ValidationError(f"{name!r} is a required property", path=(name,))


def _dependent_required(
    validator: Any, dependencies: Mapping[str, Sequence[str]], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "object"):
        for trigger, names in dependencies.items():
            if trigger in instance:
                yield from _required(validator, names, instance, schema)


def _decimal_safe(keyword: Callable[..., Any]) -> Callable[..., Any]:
    # Numbers are coerced to Decimal, but schema bounds are floats: Decimal("0.1") < 0.1 is True (the float
    # is slightly larger) and Decimal / float raises, so compare against the bound's decimal spelling.
    def check(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        if isinstance(instance, Decimal) and isinstance(value, float):
            value = Decimal(repr(value))
        return keyword(validator, value, instance, schema)

    return check


_FormValidator = validators.extend(
    Draft202012Validator,
    {
        "required": _required,
        "dependentRequired": _dependent_required,
        **{
            name: _decimal_safe(Draft202012Validator.VALIDATORS[name])
            for name in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
        },
    },
)


def _path_key(path: FieldPath) -> str:
    return ".".join(str(part) for part in path)


def _label(root: Mapping[str, Any], path: FieldPath, fallback: Mapping[str, Any] | None = None) -> str:
    title = schema_at(root, path).get("title") or (fallback or {}).get("title")
    if not title:
        title = str(path[-1]) if path else root.get("title", "表单")
    rows = [part for part in path if isinstance(part, int)]
    return f"{title}（第{rows[-1] + 1}项）" if rows else str(title)


def unstorable(text: str) -> bool:
    """Text no database can store (issue #5): a NUL (PostgreSQL refuses it in text and JSON) or a lone surrogate,
    which a JSON body can carry as `\\ud800` but no UTF-8 encoder accepts. No person types either."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class _Coercer:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.errors: dict[str, str] = {}

    def fail(self, path: FieldPath, schema: Mapping[str, Any], reason: str) -> object:
        self.errors[_path_key(path)] = f"{_label(self.root, path, schema)}：{reason}"
        return _DROP

    def coerce(self, value: Any, schema: Any, path: FieldPath) -> Any:
        schema = resolve_ref(schema, self.root)
        if isinstance(value, str):
            if unstorable(value):
                return self.fail(path, schema, "含有不允许的字符（空字符或不成对的代理字符），请删除后重试")
            value = value.strip()
            if not value:
                # A blank input means "not filled in": optional fields then skip format checks, and required
                # ones report 必填 rather than a type or length error.
                return _DROP
            value = _NORMALISERS.get(schema.get("format", ""), str)(value)
        declared = schema.get("type")
        types = [declared] if isinstance(declared, str) else list(declared or [])
        kinds = [kind for kind in types if kind != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
        if kind is None and not types:
            kind = "object" if "properties" in schema else "array" if "items" in schema else None
        if kind == "object" and isinstance(value, Mapping):
            return self.coerce_object(value, schema, path)
        if kind == "array" and isinstance(value, list | tuple):
            # Blank rows go first so that indices in error paths match the data that is validated; a value
            # that fails coercion stays, already reported, rather than shifting the rows after it.
            rows = [item for item in value if not (isinstance(item, str) and not item.strip())]
            items = schema.get("items")
            coerced = [self.coerce(item, items, (*path, index)) for index, item in enumerate(rows)]
            return [new if new is not _DROP else old for new, old in zip(coerced, rows, strict=True)]
        if kind == "integer":
            return self.coerce_integer(value, schema, path)
        if kind == "number":
            return self.coerce_number(value, schema, path)
        if kind == "boolean":
            return self.coerce_boolean(value, schema, path)
        return value

    def coerce_object(self, value: Mapping[str, Any], schema: Mapping[str, Any], path: FieldPath) -> dict[str, Any]:
        declared = declared_properties(schema, self.root)
        extra = schema.get("additionalProperties", False)
        result: dict[str, Any] = {}
        for key, item in value.items():
            sub = declared.get(key)
            if sub is None:
                if extra is False:
                    continue  # forms keep only the fields they declare
                sub = extra if isinstance(extra, dict) else {}
            coerced = self.coerce(item, sub, (*path, key))
            if coerced is not _DROP:
                result[key] = coerced
        return result

    def coerce_integer(self, value: Any, schema: Mapping[str, Any], path: FieldPath) -> Any:
        if isinstance(value, str):
            return int(value) if _INTEGER.fullmatch(value) else self.fail(path, schema, "必须是整数")
        if isinstance(value, float | Decimal):
            try:
                whole = int(value)
            except (OverflowError, ValueError):  # infinity, NaN
                return self.fail(path, schema, "必须是整数")
            return whole if whole == value else self.fail(path, schema, "必须是整数")
        return value

    def coerce_number(self, value: Any, schema: Mapping[str, Any], path: FieldPath) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            return value
        try:
            number = Decimal(repr(value) if isinstance(value, float) else value)
        except InvalidOperation:
            return self.fail(path, schema, "必须是数字")
        if not number.is_finite():
            return self.fail(path, schema, "必须是数字")
        if schema.get("format") == "money":
            try:
                cents = number.quantize(_CENT, rounding=ROUND_HALF_UP)
            except InvalidOperation:
                return self.fail(path, schema, "金额过大")
            if cents != number:
                return self.fail(path, schema, "金额最多两位小数")
            number = cents
        return number

    def coerce_boolean(self, value: Any, schema: Mapping[str, Any], path: FieldPath) -> Any:
        if isinstance(value, str):
            if value.lower() in _TRUE:
                return True
            if value.lower() in _FALSE:
                return False
            return self.fail(path, schema, "必须选择“是”或“否”")
        if type(value) is int and value in (0, 1):
            return bool(value)
        return value


_TYPE_NAMES = {"string": "文本", "integer": "整数", "number": "数字", "boolean": "是或否", "object": "对象"}
_TYPE_NAMES |= {"array": "列表", "null": "空值"}
# When one field fails several keywords, report the most fundamental one.
_PRIORITY = {"required": 0, "type": 1, "enum": 2, "const": 2, "format": 3}
_MESSAGES = {
    "required": "必填",
    "const": "必须为“{}”",
    "minLength": "至少{}个字符",
    "maxLength": "最多{}个字符",
    "minimum": "不能小于{}",
    "maximum": "不能大于{}",
    "exclusiveMinimum": "必须大于{}",
    "exclusiveMaximum": "必须小于{}",
    "multipleOf": "必须是{}的整数倍",
    "pattern": "格式不正确",
    "minItems": "至少{}项",
    "maxItems": "最多{}项",
    "uniqueItems": "不能有重复项",
    "additionalProperties": "包含未定义的字段",
    "unevaluatedProperties": "包含未定义的字段",
}


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def _reason(error: ValidationError) -> str:
    value: Any = error.validator_value
    if error.validator == "type":
        names = [value] if isinstance(value, str) else list(value)
        return "应为" + "或".join(_TYPE_NAMES.get(name, name) for name in names)
    if error.validator == "enum":
        return "必须是以下之一：" + "、".join(_show(item) for item in value)
    if error.validator == "format":
        if value in IDENTITY_FORMATS and error.cause is not None:
            return str(error.cause)
        return _FORMAT_MESSAGES.get(value, "格式不正确")
    template = _MESSAGES.get(str(error.validator), "不符合要求")
    return template.format(_show(value))


def _leaf(error: ValidationError) -> ValidationError:
    # anyOf/oneOf failures only say "none matched"; the closest branch's error is more useful.
    while error.validator in ("anyOf", "oneOf") and error.context:
        error = best_match(error.context)
    return error


def validate_submission(form: FormDefinition, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Coerce and validate ``raw``; return the clean data or raise FormValidationError with every problem."""
    root = form.schema
    coercer = _Coercer(root)
    data = coercer.coerce_object(raw, resolve_ref(root, root), ())
    found: dict[str, tuple[int, str]] = {}
    validator = _FormValidator(root, format_checker=FORMAT_CHECKER)
    for error in validator.iter_errors(data):
        error = _leaf(error)
        path: FieldPath = tuple(error.absolute_path)
        key = _path_key(path)
        if key in coercer.errors:
            continue  # the coercion message is the real cause
        rank = _PRIORITY.get(str(error.validator), 9)
        if key not in found or rank < found[key][0]:
            schema = error.schema if isinstance(error.schema, Mapping) else None
            found[key] = (rank, f"{_label(root, path, schema)}：{_reason(error)}")
    errors = {**coercer.errors, **{key: message for key, (_, message) in found.items()}}
    if errors:
        raise FormValidationError(errors)
    return data


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def canonical_json(data: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, Decimal as string, dates in ISO format."""
    options: dict[str, Any] = {"sort_keys": True, "ensure_ascii": False, "separators": (",", ":")}
    return json.dumps(data, allow_nan=False, default=_json_default, **options)


def data_hash(data: Any) -> str:
    """SHA-256 hex digest of :func:`canonical_json`, for recording exactly what was approved."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()
