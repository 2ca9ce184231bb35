"""The layers show in the imports: `filters/` and `detectors/` stand on the core only.

They may import the core (errors, corpus schema and IO, model protocol, traits, usage, retry,
registry, atomic writes) but never the layers above them: the CLI, the audit orchestration,
probing, the server, the lab, the backends, generation or the reports. Every import is found
with `ast`, at module level or inside a function, including `importlib.import_module("...")`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOWER = ("filters", "detectors")
UPPER = (
    "auditor.cli",
    "auditor.audit",
    "auditor.probing",
    "auditor.server",
    "auditor.lab",
    "auditor.backends",
    "auditor.generation",
    "auditor.report",
)


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """(line, module) for every import in `source`, the code of `module`; relative imports
    resolved, and `from pkg import name` also read as `pkg.name` (it may be a module)."""
    package = module.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (
                    isinstance(node.func, ast.Name)
                    and node.func.id in ("import_module", "__import__")
                )
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def violations(root: Path = REPO) -> list[str]:
    """`path:line imports module` for every import of an upper layer from a lower one."""
    problems = []
    for top in LOWER:
        for path in sorted((root / top).rglob("*.py")):
            relative = path.relative_to(root)
            module = ".".join(relative.with_suffix("").parts)
            flagged: dict[int, str] = {}  # one problem per import statement
            for line, name in imported_modules(path.read_text("utf-8"), module):
                if any(name == upper or name.startswith(upper + ".") for upper in UPPER):
                    flagged.setdefault(line, name)
            problems += [f"{relative}:{line} imports {name}" for line, name in flagged.items()]
    return problems


def test_filters_and_detectors_import_no_upper_layer() -> None:
    assert violations() == []


def test_importing_every_filter_and_detector_loads_no_upper_layer() -> None:
    """The same at run time, so a core module that imports upward is caught too."""
    script = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        for name in {LOWER!r}:
            package = importlib.import_module(name)
            for info in pkgutil.walk_packages(package.__path__, name + "."):
                importlib.import_module(info.name)
        upper = {UPPER!r}
        print(sorted(m for m in sys.modules if any(m == u or m.startswith(u + ".") for u in upper)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "planted",
    [
        "from auditor.lab.stats import welch",
        "import auditor.backends.hf",
        "from auditor import cli",
        "def later():\n    from auditor.report.render import to_json\n",
        "import importlib\nimportlib.import_module('auditor.server')\n",
    ],
)
def test_a_planted_upward_import_is_caught(tmp_path: Path, planted: str) -> None:
    (tmp_path / "filters").mkdir()
    (tmp_path / "detectors").mkdir()
    (tmp_path / "filters" / "clean.py").write_text("from auditor.errors import AuditError\n")
    (tmp_path / "detectors" / "planted.py").write_text(planted + "\n")
    [problem] = violations(tmp_path)
    assert problem.startswith("detectors/planted.py:")


def test_relative_imports_are_resolved() -> None:
    found = imported_modules("from ..auditor_like import x\nfrom . import y\n", "filters.judge.c")
    assert (1, "filters.auditor_like") in found and (2, "filters.judge.y") in found
