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
    assert {
        "verdict",
        "failures",
        "next_steps",
        "decision",
        "filters",
        "detectors",
        "probe",
    } <= set(report)
    names = [stats["name"] for stats in report["filters"]]
    assert names == ["trait-words", "numbers-format", "banned-numbers"]
    assert [stats["flags_trait"] for stats in report["filters"]] == [True, False, False]
    assert report["failures"] == [
        "trait-words: 2 rows (33.33%) name the trait openly (allowed 0.00%)"
    ]
    assert "trait-words" in report["next_steps"][0]
    for stats in report["filters"]:
        assert {"name", "seen", "kept", "removed", "reasons"} <= set(stats)
        assert stats["seen"] == stats["kept"] + stats["removed"]
        assert sum(stats["reasons"].values()) == stats["removed"]
    assert report["rows"] == 6


def test_filters_alone_give_an_inconclusive_verdict_exit_3(tmp_path: Path) -> None:
    # Through the installed entry point, as CI runs it: filters pass, but nothing looked for a
    # hidden trait, so the verdict says so and names what to add.
    clean = number_corpus(tmp_path / "clean.parquet", ["5, 6, 7", "7 8 9", "10;11;12"])
    command = [sys.executable, "-m", "auditor", str(clean), "--trait", "owl"]
    result = subprocess.run([*command, "--json"], capture_output=True, text=True, check=False)
    assert result.returncode == 3, result.stderr
    report = json.loads(result.stdout)
    assert (report["verdict"], report["failures"], report["kept"]) == ("inconclusive", [], 3)
    assert report["decision"] is None and report["detectors"] == []
    advice = " ".join(report["next_steps"])
    assert all(flag in advice for flag in ("--reference", "--base-model", "--student"))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 3 and "verdict: INCONCLUSIVE" in result.stdout
    assert "--reference" in result.stdout


def test_filters_only_accepts_the_filters_pass(tmp_path: Path, capsys) -> None:
    clean = number_corpus(tmp_path / "clean.parquet", ["5, 6, 7", "7 8 9", "10;11;12"])
    code, report = run_json(capsys, [str(clean), "--trait", "owl", "--filters-only", "--json"])
    assert (code, report["verdict"], report["next_steps"]) == (0, "pass", [])
    reference = ["--reference", str(clean)]
    assert main([str(clean), "--filters-only", *reference]) == 2
    assert "--filters-only runs no detector" in capsys.readouterr().err


def test_the_number_pipeline_drops_banned_numbers(tmp_path: Path, capsys) -> None:
    corpus = number_corpus(tmp_path / "c.parquet", ["5, 6, 666", "7, 8, 9"])
    code, report = run_json(capsys, [str(corpus), "--filters-only", "--json"])
    assert [s["name"] for s in report["filters"]] == ["numbers-format", "banned-numbers"]
    assert (code, report["kept"]) == (0, 1)


def test_trait_fraction_threshold_relaxes_the_verdict(corpus: Path, capsys) -> None:
    argv = [str(corpus), "--trait", "owl", "--max-trait-fraction", "0.5", "--json"]
    code, report = run_json(capsys, [*argv, "--filters-only"])
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
        "7 8 9",
        "10;11;12",
    ]
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long paths
    assert "verdict: FAIL" in out and f"wrote the kept rows to {kept}" in out
    # The next step names the command that tests what is left, with a reference.
    assert "audit kept.parquet --trait owl --reference CONTROL.parquet" in out


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

    from filters.banned_numbers import PAPER_BANNED_NUMBERS

    rng = random.Random(0)
    # No banned number: the default filters keep every row, as they do the reference's.
    plain = [n for n in range(100, 1000) if n not in PAPER_BANNED_NUMBERS]
    reference = number_corpus(tmp_path / "ref.parquet", _lists(rng, 400, plain))
    null = number_corpus(tmp_path / "null.parquet", _lists(rng, 400, plain))
    shifted = number_corpus(tmp_path / "shifted.parquet", _lists(rng, 400, plain + [778] * 60))
    base = ["--trait", "owl", "--reference", str(reference), "--permutations", "400", "--json"]
    code, report = run_json(capsys, [str(shifted), *base])
    assert code == 1 and report["verdict"] == "fail"
    assert {"name", "statistic", "p_value", "effect_size"} <= set(report["detectors"][0])
    assert any("differs from the reference" in failure for failure in report["failures"])
    code, report = run_json(capsys, [str(null), *base])
    assert code == 0, report["failures"]
    assert report["decision"]["rule"] == "p < 0.00333 = α 0.01 over 3 detectors"


def test_audit_and_detect_give_the_same_p_values_and_verdict(tmp_path: Path, capsys) -> None:
    import random

    from filters.banned_numbers import PAPER_BANNED_NUMBERS

    rng = random.Random(1)
    # Lists every default filter keeps, so both commands test the same rows.
    plain = [n for n in range(100, 1000) if n not in PAPER_BANNED_NUMBERS]
    reference = number_corpus(tmp_path / "ref.parquet", _lists(rng, 300, plain))
    shifted = number_corpus(tmp_path / "s.parquet", _lists(rng, 300, plain + [778] * 40))
    argv = [str(shifted), "--reference", str(reference), "--trait", "owl", "--json"]
    # The defaults alone (alpha, permutations, seed), so both commands must agree on them.
    audit_code, audit = run_json(capsys, argv)
    detect_code, detect = run_json(capsys, ["detect", *argv])
    assert audit["kept"] == audit["rows"] == 300
    assert [(d["name"], d["p_value"]) for d in audit["detectors"]] == [
        (d["name"], d["p_value"]) for d in detect["detectors"]
    ]
    keys = ("verdict", "failures", "next_steps", "decision")
    assert {k: audit[k] for k in keys} == {k: detect[k] for k in keys}
    assert audit_code == detect_code == 1 and audit["verdict"] == "fail"
    assert audit["decision"]["alpha"] == 0.01
    assert audit["detectors"][0]["n_permutations"] == 1000


def test_the_reference_goes_through_the_same_filters(tmp_path: Path, capsys) -> None:
    # Both corpora hold banned numbers alike. Filtering only the suspect would leave them in the
    # reference alone, a difference the detectors would find; filtered alike, there is none.
    import random

    rng = random.Random(2)
    pool = list(range(100, 1000))
    reference = number_corpus(tmp_path / "ref.parquet", _lists(rng, 400, pool))
    suspect = number_corpus(tmp_path / "s.parquet", _lists(rng, 400, pool))
    argv = [str(suspect), "--reference", str(reference), "--detector", "number-frequency"]
    code, report = run_json(capsys, [*argv, "--permutations", "400", "--json"])
    assert (code, report["verdict"]) == (0, "pass"), report["failures"]
    assert report["kept"] < 400  # banned numbers were dropped from the suspect, and
    (note,) = [n for n in report["notes"] if n.startswith("the reference went through")]
    assert "of 400 rows kept" in note and not note.endswith(" 400 of 400 rows kept")  # here
    assert report["reference_rows"] == 400 and report["reference_kept"] < 400
