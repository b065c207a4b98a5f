"""A decided step's form data as printed lines, titled from the form the step was filled in with (issue 7 "Records").

The studio application record prints every opinion with its whole form (a district's ranking, the city's site-visit
score sheet, a meeting's minutes number …) without knowing the forms: field titles, enum titles, dates and amounts
come from the step's JSON Schema, so a field added to a form later prints without a change here. Values are already
masked in `approval_step.data` (identity and card fields, DESIGN "Personal data"); free text also passes through
`redact`, as on the approval record.

The form of a step: the task index's `form_name` (completed tasks stay in the index), else the deployed version's
task property `formJsonSchemaFilename` for the step's BPMN id (a step that a return has since removed from the index),
else none, and the data's own keys are printed as labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
from forms.loader import declared_properties, resolve_ref
from workflows.engine.deployment import FORM_PROPERTY, properties, specs_for
from workflows.models import ApprovalStep, ProcessInstance, TaskIndexEntry
from workflows.record_sections import redact
from workflows.task_index import ADDED_SIGN_FORM

SEPARATOR = "·"
TOTAL = "合计"
# Text longer than this (or with a line break) is printed across the whole row rather than beside its label.
SHORT_TEXT = 40


@dataclass(frozen=True)
class Field:
    label: str
    value: str
    long: bool = False


@dataclass(frozen=True)
class FieldTable:
    """A nested part of a form printed as a table: a score sheet (项目, 得分) or a list of rows."""

    label: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    total: tuple[str, ...] | None  # 合计: the sum of each numeric column, "" elsewhere


@dataclass(frozen=True)
class StepFields:
    fields: tuple[Field, ...]
    tables: tuple[FieldTable, ...]


class StepForms:
    """The form of each step of one case, each form file loaded once."""

    def __init__(self, session: Session, instance: ProcessInstance) -> None:
        self._session = session
        self._instance = instance
        self._indexed: dict[str, str] = {
            task_id: name
            for task_id, name in session.execute(
                select(TaskIndexEntry.task_id, TaskIndexEntry.form_name).where(
                    TaskIndexEntry.instance_id == instance.id, TaskIndexEntry.form_name.is_not(None)
                )
            )
            if name
        }
        self._by_bpmn_id: dict[str, str] | None = None
        self._loaded: dict[str, forms.FormDefinition | None] = {}

    def _spec_forms(self) -> dict[str, str]:
        if self._by_bpmn_id is None:
            found: dict[str, str] = {}
            spec, subprocess_specs = specs_for(self._instance.process_version)
            for process_spec in (spec, *subprocess_specs.values()):
                for task_spec in process_spec.task_specs.values():
                    name = properties(task_spec).get(FORM_PROPERTY)
                    bpmn_id = getattr(task_spec, "bpmn_id", None)
                    if name and bpmn_id:
                        found[bpmn_id] = name
            self._by_bpmn_id = found
        return self._by_bpmn_id

    def is_submission(self, step: ApprovalStep) -> bool:
        """Whether `step` is the start form's record (operations.start_case writes it at the start event)."""
        spec, _subprocess_specs = specs_for(self._instance.process_version)
        return step.bpmn_id in {getattr(output, "bpmn_id", None) for output in spec.start.outputs}

    def form_name(self, step: ApprovalStep) -> str | None:
        if step.kind == "added_sign":
            return ADDED_SIGN_FORM
        return self._indexed.get(step.task_id) or self._spec_forms().get(step.bpmn_id)

    def form(self, step: ApprovalStep) -> forms.FormDefinition | None:
        name = self.form_name(step)
        if not name:
            return None
        if name not in self._loaded:
            try:
                self._loaded[name] = forms.load_form(name)
            except (forms.FormNotFound, forms.InvalidFormSchema):
                self._loaded[name] = None  # a form since removed: the data still prints, under its keys
        return self._loaded[name]


def step_fields(data: dict[str, Any], form: forms.FormDefinition | None) -> StepFields:
    """Every filled-in value of `data`, in the form's order (keys the form does not declare last), titled."""
    root = form.schema if form is not None else {}
    fields: list[Field] = []
    tables: list[FieldTable] = []
    _collect(data, root, root, "", fields, tables)
    return StepFields(tuple(fields), tuple(tables))


def _ordered(data: dict[str, Any], declared: dict[str, Any]) -> list[str]:
    return [key for key in declared if key in data] + sorted(key for key in data if key not in declared)


def _collect(
    data: dict[str, Any],
    schema: dict[str, Any],
    root: dict[str, Any],
    prefix: str,
    fields: list[Field],
    tables: list[FieldTable],
) -> None:
    declared = declared_properties(schema, root)
    for key in _ordered(data, declared):
        value = data[key]
        sub = resolve_ref(declared.get(key, {}), root)
        label = prefix + str(sub.get("title") or key)
        if isinstance(value, dict):
            sheet = _score_sheet(label, value, sub, root)
            if sheet is not None:
                tables.append(sheet)
            else:
                _collect(value, sub, root, label + SEPARATOR, fields, tables)
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            tables.append(_row_table(label, value, resolve_ref(sub.get("items", {}), root), root))
        else:
            text = display(value, sub)
            if text:
                fields.append(Field(label, text, long=len(text) > SHORT_TEXT or "\n" in text))


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _is_numeric(schema: dict[str, Any]) -> bool:
    return schema.get("type") in ("integer", "number")


def _score_sheet(label: str, value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any]) -> FieldTable | None:
    """An object whose declared fields are all numbers (a score sheet): one line per item and their 合计."""
    declared = declared_properties(schema, root)
    subs = {key: resolve_ref(sub, root) for key, sub in declared.items()}
    if not subs or not all(_is_numeric(sub) for sub in subs.values()):
        return None
    keys = _ordered(value, declared)
    numbers = [_number(value[key]) for key in keys]
    if any(number is None for number in numbers):
        return None
    rows = tuple((str(subs.get(key, {}).get("title") or key), display(value[key], subs.get(key, {}))) for key in keys)
    total = sum((number for number in numbers if number is not None), Decimal(0))
    return FieldTable(label, ("项目", "得分"), rows, (TOTAL, _plain_number(total)))


def _row_table(label: str, items: list[dict[str, Any]], schema: dict[str, Any], root: dict[str, Any]) -> FieldTable:
    declared = declared_properties(schema, root)
    keys: list[str] = list(declared)
    for item in items:
        keys += [key for key in item if key not in keys]
    keys = [key for key in keys if any(key in item for item in items)]
    subs = [resolve_ref(declared.get(key, {}), root) for key in keys]
    rows = tuple(tuple(display(item.get(key), sub) for key, sub in zip(keys, subs, strict=True)) for item in items)
    totals: list[str] = []
    for index, (key, sub) in enumerate(zip(keys, subs, strict=True)):
        numbers = [_number(item.get(key)) for item in items]
        summable = _is_numeric(sub) and all(number is not None for number in numbers)
        totals.append(_plain_number(sum((n for n in numbers if n is not None), Decimal(0))) if summable else "")
        if index == 0 and not summable:
            totals[0] = TOTAL
    has_total = any(text and text != TOTAL for text in totals)
    columns = tuple(str(sub.get("title") or key) for key, sub in zip(keys, subs, strict=True))
    return FieldTable(label, columns, rows, tuple(totals) if has_total else None)


def _plain_number(number: Decimal) -> str:
    """`92`, `86.5`: no exponent, no trailing zeros after the point."""
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def display(value: Any, schema: dict[str, Any]) -> str:
    """A value as printed: 是/否, 年月日 dates, amounts to the fen, an enum's title, lists joined with 、."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        items = schema.get("items")
        items = items if isinstance(items, dict) else {}
        return "、".join(text for text in (display(item, items) for item in value) if text)
    fmt = schema.get("format")
    if fmt == "money" and (amount := _number(value)) is not None:
        return f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f} 元"
    if fmt == "date" and isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return redact(value)
        return f"{day.year}年{day.month}月{day.day}日"
    for option in schema.get("oneOf") or schema.get("anyOf") or ():
        if isinstance(option, dict) and option.get("const") == value and option.get("title"):
            return str(option["title"])
    if isinstance(value, (int, float, Decimal)) and (number := _number(value)) is not None:
        return _plain_number(number)
    return redact(str(value))
