"""Form loading, submission coercion and validation, canonical JSON hashing (the forms package)."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import forms
from forms import (
    FormDefinition,
    FormNotFound,
    FormValidationError,
    InvalidFormSchema,
    canonical_json,
    data_hash,
    list_forms,
    load_form,
    validate_submission,
)

HAZARD_SCHEMA: dict[str, Any] = {
    "title": "隐患核查",
    "type": "object",
    "required": ["level", "decision", "reporter"],
    "properties": {
        "level": {"type": "string", "title": "隐患等级", "enum": ["一般", "重大"]},
        "decision": {"type": "string", "title": "核查结论", "enum": ["同意", "不同意"]},
        "opinion": {"type": "string", "title": "核查意见", "minLength": 5, "maxLength": 20},
        "deadline": {"type": "string", "title": "整改期限", "format": "date"},
        "found_at": {"type": "string", "title": "发现时间", "format": "date-time"},
        "workers": {"type": "integer", "title": "涉及人数", "minimum": 1, "maximum": 500},
        "ratio": {"type": "number", "title": "比例", "minimum": 0.1, "multipleOf": 0.05},
        "cost": {"type": "number", "title": "整改费用", "format": "money", "exclusiveMinimum": 0},
        "urgent": {"type": "boolean", "title": "是否紧急"},
        "site_code": {"type": "string", "title": "场所编号", "pattern": "^DL-[0-9]{4}$"},
        "resident_id": {"type": "string", "title": "身份证号码", "format": "cn-resident-id"},
        "employer_uscc": {"type": "string", "title": "用人单位信用代码", "format": "cn-uscc"},
        "card": {"type": "string", "title": "银行卡号", "format": "bank-card"},
        "reporter": {"$ref": "#/$defs/person", "title": "举报人"},
        "members": {"type": "array", "title": "涉及职工", "items": {"$ref": "#/$defs/person"}},
    },
    "if": {"properties": {"decision": {"const": "不同意"}}, "required": ["decision"]},
    "then": {"required": ["opinion"]},
    "$defs": {
        "person": {
            "type": "object",
            "required": ["name", "mobile"],
            "properties": {
                "name": {"type": "string", "title": "姓名"},
                "mobile": {"type": "string", "title": "举报人手机号", "format": "cn-mobile"},
            },
        }
    },
}
VALID = {"level": "一般", "decision": "同意", "reporter": {"name": "王强", "mobile": "13904110000"}}


def write_form(directory: Path, name: str, schema: Any, ui_schema: Any = None) -> None:
    (directory / f"{name}-schema.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    if ui_schema is not None:
        (directory / f"{name}-uischema.json").write_text(json.dumps(ui_schema), encoding="utf-8")


@pytest.fixture
def form(tmp_path: Path) -> FormDefinition:
    write_form(tmp_path, "hazard-verify", HAZARD_SCHEMA, {"opinion": {"ui:widget": "textarea"}})
    return load_form("hazard-verify", tmp_path)


def submit(form: FormDefinition, **fields: Any) -> dict[str, Any]:
    return validate_submission(form, {**VALID, **fields})


def errors_of(form: FormDefinition, raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(FormValidationError) as caught:
        validate_submission(form, raw)
    return caught.value.errors


# --- loading ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reference", ["hazard-verify", "hazard-verify-schema.json"])
def test_load_form_by_name_or_file_name(tmp_path: Path, reference: str) -> None:
    write_form(tmp_path, "hazard-verify", HAZARD_SCHEMA, {"opinion": {"ui:widget": "textarea"}})
    loaded = load_form(reference, tmp_path)
    assert loaded.name == "hazard-verify"
    assert loaded.title == "隐患核查"
    assert loaded.schema == HAZARD_SCHEMA
    assert loaded.ui_schema == {"opinion": {"ui:widget": "textarea"}}
    assert loaded.path == (tmp_path / "hazard-verify-schema.json").resolve()
    assert "opinion" in loaded.fields
    assert loaded.required == ["level", "decision", "reporter"]


def test_form_without_ui_schema_or_title(tmp_path: Path) -> None:
    write_form(tmp_path, "plain", {"type": "object", "properties": {"a": {"type": "string"}}})
    loaded = load_form("plain", tmp_path)
    assert loaded.ui_schema == {}
    assert loaded.title == "plain"


def test_list_forms(tmp_path: Path) -> None:
    write_form(tmp_path, "b-form", {"type": "object"}, {})
    write_form(tmp_path, "a-form", {"type": "object"})
    assert list_forms(tmp_path) == ["a-form", "b-form"]
    assert Path(forms.__file__).parent == forms.FORMS_DIR


def test_form_not_found_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(FormNotFound, match=r"missing-form-schema\.json"):
        load_form("missing-form", tmp_path)
    with pytest.raises(LookupError):
        load_form("missing-form-schema.json", tmp_path)


@pytest.mark.parametrize("reference", ["../hazard-verify", "sub/hazard-verify-schema.json", "", ".."])
def test_references_cannot_leave_the_forms_directory(tmp_path: Path, reference: str) -> None:
    forms_dir = tmp_path / "forms"
    forms_dir.mkdir()
    write_form(tmp_path, "hazard-verify", HAZARD_SCHEMA)
    with pytest.raises(FormNotFound):
        load_form(reference, forms_dir)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"type": "nonsense"}', "表单定义无效"),
        ('{"type": "object", "properties": {"a": {"minLength": -1}}}', "表单定义无效"),
        ('{"type": "array"}', "顶层 type 必须是 object"),
        ('{"type": "object",', "不是有效的 JSON"),
        ("[1, 2]", "顶层必须是 JSON 对象"),
    ],
)
def test_invalid_form_schema_names_the_file(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "broken-schema.json").write_text(content, encoding="utf-8")
    with pytest.raises(InvalidFormSchema, match=message) as caught:
        load_form("broken", tmp_path)
    assert "broken-schema.json" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_invalid_ui_schema_names_its_file(tmp_path: Path) -> None:
    write_form(tmp_path, "f", {"type": "object"})
    (tmp_path / "f-uischema.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(InvalidFormSchema, match=r"f-uischema\.json"):
        load_form("f", tmp_path)


def test_edited_file_is_reloaded_and_cached_copies_are_not_shared(tmp_path: Path) -> None:
    write_form(tmp_path, "f", {"type": "object", "title": "旧"})
    first = load_form("f", tmp_path)
    first.schema["title"] = "被调用方改动"
    assert load_form("f", tmp_path).title == "旧"

    path = tmp_path / "f-schema.json"
    write_form(tmp_path, "f", {"type": "object", "title": "新"})
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # coarse file system clocks
    assert load_form("f", tmp_path).title == "新"


# --- coercion --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("workers", "12", 12),
        ("workers", " 12 ", 12),
        ("workers", 12.0, 12),
        ("ratio", "0.35", Decimal("0.35")),
        ("ratio", 0.35, Decimal("0.35")),
        ("cost", "12.5", Decimal("12.50")),
        ("cost", "1200", Decimal("1200.00")),
        ("cost", "12.500", Decimal("12.50")),
        ("urgent", "true", True),
        ("urgent", "on", True),
        ("urgent", "1", True),
        ("urgent", "是", True),
        ("urgent", "YES", True),
        ("urgent", "false", False),
        ("urgent", "0", False),
        ("urgent", "否", False),
        ("urgent", "no", False),
        ("urgent", True, True),
        ("deadline", "2024-02-29", "2024-02-29"),
        ("found_at", "2024-05-01T10:30", "2024-05-01T10:30"),
        ("found_at", "2024-05-01T10:30:00+08:00", "2024-05-01T10:30:00+08:00"),
        ("opinion", "  需要复查现场  ", "需要复查现场"),
        ("resident_id", "11010519491231002x", "11010519491231002X"),
        ("card", "6228 4800 4000 0123 451", "6228480040000123451"),
    ],
)
def test_coercion(form: FormDefinition, field: str, raw: Any, expected: Any) -> None:
    value = submit(form, **{field: raw})[field]
    assert value == expected
    assert type(value) is type(expected)
    if field == "cost":
        assert str(value) == str(expected)  # always two decimals, never a float


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        ("workers", "十二", "涉及人数：必须是整数"),
        ("workers", "12.5", "涉及人数：必须是整数"),
        ("ratio", "abc", "比例：必须是数字"),
        ("ratio", "NaN", "比例：必须是数字"),
        ("ratio", "Infinity", "比例：必须是数字"),
        ("cost", "12.345", "整改费用：金额最多两位小数"),
        ("urgent", "maybe", "是否紧急：必须选择“是”或“否”"),
    ],
)
def test_uncoercible_values_are_field_errors(form: FormDefinition, field: str, raw: Any, message: str) -> None:
    assert errors_of(form, {**VALID, field: raw}) == {field: message}


def test_optional_blanks_and_unknown_keys_are_dropped(form: FormDefinition) -> None:
    data = submit(form, opinion="", deadline="  ", resident_id="", workers="", smuggled="x", csrf_token="t")
    assert data == VALID


def test_additional_properties_kept_when_allowed(tmp_path: Path) -> None:
    write_form(tmp_path, "open", {"type": "object", "additionalProperties": True, "properties": {}})
    assert validate_submission(load_form("open", tmp_path), {"extra": " x "}) == {"extra": "x"}


def test_nested_arrays_of_objects_are_coerced(form: FormDefinition) -> None:
    members = [{"name": " 李梅 ", "mobile": "13804110000", "age": "40"}]
    assert submit(form, members=members)["members"] == [{"name": "李梅", "mobile": "13804110000"}]


def test_array_of_scalars_keeps_row_numbers_after_blank_and_bad_rows(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "properties": {"counts": {"type": "array", "items": {"type": "integer", "title": "人数", "maximum": 9}}},
    }
    write_form(tmp_path, "rows", schema)
    form = load_form("rows", tmp_path)
    assert validate_submission(form, {"counts": ["1", " ", "3"]}) == {"counts": [1, 3]}
    errors = errors_of(form, {"counts": ["1", "x", "30"]})
    assert errors == {"counts.1": "人数（第2项）：必须是整数", "counts.2": "人数（第3项）：不能大于9"}


# --- validation messages ---------------------------------------------------------------------------------


def test_required_fields_reported_per_field_with_title(form: FormDefinition) -> None:
    errors = errors_of(form, {"decision": "同意", "reporter": {"name": "王强", "mobile": "   "}})
    assert errors == {"level": "隐患等级：必填", "reporter.mobile": "举报人手机号：必填"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("resident_id", "210211196803150131", "身份证号码：校验位错误"),
        ("resident_id", "99021119680315013X", "身份证号码：地区代码无效"),
        ("resident_id", "2102111968031501", "身份证号码：应为18位"),
        ("employer_uscc", "91110000101623741J", "用人单位信用代码：校验位错误"),
        ("card", "6228480040000123452", "银行卡号：校验失败，请核对卡号"),
        ("level", "特大", "隐患等级：必须是以下之一：一般、重大"),
        ("deadline", "2024-02-30", "整改期限：不是有效日期（YYYY-MM-DD）"),
        ("deadline", "2024/02/01", "整改期限：不是有效日期（YYYY-MM-DD）"),
        ("deadline", "20240201", "整改期限：不是有效日期（YYYY-MM-DD）"),
        ("found_at", "2024-05-01 25:00", "发现时间：不是有效日期时间（YYYY-MM-DD HH:MM）"),
        ("opinion", "太短", "核查意见：至少5个字符"),
        ("opinion", "很" * 21, "核查意见：最多20个字符"),
        ("workers", "0", "涉及人数：不能小于1"),
        ("workers", "501", "涉及人数：不能大于500"),
        ("ratio", "0.09", "比例：不能小于0.1"),
        ("ratio", "0.12", "比例：必须是0.05的整数倍"),
        ("cost", "0", "整改费用：必须大于0"),
        ("site_code", "DL-12", "场所编号：格式不正确"),
        ("level", 3, "隐患等级：应为文本"),
        ("reporter", "王强", "举报人：应为对象"),
    ],
)
def test_field_messages(form: FormDefinition, field: str, value: Any, message: str) -> None:
    assert errors_of(form, {**VALID, field: value}) == {field: message}


@pytest.mark.parametrize(("field", "value"), [("ratio", "0.1"), ("ratio", "0.15"), ("cost", "0.01")])
def test_decimal_bounds_are_exact(form: FormDefinition, field: str, value: str) -> None:
    # As floats, 0.1 > Decimal("0.1") and Decimal % 0.05 raises; the bounds must compare as decimals.
    assert submit(form, **{field: value})[field] == Decimal(value)


def test_nested_object_path(form: FormDefinition) -> None:
    errors = errors_of(form, {**VALID, "reporter": {"name": "王强", "mobile": "12904110000"}})
    assert errors == {"reporter.mobile": "举报人手机号：号段无效"}


def test_array_item_paths_name_the_row(form: FormDefinition) -> None:
    members = [{"name": "李梅", "mobile": "13804110000"}, {"mobile": "138"}]
    errors = errors_of(form, {**VALID, "members": members})
    assert errors == {
        "members.1.name": "姓名（第2项）：必填",
        "members.1.mobile": "举报人手机号（第2项）：应为11位数字",
    }


@pytest.mark.parametrize(("decision", "opinion_required"), [("不同意", True), ("同意", False)])
def test_conditional_requirement(form: FormDefinition, decision: str, opinion_required: bool) -> None:
    raw = {**VALID, "decision": decision, "opinion": " "}
    if opinion_required:
        assert errors_of(form, raw) == {"opinion": "核查意见：必填"}
        assert submit(form, decision=decision, opinion="隐患已经整改完毕")["opinion"] == "隐患已经整改完毕"
    else:
        assert "opinion" not in validate_submission(form, raw)


def test_conditional_branch_may_declare_its_own_fields(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "properties": {"decision": {"type": "string", "enum": ["同意", "不同意"]}},
        "if": {"properties": {"decision": {"const": "不同意"}}},
        "then": {"properties": {"reason": {"type": "string", "title": "退回原因"}}, "required": ["reason"]},
    }
    write_form(tmp_path, "cond", schema)
    form = load_form("cond", tmp_path)
    assert errors_of(form, {"decision": "不同意"}) == {"reason": "退回原因：必填"}
    assert validate_submission(form, {"decision": "不同意", "reason": " 材料不全 "})["reason"] == "材料不全"


def test_all_errors_reported_at_once(form: FormDefinition) -> None:
    raw = {
        "level": "特大",
        "decision": "不同意",
        "workers": "x",
        "deadline": "2024-13-01",
        "resident_id": "210211196803150131",
        "reporter": {"mobile": "13904110000"},
    }
    with pytest.raises(FormValidationError) as caught:
        validate_submission(form, raw)
    errors = caught.value.errors
    assert set(errors) == {"level", "opinion", "workers", "deadline", "resident_id", "reporter.name"}
    assert errors["reporter.name"] == "姓名：必填"
    assert all(message in str(caught.value) for message in errors.values())


def test_valid_submission_round_trip(form: FormDefinition) -> None:
    data = submit(form, cost="99.9", workers="3", resident_id="210211196803150130", employer_uscc="91210211MA0Q3R5K70")
    assert data == {
        **VALID,
        "cost": Decimal("99.90"),
        "workers": 3,
        "resident_id": "210211196803150130",
        "employer_uscc": "91210211MA0Q3R5K70",
    }


# --- canonical JSON --------------------------------------------------------------------------------------


def test_canonical_json_format() -> None:
    data = {
        "b": Decimal("12.50"),
        "a": "工会",
        "d": date(2024, 5, 1),
        "t": datetime(2024, 5, 1, 8, 30),
        "n": [1],
    }
    assert canonical_json(data) == '{"a":"工会","b":"12.50","d":"2024-05-01","n":[1],"t":"2024-05-01T08:30:00"}'


def test_data_hash_is_stable_across_key_order() -> None:
    first = {"cost": Decimal("12.50"), "reporter": {"name": "王强", "mobile": "13904110000"}}
    second = {"reporter": {"mobile": "13904110000", "name": "王强"}, "cost": Decimal("12.50")}
    assert data_hash(first) == data_hash(second)
    assert len(data_hash(first)) == 64
    assert data_hash(first) != data_hash({**first, "cost": Decimal("12.51")})


def test_canonical_json_refuses_unknown_types() -> None:
    with pytest.raises(TypeError):
        canonical_json({"x": object()})
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


# --- shipped forms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list_forms())
def test_shipped_forms_load_and_report_blank_submissions_in_chinese(name: str) -> None:
    form = load_form(name)
    try:
        validate_submission(form, {})
    except FormValidationError as error:
        assert error.errors
        assert all("：" in message for message in error.errors.values())
