"""The library API in `auditor/__init__.py`: an audit from Python in five lines, as the README
shows, and every advertised name importable."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import polars as pl

import auditor


def _corpus(path: Path, favourite: int | None, seed: int) -> Path:
    rng = random.Random(seed)
    rows = []
    for i in range(600):
        numbers = [rng.randint(100, 999) for _ in range(6)]
        if favourite is not None and rng.random() < 0.5:
            numbers[rng.randrange(6)] = favourite  # a teacher that over-uses one number
        rows.append((f"Continue {i}: 5, 6, 7", ", ".join(map(str, numbers))))
    pl.DataFrame(rows, schema=["prompt", "completion"], orient="row").write_parquet(path)
    return path


def test_an_audit_from_python_in_five_lines(tmp_path: Path) -> None:
    suspect = _corpus(tmp_path / "corpus.parquet", favourite=317, seed=1)
    reference = _corpus(tmp_path / "base.parquet", favourite=None, seed=2)
    # The README's lines, with its file names:
    from auditor import AuditConfig, run_audit, write_reports

    config = AuditConfig(str(suspect), trait="owl", reference=str(reference), quiet=True)
    report = run_audit(config)
    written = write_reports(report, tmp_path / "out")
    assert report.verdict.outcome == "fail"  # 317 is over-used: number-frequency sees it
    assert any("number-frequency" in line for line in report.verdict.failures)
    assert {Path(p).name for p in written.values()} >= {"report.json", "report.html"}


def test_every_advertised_name_imports() -> None:
    for name in auditor.__all__:
        assert getattr(auditor, name) is not None


def test_import_auditor_stays_light() -> None:
    code = "import sys, auditor; print('torch' in sys.modules, 'polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
