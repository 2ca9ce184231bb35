"""`--engine ray` gives the local engine's answer: rows, reasons, source rows and statistics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditor.corpus import ReadOptions, open_corpus, read_run_metadata
from auditor.errors import AuditError
from auditor.filtering import run_filters
from benchmarks.number_corpus import make_number_corpus
from filters.registry import create_filter

REPO_ROOT = Path(__file__).resolve().parents[2]
# Every kind of decision: format and value rules, trait words, a regex, a random drop, and a
# rewriting filter between them (its changes must be recorded by both engines alike).
SPECS = (
    "trait-words",
    "numbers-format",
    "shuffle-numbers:seed=3",
    "regex:pattern=7{3}",
    "random:fraction=0.1,seed=1",
)
BATCH_ROWS = 400


def corpus_frame(rows: int = 2_600) -> pl.DataFrame:
    frame = make_number_corpus(rows, seed=5)
    # Some rows name the trait, so trait-words has something to remove.
    owl = pl.int_range(0, pl.len()) % 37 == 0
    return frame.with_columns(
        pl.when(owl).then(pl.lit("owl 1, 2, 3")).otherwise(pl.col("completion")).alias("completion")
    )


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ray-corpus") / "corpus.parquet"
    # Row groups that do not line up with the blocks, so a block spans two of them.
    corpus_frame().write_parquet(path, row_group_size=333)
    return path


def filters() -> list[Any]:
    return [create_filter(spec, trait="owl") for spec in SPECS]


def run(engine: str, source: Path, out: Path, **options: Any) -> tuple[Any, dict[str, Path]]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {part: out / f"{part}.parquet" for part in ("kept", "removed", "rewritten")}
    corpus = open_corpus(source, ReadOptions(batch_rows=BATCH_ROWS, **options))
    result = run_filters(
        corpus,
        filters(),
        kept_path=paths["kept"],
        removed_path=paths["removed"],
        rewritten_path=paths["rewritten"],
        collect_kept=True,
        quiet=True,
        engine=engine,
    )
    return result, paths


def assert_same_runs(local: Any, ray: Any) -> None:
    assert [s.to_dict() for s in ray.stats] == [s.to_dict() for s in local.stats]
    assert (ray.rows, ray.kept_rows) == (local.rows, local.kept_rows)
    assert ray.kept.equals(local.kept)


def assert_same_files(local: dict[str, Path], ray: dict[str, Path]) -> None:
    for part in local:
        assert pl.read_parquet(ray[part]).equals(pl.read_parquet(local[part])), part
        meta_local, meta_ray = read_run_metadata(local[part]), read_run_metadata(ray[part])
        assert meta_local.pop("engine") == "local" and meta_ray.pop("engine") == "ray"
        assert meta_ray == meta_local


def test_parquet_in_several_blocks_gives_the_local_answer(
    ray_cluster: Any, corpus_file: Path, tmp_path: Path
) -> None:
    local, local_files = run("local", corpus_file, tmp_path / "local")
    ray, ray_files = run("ray", corpus_file, tmp_path / "ray")

    assert ray.engine.name == "ray" and ray.engine.workers == 2
    assert ray.engine.details["blocks"] == 7  # 2,600 rows in blocks of 400
    by_name = {s.name: s for s in local.stats}
    # The corpus exercises every filter: malformed rows, the trait, a regex, random drops and
    # rewrites all happened, across several reasons.
    assert len(by_name["numbers-format"].reasons) >= 3
    assert by_name["trait-words"].removed > 0 and by_name["regex"].removed > 0
    assert by_name["random"].removed > 0 and by_name["shuffle-numbers"].rewritten > 0
    assert_same_runs(local, ray)
    assert_same_files(local_files, ray_files)
    removed = pl.read_parquet(ray_files["removed"])
    assert removed.get_column("source_row").n_unique() == removed.height


def test_jsonl_with_blank_lines_gives_the_local_answer(ray_cluster: Any, tmp_path: Path) -> None:
    lines = [json.dumps(row) for row in corpus_frame(1_000).iter_rows(named=True)]
    for index in (3, 450, 451, 999):  # blank lines shift line numbers from row numbers
        lines.insert(index, "")
    source = tmp_path / "corpus.jsonl"
    source.write_text("\n".join(lines) + "\n")
    local, local_files = run("local", source, tmp_path / "local")
    ray, ray_files = run("ray", source, tmp_path / "ray")
    assert ray.engine.details["blocks"] == 3
    assert_same_runs(local, ray)
    assert_same_files(local_files, ray_files)


def test_a_bad_row_is_the_same_error_and_leaves_no_output(ray_cluster: Any, tmp_path: Path) -> None:
    frame = corpus_frame(1_000).with_columns(
        pl.when(pl.int_range(0, pl.len()) == 901)
        .then(None)
        .otherwise(pl.col("completion"))
        .alias("completion")
    )
    source = tmp_path / "bad.parquet"
    frame.write_parquet(source)
    messages = {}
    for engine in ("local", "ray"):
        with pytest.raises(AuditError) as caught:
            run(engine, source, tmp_path / engine)
        messages[engine] = str(caught.value)
        assert list((tmp_path / engine).iterdir()) == []  # nothing partial, not even a temp
    assert messages["ray"] == messages["local"]
    assert "row 901" in messages["ray"] and "null" in messages["ray"]


def test_the_cli_reports_the_engine_in_json(
    ray_cluster: Any, corpus_file: Path, tmp_path: Path
) -> None:
    from auditor.cli.main import main

    def summary(engine: str) -> dict[str, Any]:
        output = tmp_path / f"{engine}.parquet"
        argv = [
            "filter", str(corpus_file), "--filter", "numbers-format", "--filter",
            "trait-words", "--trait", "owl", "--output", str(output), "--json",
            "--engine", engine, "--batch-rows", "500",
        ]  # fmt: skip
        code, printed = _capture(main, argv)
        assert code == 0
        return json.loads(printed)

    local, ray = summary("local"), summary("ray")
    assert local.pop("engine") == {"name": "local", "workers": 1}
    engine = ray.pop("engine")
    assert engine["name"] == "ray" and engine["workers"] == 2 and engine["blocks"] == 6
    local["outputs"], ray["outputs"] = {}, {}
    assert ray == local


def _capture(main: Any, argv: list[str]) -> tuple[int, str]:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    return code, buffer.getvalue()


def test_an_address_that_does_not_answer_is_one_clear_error(
    corpus_file: Path, tmp_path: Path
) -> None:
    from tests.fakes.chat_server import closed_port

    result = _cli(
        ["filter", str(corpus_file), "--filter", "numbers-format", "--engine", "ray",
         "--output", str(tmp_path / "kept.parquet")],
        env={"RAY_ADDRESS": f"127.0.0.1:{closed_port()}"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "RAY_ADDRESS=127.0.0.1:" in result.stderr and "does not answer" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "kept.parquet").exists()


def test_without_the_extra_the_message_names_it(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(AuditError, match=r"subliminal-audit\[ray\]"):
        run("ray", corpus_file, tmp_path)


def test_the_local_engine_never_imports_ray(corpus_file: Path, tmp_path: Path) -> None:
    result = _cli(
        ["filter", str(corpus_file), "--filter", "numbers-format", "--json", "--output",
         str(tmp_path / "kept.parquet")],
        env={"AUDIT_ENGINE": "local"},
        check_ray=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "ray imported: False"


def _cli(argv: list[str], env: dict[str, str], check_ray: bool = False) -> Any:
    import os

    code = (
        "import sys\n"
        "from auditor.cli.main import main\n"
        f"code = main({argv!r})\n"
        + ("print('ray imported:', 'ray' in sys.modules)\n" if check_ray else "")
        + "sys.exit(code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_audit_on_ray_reports_the_engine_and_the_local_counts(
    ray_cluster: Any, corpus_file: Path
) -> None:
    from auditor.cli.main import main

    def report(engine: str) -> dict[str, Any]:
        argv = [
            str(corpus_file), "--trait", "owl", "--filters-only", "--json", "--engine", engine,
            "--batch-rows", "500",
        ]  # fmt: skip
        code, printed = _capture(main, argv)
        assert code in (0, 1)
        return json.loads(printed)

    local, ray = report("local"), report("ray")
    assert local.pop("engine")["name"] == "local"
    assert ray.pop("engine")["name"] == "ray"
    assert ray == local
