"""The generic registry: one class per name, entry points loaded once, clear errors."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

import auditor.registry
from auditor.errors import AuditError
from auditor.registry import Registry

GROUP = "subliminal_audit.tests"


class Base:
    name = ""


class Owl(Base):
    name = "owl"


class Other(Base):
    name = "owl"


class NotABase:
    name = "stray"


def _plugin(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=target, group=GROUP)


class Installed:
    """The entry points the registry will see, and how many times it scanned them."""

    def __init__(self) -> None:
        self.plugins: list[EntryPoint] = []
        self.scans = 0

    def __call__(self, group: str) -> list[EntryPoint]:
        assert group == GROUP
        self.scans += 1
        return self.plugins


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Installed:
    fake = Installed()
    monkeypatch.setattr(auditor.registry, "entry_points", fake)
    return fake


def test_a_name_belongs_to_one_class() -> None:
    things: Registry[type] = Registry("thing", GROUP, builtins=())
    assert things.register(Owl) is Owl
    things.register(Owl)  # the same class again (a re-import) is fine
    with pytest.raises(TypeError, match=r"thing name 'owl' is already taken by .*\.Owl"):
        things.register(Other)
    assert things.available() == {"owl": Owl}


def test_a_class_without_a_name_cannot_register() -> None:
    with pytest.raises(TypeError, match="non-empty class attribute `name`"):
        Registry("thing", GROUP, builtins=()).register(Base)


def test_an_unknown_name_lists_the_known_ones(installed: Installed) -> None:
    things: Registry[type] = Registry("thing", GROUP, builtins=())
    things.register(Owl)
    with pytest.raises(AuditError, match=r"unknown thing 'dolphin'; available: owl$"):
        things.get("dolphin")


def test_entry_points_load_once_and_built_ins_win(installed: Installed) -> None:
    installed.plugins += [
        _plugin("eagle", f"{__name__}:Other"),
        _plugin("owl", f"{__name__}:Other"),
    ]
    things: Registry[type] = Registry("thing", GROUP, builtins=(), base=Base)
    things.register(Owl)
    assert things.available() == {"eagle": Other, "owl": Owl}
    assert things.get("eagle") is Other
    things.available()
    assert installed.scans == 1


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_anywhere:Thing", "plugin 'bad' .* failed to load"),
        (f"{__name__}:NotABase", "plugin 'bad' .* is not a Base"),
    ],
)
def test_a_broken_plugin_is_one_clear_error(
    installed: Installed, target: str, message: str
) -> None:
    installed.plugins.append(_plugin("bad", target))
    with pytest.raises(AuditError, match=message):
        Registry("thing", GROUP, builtins=(), base=Base).available()
