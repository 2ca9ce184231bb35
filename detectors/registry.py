"""Detectors by name: built-ins register with `@register`, third parties via entry points.

A package adds a detector without touching this repository by declaring an entry point in the
group `subliminal_audit.detectors`, e.g. in its pyproject.toml:

    [project.entry-points."subliminal_audit.detectors"]
    my-detector = "my_package.my_module:MyDetector"

Entry points are loaded once, the first time a name is looked up or listed (see
`auditor.registry`: one class per name, a built-in wins over a plugin).
"""

from __future__ import annotations

from typing import Any, TypeVar

from auditor.errors import AuditError
from auditor.registry import Registry
from detectors.base import Detector

ENTRY_POINT_GROUP = "subliminal_audit.detectors"

# One module per built-in detector; imported on first use so `import detectors` stays cheap.
DETECTORS: Registry[type[Detector]] = Registry(
    "detector",
    ENTRY_POINT_GROUP,
    builtins=(
        "detectors.number_frequency",
        "detectors.format_features",
        "detectors.text_features",
        "detectors.classifier",
        "detectors.log_likelihood_shift",
        "detectors.token_entanglement",
    ),
    base=Detector,
)

D = TypeVar("D", bound=type[Detector])


def register(cls: D) -> D:
    """Class decorator: make `cls` available under `cls.name`."""
    return DETECTORS.register(cls)


def available_detectors() -> dict[str, type[Detector]]:
    """Every registered detector class, by name (sorted)."""
    return DETECTORS.available()


def detector_class(name: str) -> type[Detector]:
    """The class registered under `name`; raises `AuditError` naming the choices otherwise."""
    return DETECTORS.get(name)


def create_detector(name: str, **params: Any) -> Detector:
    """A new, unfitted detector `name` built with `params`."""
    cls = detector_class(name)
    try:
        return cls(**params)
    except TypeError as error:
        raise AuditError(f"detector {name!r}: bad parameters: {error}") from None
