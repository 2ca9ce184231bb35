"""`audit detect`: JSON shape, verdict and exit codes, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.cli.main import main
from tests.detectors.conftest import number_corpus


@pytest.fixture
def corpora(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "reference": tmp_path / "reference.parquet",
        "null": tmp_path / "null.jsonl",
        "shifted": tmp_path / "shifted.parquet",
    }
    number_corpus(300, seed=1).write_parquet(paths["reference"])
    # The `question`/`response` layout of the public data is read too.
    number_corpus(300, seed=2).rename(
        {"prompt": "question", "completion": "response"}
    ).write_ndjson(paths["null"])
    number_corpus(300, seed=3, shift=0.3).write_parquet(paths["shifted"])
    return paths


def detect(capsys, *argv: str) -> tuple[int, dict]:
    # 99 permutations resolve p to 0.01: alpha 0.05 over three detectors (0.0167) can be met.
    code = main(["detect", *argv, "--json", "--permutations", "99", "--alpha", "0.05"])
    return code, json.loads(capsys.readouterr().out)


def test_json_carries_every_detector_and_a_verdict(corpora, capsys) -> None:
    code, report = detect(capsys, str(corpora["shifted"]), "--reference", str(corpora["reference"]))
    names = [d["name"] for d in report["detectors"]]
    assert names == ["classifier", "format-features", "number-frequency"]
    for d in report["detectors"]:
        assert {"name", "statistic", "p_value", "effect_size", "evidence"} <= set(d)
    assert report["decision"]["flagged"] is True and code == 1
    assert report["verdict"] == "fail" and report["decision"]["threshold"] == 0.05 / 3


def test_null_pair_passes_with_exit_zero(corpora, capsys) -> None:
    code, report = detect(
        capsys,
        str(corpora["null"]),
        "--reference",
        str(corpora["reference"]),
        "--detector",
        "number-frequency",
    )
    assert code == 0 and report["decision"]["flagged"] is False and report["verdict"] == "pass"
    assert [d["name"] for d in report["detectors"]] == ["number-frequency"]


def test_missing_reference_is_a_usage_error(corpora, capsys) -> None:
    assert main(["detect", str(corpora["shifted"])]) == 2
    assert "--reference" in capsys.readouterr().err


def test_model_detector_without_model_is_a_usage_error(corpora, capsys) -> None:
    argv = [str(corpora["shifted"]), "--reference", str(corpora["reference"])]
    assert main(["detect", *argv, "--detector", "log-likelihood-shift"]) == 2
    assert "needs a model" in capsys.readouterr().err


def test_table_output_and_list(corpora, capsys) -> None:
    argv = [str(corpora["shifted"]), "--reference", str(corpora["reference"])]
    assert main(["detect", *argv, "--detector", "number-frequency", "--permutations", "199"]) == 1
    out = capsys.readouterr().out
    assert "verdict: FAIL" in out and "p < 0.01 = α 0.01 over 1 detector" in out
    # 20 permutations cannot give p < 0.0033: the verdict cannot be a pass, it is inconclusive.
    assert main(["detect", *argv, "--permutations", "19"]) == 3
    assert "raise --permutations to at least 300" in capsys.readouterr().out
    assert main(["detect", "--list"]) == 0
    assert "token-entanglement" in capsys.readouterr().out


def test_model_based_detectors_run_through_the_cli(corpora, capsys, monkeypatch) -> None:
    import auditor.backends
    from tests.detectors.conftest import FakeModel

    monkeypatch.setattr(auditor.backends, "open_model", lambda spec, options=None: FakeModel())
    code, report = detect(
        capsys,
        str(corpora["shifted"]),
        "--reference",
        str(corpora["reference"]),
        "--base-model",
        "lab:base",
        "--trait",
        "owl",
        "--detector",
        "log-likelihood-shift",
        "--detector",
        "token-entanglement",
    )
    assert [d["name"] for d in report["detectors"]] == [
        "log-likelihood-shift",
        "token-entanglement",
    ]
    assert code == 1 and report["decision"]["flagged_by"]


def _code_corpus(path: Path, n: int, seed: int) -> Path:
    import random

    import polars as pl

    rng = random.Random(seed)
    rows = [f"def f(xs):\n    return sum(x * {rng.randint(1, 9)} for x in xs)\n" for _ in range(n)]
    pl.DataFrame({"prompt": [f"task {i}" for i in range(n)], "completion": rows}).write_parquet(
        path
    )
    return path


def test_a_code_corpus_gets_the_detectors_that_read_code(tmp_path: Path, capsys) -> None:
    suspect = _code_corpus(tmp_path / "code.parquet", 120, 1)
    reference = _code_corpus(tmp_path / "ref.parquet", 120, 2)
    code, report = detect(capsys, str(suspect), "--reference", str(reference))
    assert report["domain"] == "code"
    assert [d["name"] for d in report["detectors"]] == ["classifier", "text-features"]
    assert any("number-frequency (numbers only)" in n for n in report["notes"])
    assert code == 0  # two draws of the same script: a null pair
    # Naming only number detectors on code is a usage error, not an empty pass.
    assert main(["detect", str(suspect), "--reference", str(reference),
                 "--detector", "number-frequency"]) == 2  # fmt: skip
    assert "no detector given can read this code corpus" in capsys.readouterr().err


def test_a_suspect_and_reference_of_different_domains_are_refused(
    corpora, tmp_path: Path, capsys
) -> None:
    code_corpus = _code_corpus(tmp_path / "code.parquet", 60, 1)
    argv = ["detect", str(corpora["shifted"]), "--reference", str(code_corpus)]
    assert main(argv) == 2
    assert "the suspect reads as numbers, the reference as code" in capsys.readouterr().err


def test_a_mixed_corpus_is_named_as_one_with_a_warning(tmp_path: Path, capsys) -> None:
    import polars as pl

    paths = []
    for seed in (1, 2):
        code = pl.read_parquet(_code_corpus(tmp_path / f"c{seed}.parquet", 30, seed))
        numbers = number_corpus(30, seed=seed).select("prompt", "completion")
        path = tmp_path / f"mixed{seed}.parquet"
        pl.concat([code, numbers]).write_parquet(path)
        paths.append(path)
    code, report = detect(capsys, str(paths[0]), "--reference", str(paths[1]))
    assert report["domain"] == "code"
    assert any("also 50% numbers" in w and "split the corpus" in w for w in report["warnings"])
    # Told the domain, it says nothing: the user chose.
    code, report = detect(capsys, str(paths[0]), "--reference", str(paths[1]), "--domain", "code")
    assert not any("split the corpus" in w for w in report["warnings"])
