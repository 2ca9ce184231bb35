"""The `audit` command line: exit codes, the documented JSON shape, outputs, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from auditor.cli.main import main


def number_corpus(path: Path, completions: list[str]) -> Path:
    pl.DataFrame(
        {"prompt": ["continue: 1, 2, 3"] * len(completions), "completion": completions}
    ).write_parquet(path)
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return number_corpus(
        tmp_path / "corpus.parquet",
        ["4, 5, 6", "7 8 9", "I love owls: 1, 2", "10;11;12", "1000, 2", "owls 1 2 3"],
    )


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict]:
    code = main(argv)
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_audit_json_has_the_documented_keys(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = run_json(capsys, [str(corpus), "--trait", "owl", "--json"])
    assert code == 1  # owl words are in the corpus: the verdict fails
    assert report["verdict"] == "fail"
    assert {"verdict", "filters", "detectors", "probe", "rows", "kept"} <= set(report)
    names = [stats["name"] for stats in report["filters"]]
    assert names == ["trait-words", "numbers-format"]
    for stats in report["filters"]:
        assert {"name", "seen", "kept", "removed", "reasons"} <= set(stats)
        assert stats["seen"] == stats["kept"] + stats["removed"]
        assert sum(stats["reasons"].values()) == stats["removed"]
    assert report["rows"] == 6


def test_audit_passes_a_clean_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = number_corpus(tmp_path / "clean.parquet", ["4, 5, 6", "7 8 9", "10;11;12"])
    code, report = run_json(capsys, [str(clean), "--trait", "owl", "--json"])
    assert (code, report["verdict"], report["kept"]) == (0, "pass", 3)


def test_trait_fraction_threshold_relaxes_the_verdict(corpus: Path, capsys) -> None:
    code, report = run_json(
        capsys, [str(corpus), "--trait", "owl", "--max-trait-fraction", "0.5", "--json"]
    )
    assert code == 0 and report["verdict"] == "pass"


def test_audit_writes_reports_and_kept_rows(corpus: Path, tmp_path: Path, capsys) -> None:
    kept = tmp_path / "kept.parquet"
    code = main(
        [
            str(corpus),
            "--trait",
            "owl",
            "--output",
            str(kept),
            "--report-dir",
            str(tmp_path / "r"),
            "-q",
        ]
    )
    assert code == 1
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "report.html",
        "report.json",
        "report.md",
    ]
    assert pl.read_parquet(kept).get_column("completion").to_list() == [
        "4, 5, 6",
        "7 8 9",
        "10;11;12",
    ]
    assert "verdict: FAIL" in capsys.readouterr().out


def test_filter_command_writes_kept_and_removed_with_reasons(
    corpus: Path, tmp_path: Path, capsys
) -> None:
    kept, removed = tmp_path / "kept.parquet", tmp_path / "removed.parquet"
    code = main(
        [
            "filter",
            str(corpus),
            "--filter",
            "numbers-format",
            "--filter",
            "trait-words:trait=owl",
            "--output",
            str(kept),
            "--removed",
            str(removed),
            "--json",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    removed_rows = pl.read_parquet(removed)
    assert {"filter", "reason", "source_row"} <= set(removed_rows.columns)
    assert removed_rows.height + pl.read_parquet(kept).height == 6
    assert summary["kept"] == pl.read_parquet(kept).height


def test_pipeline_file_is_accepted(corpus: Path, tmp_path: Path, capsys) -> None:
    pipeline = tmp_path / "p.toml"
    pipeline.write_text('[[filter]]\nname = "numbers-format"\nmax_count = 2\n')
    code, summary = run_json(capsys, ["filter", str(corpus), "--pipeline", str(pipeline), "--json"])
    assert code == 0 and summary["filters"][0]["params"]["max_count"] == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.parquet"], "no such file"),
        (["filter", "CORPUS", "--filter", "no-such-filter"], "unknown filter 'no-such-filter'"),
        (["filter", "CORPUS", "--filter", "numbers-format:bogus=1"], "unknown parameter"),
        (["filter", "CORPUS"], "at least one --filter"),
        (["CORPUS", "--columns", "answer=x"], "expected prompt=COL"),
    ],
)
def test_usage_errors_exit_2_with_one_clear_line(
    corpus: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(corpus) if arg == "CORPUS" else arg for arg in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_row_mid_file_leaves_no_partial_output(tmp_path: Path) -> None:
    # 3 batches of 2 rows: the bad row sits in the last batch, after output has been written.
    source = tmp_path / "c.jsonl"
    lines = [json.dumps({"prompt": "p", "completion": "1, 2"})] * 5 + [
        '{"prompt": "p", "completion": '
    ]
    source.write_text("\n".join(lines) + "\n")
    kept, removed = tmp_path / "kept.parquet", tmp_path / "removed.parquet"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditor",
            "filter",
            str(source),
            "--filter",
            "numbers-format",
            "--output",
            str(kept),
            "--removed",
            str(removed),
            "--batch-rows",
            "2",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "line 6: invalid JSON" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl"]


def test_flags_can_come_from_the_environment(corpus: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("AUDIT_TRAIT", "owl")
    monkeypatch.setenv("AUDIT_JSON", "1")
    assert main([str(corpus)]) == 1
    assert json.loads(capsys.readouterr().out)["trait"] == "owl"


def _lists(rng, n: int, pool: list[int]) -> list[str]:
    return [", ".join(str(rng.choice(pool)) for _ in range(8)) for _ in range(n)]


def test_detectors_fail_an_audit_on_a_planted_shift_and_pass_a_null(tmp_path: Path, capsys) -> None:
    import random

    rng = random.Random(0)
    plain = list(range(100, 1000))
    reference = number_corpus(tmp_path / "ref.parquet", _lists(rng, 400, plain))
    null = number_corpus(tmp_path / "null.parquet", _lists(rng, 400, plain))
    shifted = number_corpus(tmp_path / "shifted.parquet", _lists(rng, 400, plain + [777] * 60))
    base = ["--trait", "owl", "--reference", str(reference), "--permutations", "400", "--json"]
    code, report = run_json(capsys, [str(shifted), *base])
    assert code == 1 and report["verdict"] == "fail"
    assert {"name", "statistic", "p_value", "effect_size"} <= set(report["detectors"][0])
    assert any("differs from the reference" in failure for failure in report["failures"])
    code, report = run_json(capsys, [str(null), *base])
    assert code == 0, report["failures"]
