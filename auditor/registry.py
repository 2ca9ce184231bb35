"""Plug-ins by name: built-ins register with a decorator, third parties through entry points.

Filters and detectors are both found this way (`filters/registry.py`, `detectors/registry.py`),
with one behaviour: a name belongs to one class (registering a different class under a taken
name is an error, not a silent overwrite); built-in modules and the entry-point group are
loaded once, on the first lookup or listing; a built-in wins over a plugin of the same name;
an unknown name is an `AuditError` listing the known ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from auditor.errors import AuditError

C = TypeVar("C", bound=type)


class Registry(Generic[C]):
    """Classes of one kind (e.g. "filter") by name.

    builtins: modules whose import registers the built-in classes (imported on first use, so
        importing the package stays cheap).
    base: a class every plugin must subclass, or None to accept any class.
    """

    def __init__(
        self, kind: str, group: str, builtins: Sequence[str], base: type | None = None
    ) -> None:
        self.kind = kind
        self.group = group
        self.builtins = tuple(builtins)
        self.base = base
        self._classes: dict[str, C] = {}
        self._loaded = False

    def register(self, cls: C) -> C:
        """Class decorator: make `cls` available under its class attribute `name`."""
        name = getattr(cls, "name", None)
        if not name:
            raise TypeError(f"{cls.__qualname__} must set a non-empty class attribute `name`")
        self._add(name, cls)
        return cls

    def _add(self, name: str, cls: C) -> None:
        existing = self._classes.get(name)
        if existing is not None and not _same_class(existing, cls):
            raise TypeError(
                f"{self.kind} name {name!r} is already taken by "
                f"{existing.__module__}.{existing.__qualname__}"
            )
        self._classes[name] = cls

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self.builtins:
            importlib.import_module(module)
        for entry in entry_points(group=self.group):
            if entry.name in self._classes:
                continue  # a built-in wins over a plugin of the same name
            try:
                cls = entry.load()
            except Exception as error:  # a broken plugin must not take the built-ins down
                raise AuditError(
                    f"{self.kind} plugin {entry.name!r} ({entry.value}) failed to load: {error}"
                ) from error
            if not isinstance(cls, type) or (
                self.base is not None and not issubclass(cls, self.base)
            ):
                expected = self.base.__name__ if self.base is not None else "class"
                raise AuditError(
                    f"{self.kind} plugin {entry.name!r} ({entry.value}) is not a {expected}"
                )
            self._add(entry.name, cls)

    def available(self) -> dict[str, C]:
        """Every known class, by name (sorted)."""
        self._load()
        return dict(sorted(self._classes.items()))

    def get(self, name: str) -> C:
        """The class registered under `name`; an `AuditError` naming the choices otherwise."""
        self._load()
        try:
            return self._classes[name]
        except KeyError:
            choices = ", ".join(sorted(self._classes)) or "(none)"
            raise AuditError(f"unknown {self.kind} {name!r}; available: {choices}") from None


def _same_class(a: type, b: type) -> bool:
    """The same class, also when its module was imported again (a reload, a test's import)."""
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)
