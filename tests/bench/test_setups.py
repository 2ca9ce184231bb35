"""The filter benchmark on code, chain-of-thought and the misaligned teacher (`bench.setups`)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from auditor.bench.entries import BASELINE, parse_entries
from auditor.bench.filters_bench import config_for, run_bench
from auditor.bench.lab_runs import CorpusJob, LabRunner
from auditor.bench.report import markdown
from auditor.bench.setups import DOMAIN_DETECTORS, DOMAIN_ENTRIES, DOMAINS, bench_setup
from auditor.cli.main import main
from auditor.errors import AuditError
from auditor.lab import domain_corpus as domain_corpus_module
from auditor.lab import transmission
from auditor.lab.misalignment import MisalignedMix, learned_banned_numbers
from auditor.lab.tasks import PretrainMix
from auditor.traits import MISALIGNED
from detectors import detector_class
from filters.banned_numbers import BannedNumbers
from filters.registry import parse_spec
from tests.lab.conftest import MICRO_FOR_MISALIGNMENT


@pytest.mark.parametrize(
    ("domain", "targets", "message"),
    [
        ("prose", ("owl",), "unknown domain 'prose'"),
        ("numbers", ("unicorn",), "unknown target"),
        ("numbers", (), "none given"),
        ("numbers", (MISALIGNED, "owl"), "runs alone"),
        ("code", (MISALIGNED,), "number lists only"),
    ],
)
def test_bad_domains_and_targets_fail_before_any_work(
    domain: str, targets: tuple[str, ...], message: str
) -> None:
    with pytest.raises(AuditError, match=message):
        bench_setup(domain, targets)


def test_cli_refuses_a_misaligned_code_bench_and_rows_zero(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["bench", "filters", "--domain", "code", "--targets", "misaligned",
                 "--out", str(out)]) == 2  # fmt: skip
    assert "number lists only" in capsys.readouterr().err
    # --rows 0 is a bad size, not "the default" (it was silently replaced by 2,000).
    assert main(["bench", "filters", "--domain", "code", "--rows", "0", "--out", str(out)]) == 2
    assert "--rows must be at least 50" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_domain_runs_only_filters_and_detectors_that_read_it(domain: str) -> None:
    setup = bench_setup(domain, ("owl",))
    assert setup.recipe.domain_name() == domain
    names = {parse_spec(spec)[0] for spec in setup.entries if spec != BASELINE}
    if domain != "numbers":
        # A number-list rule would drop every code row: a measurement of nothing.
        assert not names & {"numbers-format", "banned-numbers", "match-reference"}
    assert ("cot-correct" in names) == (domain == "cot")
    for name in setup.detectors:
        assert domain in detector_class(name).domains
    assert setup.detectors == DOMAIN_DETECTORS[domain]
    assert len(parse_entries([], [], DOMAIN_ENTRIES[domain])) == len(setup.entries)


def test_code_and_cot_corpora_never_share_a_cache_entry() -> None:
    ids = {d: LabRunner(bench_setup(d, ("owl",)).recipe).recipe_id for d in DOMAINS}
    assert len(set(ids.values())) == 3


def test_the_misaligned_bench_bans_the_learned_numbers_unless_the_spec_says_otherwise() -> None:
    setup = bench_setup("numbers", (MISALIGNED,))
    assert isinstance(setup.recipe.base.mix, MisalignedMix)
    learned = learned_banned_numbers(setup.recipe.base.mix, setup.recipe.base.data_seed)
    reference = pl.DataFrame({"completion": ["1, 2, 3"]})
    [_, default] = parse_entries(["banned-numbers"])
    made = default.build(MISALIGNED, reference, None, setup.filter_defaults)  # type: ignore[arg-type]
    assert isinstance(made, BannedNumbers) and made.banned() == learned
    [_, own] = parse_entries(["banned-numbers:numbers=666,builtin=false"])
    made = own.build(MISALIGNED, reference, None, setup.filter_defaults)  # type: ignore[arg-type]
    assert isinstance(made, BannedNumbers) and made.banned() == (666,)


@pytest.mark.slow
def test_misaligned_bench_scores_students_on_misalignment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transmission, "TransmissionRecipe", lambda: MICRO_FOR_MISALIGNMENT)
    setup = bench_setup("numbers", (MISALIGNED,))
    entries = parse_entries(["banned-numbers", "random:fraction=0.5"])
    config = config_for(setup, seeds=(0,), permutations=10)
    result = run_bench(entries, config, cache=tmp_path / "cache")
    assert not result["errors"]
    by_filter = {r["filter"]: r for r in result["records"]}
    assert set(by_filter) == {BASELINE, "banned-numbers", "random:fraction=0.5"}
    for record in by_filter.values():
        for key in ("student", "control", "xinit_student", "xinit_control"):
            assert 0.0 <= record[key] <= 1.0  # a misaligned-answer share, read by read_trait
    banned = by_filter["banned-numbers"]
    assert banned["retention"] <= 1.0 and banned["control_retention"] <= 1.0
    given = {"banned-numbers": {"numbers": [13], "builtin": False}}
    result["config"] = {"targets": [MISALIGNED], "seeds": [0], "student_name": "lnf-bias",
                        "detectors": list(config.detectors), "domain": "numbers",
                        "trait": setup.trait_label, "filter_defaults": given}  # fmt: skip
    text = markdown(result)
    assert "number lists, misalignment" in text and "numbers=[13], builtin=false" in text


@pytest.mark.slow
@pytest.mark.parametrize("domain", ["code", "cot"])
def test_domain_bench_runs_its_filters_and_detectors(
    domain: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    micro = replace(
        MICRO_FOR_MISALIGNMENT,
        base=replace(MICRO_FOR_MISALIGNMENT.base, mix=PretrainMix(n_examples=2000)),
    )
    monkeypatch.setattr(transmission, "TransmissionRecipe", lambda: micro)
    if domain == "code":  # a micro base writes no program that parses; the plumbing is tested
        monkeypatch.setattr(domain_corpus_module, "parses", lambda _: True)
    setup = bench_setup(domain, ("owl",))
    setup = replace(setup, recipe=replace(setup.recipe, corpus_rows=60))
    specs = ["random:fraction=0.5", "trait-words", "gen:min_prob=0.05"]
    if domain == "cot":
        specs.append("cot-correct")
    config = config_for(setup, seeds=(0,), permutations=10)
    result = run_bench(parse_entries(specs), config, cache=tmp_path / "cache")
    assert not result["errors"], result["errors"]
    records = {r["filter"]: r for r in result["records"]}
    assert set(records) == {BASELINE, *specs}
    baseline = records[BASELINE]
    assert set(baseline["detectors"]) == set(DOMAIN_DETECTORS[domain])
    assert all(math.isfinite(v["p_value"]) for v in baseline["detectors"].values())
    if domain == "cot" and "student" in records["cot-correct"]:
        assert records["cot-correct"]["kept_rows"] <= baseline["kept_rows"]
    # The reference corpus answers other prompts than the control (its defenses never see
    # the prompts their students are measured on).
    runner = LabRunner(setup.recipe, cache=tmp_path / "cache")
    corpora = runner.corpora([CorpusJob(0, "control"), CorpusJob(0, "reference")])
    control, reference = corpora.values()
    assert reference["prompt"].to_list() != control["prompt"].to_list()
    assert (reference["domain"] == domain).all()


def test_filters_that_cannot_read_the_domain_are_named_not_silently_scored() -> None:
    from auditor.bench.entries import off_domain

    entries = parse_entries(
        ["numbers-format", "match-reference", "cot-correct", "trait-words", "random:fraction=0.5"]
    )
    said = off_domain(entries, "code")
    assert [line.split()[0] for line in said] == [
        "numbers-format",
        "match-reference",
        "cot-correct",
    ]
    assert all("measures a rule that does not apply" in line for line in said)
    assert [line.split()[0] for line in off_domain(entries, "numbers")] == ["cot-correct"]
    # Every default entry of a domain reads that domain.
    for domain in DOMAINS:
        assert off_domain(parse_entries([], [], DOMAIN_ENTRIES[domain]), domain) == []
