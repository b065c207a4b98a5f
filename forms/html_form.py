"""A form's JSON Schema as HTML fields, and an HTML form post back as the nested data the schema describes.

Browsers post flat text: nested objects use dotted names (``reporter.mobile``), booleans a hidden ``false``
followed by a ``true`` checkbox so that an unticked box still says "false".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from forms.loader import FormDefinition, declared_properties, resolve_ref

TEXTAREA_MIN_LENGTH = 300  # strings allowed to be this long get a multi-line box


@dataclass(frozen=True)
class FieldView:
    """What a template needs to draw one field."""

    name: str
    title: str
    kind: str  # text, textarea, date, datetime, select, checkbox, money, integer, number, group
    required: bool = False
    options: tuple[str, ...] = ()
    max_length: int | None = None
    description: str = ""
    # `x-confidential` in the schema: personal data of a third party (a hazard reporter) that only the record
    # holding it may show; summaries of the case leave it out (domain §2.b B9).
    confidential: bool = False
    children: tuple[FieldView, ...] = field(default=())


def _kind(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    fmt = schema.get("format")
    if kind == "object":
        return "group"
    if "enum" in schema:
        return "select"
    if kind == "boolean":
        return "checkbox"
    if kind == "integer":
        return "integer"
    if kind == "number":
        return "money" if fmt == "money" else "number"
    if fmt == "date":
        return "date"
    if fmt == "date-time":
        return "datetime"
    if int(schema.get("maxLength", 0)) >= TEXTAREA_MIN_LENGTH:
        return "textarea"
    return "text"


def _views(
    schema: Mapping[str, Any], root: Mapping[str, Any], prefix: str, confidential: bool = False
) -> tuple[FieldView, ...]:
    required = set(resolve_ref(schema, root).get("required", []))
    views = []
    for name, raw in declared_properties(schema, root).items():
        prop = resolve_ref(raw, root)
        dotted = f"{prefix}{name}"
        kind = _kind(prop)
        secret = confidential or bool(prop.get("x-confidential"))
        views.append(
            FieldView(
                name=dotted,
                title=str(prop.get("title") or name),
                kind=kind,
                required=name in required,
                options=tuple(str(option) for option in prop.get("enum", ())),
                max_length=prop.get("maxLength"),
                description=str(prop.get("description") or ""),
                confidential=secret,
                children=_views(prop, root, f"{dotted}.", secret) if kind == "group" else (),
            )
        )
    return tuple(views)


def field_views(form: FormDefinition) -> tuple[FieldView, ...]:
    """The form's fields in schema order, conditional ones included (the server decides when they are needed)."""
    return _views(form.schema, form.schema, "")


def leaf_fields(views: Iterable[FieldView]) -> Iterable[FieldView]:
    """Every input field, nested groups flattened."""
    for view in views:
        if view.kind == "group":
            yield from leaf_fields(view.children)
        else:
            yield view


def unplaced_errors(views: Iterable[FieldView], errors: Mapping[str, str], *extra_fields: str) -> list[str]:
    """Messages for no drawn field (a rule across fields, say), to show above the form instead of losing them."""
    placed = {view.name for view in leaf_fields(views)} | set(extra_fields)
    return [message for name, message in errors.items() if name not in placed]


def submission_from_post(form: FormDefinition, posted: Any) -> dict[str, Any]:
    """Nested raw data from a posted MultiDict (``getlist``), ready for `validate_submission`.

    Only declared fields are taken: anything else a client adds to the post is ignored.
    """
    data: dict[str, Any] = {}
    for view in leaf_fields(field_views(form)):
        values = posted.getlist(view.name)
        if not values:
            continue
        # The checkbox comes after its hidden "false", so the last value is the user's choice.
        value = values[-1]
        target = data
        *parents, leaf = view.name.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return data


def flat_values(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested data as dotted names, to fill a form with current or previously typed values."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            flat.update(flat_values(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
