"""Find filters by name: the built-ins, and third-party ones through an entry-point group.

A third-party package exposes a filter with, in its pyproject.toml:

    [project.entry-points."subliminal_audit.filters"]
    my-filter = "my_package.my_module:MyFilter"

`create_filter("numbers-format:max_count=8")` builds a filter from text; values are converted to
the dataclass field's type (int, float, bool, str, or a list of str separated by `|`). Names
follow `auditor.registry`: one class per name, plugins loaded once, a built-in wins.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any

from auditor.errors import AuditError
from auditor.registry import Registry
from filters.base import Filter

ENTRY_POINT_GROUP = "subliminal_audit.filters"
FILTERS: Registry[type] = Registry(
    "filter",
    ENTRY_POINT_GROUP,
    builtins=(
        "filters.numbers_format",
        "filters.banned_numbers",
        "filters.trait_words",
        "filters.cot_correct",
        "filters.regex",
        "filters.llm_judge",
        "filters.random_drop",
        "filters.match_reference",
        "filters.replace_overused",
        "filters.shuffle_numbers",
        "filters.likelihood",
    ),
)


def register(cls: type) -> type:
    """Class decorator: make a filter class available under its `name`."""
    return FILTERS.register(cls)


def available_filters() -> dict[str, type]:
    """Every known filter, by name."""
    return FILTERS.available()


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split `name:key=value,key=value` into the name and raw parameter text.

    Commas inside values are kept unless they start a new `key=`, so regexes such as
    `pattern=a{1,3}` survive.
    """
    name, _, rest = spec.partition(":")
    params: dict[str, str] = {}
    if rest.strip():
        for part in re.split(r",(?=\s*[A-Za-z_]\w*\s*=)", rest):
            key, sep, value = part.partition("=")
            if not sep:
                raise AuditError(f"filter {spec!r}: expected key=value, got {part!r}")
            params[key.strip().replace("-", "_")] = value.strip()
    return name.strip(), params


def _convert(value: Any, annotation: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value
    origin = typing.get_origin(annotation)
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and args:
        return _convert(value, args[0], where)
    if origin in (list, tuple) or annotation in (list, tuple):
        items = [item for item in value.split("|") if item != ""]
        inner = args[0] if args else str
        converted = [_convert(item, inner, where) for item in items]
        return tuple(converted) if (origin or annotation) is tuple else converted
    try:
        if annotation is bool:
            if value.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(value)
            return value.lower() in {"true", "1", "yes"}
        if annotation in (int, float):
            return annotation(value)
    except ValueError:
        raise AuditError(f"{where}: {value!r} is not a valid {annotation.__name__}") from None
    return value


def create_filter(spec: str | dict[str, Any], **context: Any) -> Filter:
    """Build a filter from `name:k=v,...` text or a `{"name": ..., **params}` mapping.

    `context` (e.g. `trait="owl"`) fills parameters of the same name that the spec left out.
    """
    if isinstance(spec, str):
        name, params = parse_spec(spec)
    else:
        params = dict(spec)
        name = str(params.pop("name", ""))
    cls = FILTERS.get(name)
    if not dataclasses.is_dataclass(cls):
        return cls(**params)
    hints = typing.get_type_hints(cls)
    fields = {field.name for field in dataclasses.fields(cls) if field.init}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise AuditError(
            f"filter {name!r}: unknown parameter(s) {', '.join(unknown)}; "
            f"parameters: {', '.join(sorted(fields)) or '(none)'}"
        )
    values = {
        key: _convert(value, hints[key], f"filter {name!r}, {key}") for key, value in params.items()
    }
    for key, value in context.items():
        if key in fields and key not in values and value is not None:
            values[key] = value
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise AuditError(f"filter {name!r}: {error}") from None
