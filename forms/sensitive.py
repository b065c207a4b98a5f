"""Fields that hold identity or card numbers, found by their format, so callers can mask or withhold them.

Identity, card and mobile numbers are kept in business tables only; case data and approval records carry masked values.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from forms.identity import mask_bank_card, mask_mobile, mask_resident_id
from forms.loader import FormDefinition

MASKERS: dict[str, Callable[[str | None], str]] = {
    "cn-resident-id": mask_resident_id,
    "bank-card": mask_bank_card,
    "cn-mobile": mask_mobile,
}


def sensitive_paths(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(path, format) of every property, nested objects included, whose format is an identity or card number."""
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if prop.get("format") in MASKERS:
            yield (*prefix, name), prop["format"]
        if prop.get("type") == "object":
            yield from sensitive_paths(prop, (*prefix, name))


def _transform(form: FormDefinition, data: dict[str, Any], mask: bool) -> dict[str, Any]:
    result = copy.deepcopy(data)
    for path, fmt in sensitive_paths(form.schema):
        parent: Any = result
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and path[-1] in parent:
            if mask:
                parent[path[-1]] = MASKERS[fmt](parent[path[-1]])
            else:
                del parent[path[-1]]
    return result


def mask_sensitive(form: FormDefinition, data: dict[str, Any]) -> dict[str, Any]:
    return _transform(form, data, mask=True)


def without_sensitive(form: FormDefinition, data: dict[str, Any]) -> dict[str, Any]:
    return _transform(form, data, mask=False)
