"""Detectors by name: built-ins register with `@register`, third parties via entry points.

A package adds a detector without touching this repository by declaring an entry point in the
group `subliminal_audit.detectors`, e.g. in its pyproject.toml:

    [project.entry-points."subliminal_audit.detectors"]
    my-detector = "my_package.my_module:MyDetector"

Entry points are loaded lazily, the first time a name is looked up or listed.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, TypeVar

from auditor.errors import AuditError
from detectors.base import Detector

ENTRY_POINT_GROUP = "subliminal_audit.detectors"

# One module per built-in detector; imported on first use so `import detectors` stays cheap.
_BUILTIN_MODULES = (
    "detectors.number_frequency",
    "detectors.format_features",
    "detectors.classifier",
    "detectors.log_likelihood_shift",
    "detectors.token_entanglement",
)

_REGISTRY: dict[str, type[Detector]] = {}
_loaded = False

D = TypeVar("D", bound=type[Detector])


def register(cls: D) -> D:
    """Class decorator: make `cls` available under `cls.name`."""
    if not cls.name:
        raise TypeError(f"{cls.__qualname__} must set a non-empty class attribute `name`")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise TypeError(f"detector name {cls.name!r} is already taken by {existing.__qualname__}")
    _REGISTRY[cls.name] = cls
    return cls


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in _REGISTRY:
            continue  # a built-in wins over a plugin of the same name
        try:
            cls = entry.load()
        except Exception as error:  # a broken plugin must not take the built-ins down
            raise AuditError(
                f"detector plugin {entry.name!r} ({entry.value}) failed to load: {error}"
            ) from error
        if not (isinstance(cls, type) and issubclass(cls, Detector)):
            raise AuditError(f"detector plugin {entry.name!r} ({entry.value}) is not a Detector")
        _REGISTRY[entry.name] = cls


def available_detectors() -> dict[str, type[Detector]]:
    """Every registered detector class, by name (sorted)."""
    _load()
    return {name: _REGISTRY[name] for name in sorted(_REGISTRY)}


def detector_class(name: str) -> type[Detector]:
    """The class registered under `name`; raises `AuditError` naming the choices otherwise."""
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        choices = ", ".join(sorted(_REGISTRY))
        raise AuditError(f"unknown detector {name!r}; available: {choices}") from None


def create_detector(name: str, **params: Any) -> Detector:
    """A new, unfitted detector `name` built with `params`."""
    cls = detector_class(name)
    try:
        return cls(**params)
    except TypeError as error:
        raise AuditError(f"detector {name!r}: bad parameters: {error}") from None
