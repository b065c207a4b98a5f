"""Load form definitions (``<name>-schema.json`` plus optional ``<name>-uischema.json``) from disk.

BPMN user tasks name their form with the SpiffArena property ``formJsonSchemaFilename``, so a form can be
referenced either by that file name or by its bare name.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

FORMS_DIR = Path(__file__).parent
SCHEMA_SUFFIX = "-schema.json"
UI_SCHEMA_SUFFIX = "-uischema.json"

FieldPath = tuple[str | int, ...]


class FormNotFound(LookupError):
    """No schema file exists for the referenced form."""


class InvalidFormSchema(ValueError):
    """A form file is not valid JSON, or its schema is not a valid Draft 2020-12 object schema."""


@dataclass(frozen=True)
class FormDefinition:
    name: str
    schema: dict[str, Any]
    ui_schema: dict[str, Any]
    path: Path

    @property
    def title(self) -> str:
        return str(self.schema.get("title") or self.name)

    @property
    def fields(self) -> dict[str, Any]:
        """Top-level fields by name, including those declared only in conditional branches."""
        return declared_properties(self.schema, self.schema)

    @property
    def required(self) -> list[str]:
        return list(self.schema.get("required", []))


def form_name(reference: str) -> str:
    """The bare form name for ``"hazard-verify"`` or ``"hazard-verify-schema.json"``."""
    name = reference.strip()
    if name.endswith(SCHEMA_SUFFIX):
        name = name[: -len(SCHEMA_SUFFIX)]
    return name


def load_form(reference: str, forms_dir: Path | None = None) -> FormDefinition:
    """Load a form by bare name or schema file name; raises FormNotFound or InvalidFormSchema."""
    directory = forms_dir if forms_dir is not None else FORMS_DIR
    name = form_name(reference)
    # References come from BPMN files, which may be uploaded: never let one climb out of the forms folder.
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise FormNotFound(f"表单引用无效：{reference!r}")
    schema_path, ui_path = _paths(directory, name)
    try:
        schema_mtime = schema_path.stat().st_mtime_ns
    except FileNotFoundError:
        raise FormNotFound(f"找不到表单文件：{schema_path}") from None
    ui_mtime = ui_path.stat().st_mtime_ns if ui_path.is_file() else None
    schema, ui_schema = _parse(schema_path, schema_mtime, ui_path, ui_mtime)
    # The parsed dicts are cached and shared, so hand out copies that callers may freely modify.
    return FormDefinition(name, copy.deepcopy(schema), copy.deepcopy(ui_schema), schema_path)


def list_forms(forms_dir: Path | None = None) -> list[str]:
    """Names of all forms in the directory, sorted."""
    directory = forms_dir if forms_dir is not None else FORMS_DIR
    return sorted(path.name[: -len(SCHEMA_SUFFIX)] for path in directory.glob(f"*{SCHEMA_SUFFIX}"))


@lru_cache(maxsize=256)
def _paths(directory: Path, name: str) -> tuple[Path, Path]:
    # Resolving walks every path component (a system call each); a form's files do not move while the server runs.
    return (directory / f"{name}{SCHEMA_SUFFIX}").resolve(), (directory / f"{name}{UI_SCHEMA_SUFFIX}").resolve()


@lru_cache(maxsize=256)
def _parse(
    schema_path: Path, schema_mtime: int, ui_path: Path, ui_mtime: int | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    # The mtimes are part of the cache key so an edited file is re-read without restarting the server.
    schema = _read_object(schema_path)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise InvalidFormSchema(f"表单定义无效：{schema_path}：{error.message}") from error
    if schema.get("type", "object") != "object":
        raise InvalidFormSchema(f"表单定义无效：{schema_path}：顶层 type 必须是 object")
    ui_schema = _read_object(ui_path) if ui_mtime is not None else {}
    return schema, ui_schema


def _read_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidFormSchema(f"表单文件不是有效的 JSON：{path}：{error}") from error
    if not isinstance(data, dict):
        raise InvalidFormSchema(f"表单文件顶层必须是 JSON 对象：{path}")
    return data


# Schema navigation, shared with validation: forms may use local $refs and declare fields inside branches.


def resolve_ref(schema: Any, root: Mapping[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref``s, letting sibling keywords (title, format) override the target's."""
    if not isinstance(schema, dict):
        return {}
    for _ in range(32):  # bounded, in case of a reference cycle
        ref = schema.get("$ref")
        if not (isinstance(ref, str) and ref.startswith("#")):
            break
        target: Any = root
        for part in filter(None, ref[1:].split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        schema = {**target, **siblings} if isinstance(target, dict) else siblings
    return schema


def declared_properties(schema: Any, root: Mapping[str, Any]) -> dict[str, Any]:
    """Properties declared at this level, including inside allOf/anyOf/oneOf and then/else branches."""
    schema = resolve_ref(schema, root)
    found: dict[str, Any] = dict(schema.get("properties") or {})
    branches = [*schema.get("allOf", []), *schema.get("anyOf", []), *schema.get("oneOf", [])]
    branches += [schema[key] for key in ("then", "else") if isinstance(schema.get(key), dict)]
    branches += list((schema.get("dependentSchemas") or {}).values())
    for branch in branches:
        for name, sub in declared_properties(branch, root).items():
            found.setdefault(name, sub)
    return found


def schema_at(root: Mapping[str, Any], path: FieldPath) -> dict[str, Any]:
    """The subschema describing the field at ``path`` (names and array indices), or {} if undeclared."""
    node: Any = root
    for part in path:
        node = resolve_ref(node, root)
        node = node.get("items") if isinstance(part, int) else declared_properties(node, root).get(part)
        if node is None:
            return {}
    return resolve_ref(node, root)
