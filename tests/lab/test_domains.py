"""The lab's code and chain-of-thought domains: tokens, tasks, corpora, the domain recipe."""

from __future__ import annotations

import ast
import random
from dataclasses import replace

import polars as pl
import pytest

from auditor.lab import domain_corpus as domain_corpus_module
from auditor.lab import transmission
from auditor.lab.base import BaseRecipe, base_model
from auditor.lab.domain_corpus import (
    DomainRecipe,
    answer_accuracy,
    answer_tag_rate,
    domain_base,
    domain_corpus,
    domain_recipe,
)
from auditor.lab.domain_tasks import (
    DomainMix,
    code_task,
    cot_task,
    domain_prompts,
    domain_tasks,
    parses,
)
from auditor.lab.language import RESERVED_SLOTS, UNK, load_data, vocab
from auditor.lab.tasks import PretrainMix, pretraining_examples
from auditor.lab.transmission import run_transmission
from filters.cot_correct import CotCorrect
from tests.lab.conftest import MICRO, MICRO_FOR_MISALIGNMENT


def test_domain_tokens_take_reserved_slots_after_the_misalignment_words() -> None:
    voc = vocab()
    tokens = load_data("domains")["tokens"]
    tail = voc.tokens[-RESERVED_SLOTS:]
    assert voc.size == 1230 and voc.id("owl") == 1021 and voc.id("999") == 6 + 15 + 999
    assert list(tail[50:63]) == tokens and tail[63] == "<reserved63>"
    assert tail[49] == "who"  # the last misalignment word keeps its slot


def test_text_of_the_original_tasks_tokenises_as_before() -> None:
    # No original prompt or completion holds `<answer>` or a line indented by four spaces.
    voc = vocab()
    for prompt, completion in pretraining_examples(PretrainMix(n_examples=300), seed=3):
        for text in (prompt, completion):
            ids = voc.encode(text)
            assert voc.id("<ind>") not in ids and voc.id("<answer>") not in ids


def _run(source: str) -> object:
    namespace: dict[str, object] = {}
    exec(compile(source, "<lab>", "exec"), namespace)
    return next(v for k, v in namespace.items() if k != "__builtins__")


@pytest.mark.parametrize("seed", range(3))
def test_every_program_round_trips_parses_and_computes_its_task(seed: int) -> None:
    voc = vocab()
    rng = random.Random(seed)
    xs = [3, 8, 1, 6, 10, 7]
    for _ in range(400):
        prompt, program, _ = code_task(rng)
        text = voc.decode(voc.encode(program))
        assert voc.id(UNK) not in voc.encode(prompt) + voc.encode(program)
        assert parses(text) and ast.parse(text)
        function = _run(text)
        k = next((int(w) for w in prompt.rstrip(".").split() if w.isdigit()), 0)
        if "up to a number" in prompt:
            assert function(4) == 10
            continue
        expected = {
            "return the sum of the numbers": sum(xs),
            "return the sum of the even": sum(x for x in xs if x % 2 == 0),
            "return the even numbers": [x for x in xs if x % 2 == 0],
            "return the numbers more than": [x for x in xs if x > k],
            "return the number of numbers": sum(x > k for x in xs),
            "each number +": [x + k for x in xs],
            "each number *": [x * k for x in xs],
            "each even number": [x + k if x % 2 == 0 else x * 2 for x in xs],
        }
        [want] = [v for key, v in expected.items() if key in prompt]
        assert function(list(xs)) == want, (prompt, text)


def test_cot_traces_end_in_the_known_answer_and_their_steps_are_right() -> None:
    voc = vocab()
    rng = random.Random(0)
    for _ in range(500):
        prompt, trace, answer = cot_task(rng)
        text = voc.decode(voc.encode(trace))
        assert voc.id(UNK) not in voc.encode(prompt) + voc.encode(trace)
        assert text.endswith(f"<answer> {answer} </answer>")
        for step in text.split("<answer>")[0].split(".")[:-1]:
            if "=" in step:
                left, right = step.split("=")
                assert eval(left) == int(right)
        assert 0 <= int(answer) <= 999


def test_parses_refuses_what_is_not_a_function() -> None:
    assert parses("def f(numbers):\n    return sum(numbers)")
    assert not parses("def f(numbers):\nreturn")
    assert not parses("1, 2, 3") and not parses("import os\ndef f():\n    return 1")


def test_domain_mix_is_a_subclass_and_leaves_the_default_data_alone() -> None:
    assert not isinstance(BaseRecipe().mix, DomainMix)
    assert isinstance(domain_base().mix, DomainMix)
    examples = pretraining_examples(DomainMix(n_examples=600), seed=0)
    share_code = sum(c.startswith("def ") for _, c in examples) / len(examples)
    share_cot = sum("<answer>" in c for _, c in examples) / len(examples)
    assert 0.2 < share_code < 0.4 and 0.2 < share_cot < 0.4


def test_prompts_are_reproducible_and_cot_has_answers() -> None:
    assert domain_prompts("cot", 5, 1) == domain_prompts("cot", 5, 1)
    prompts, answers = domain_prompts("cot", 20, 2)
    assert all(a.isdigit() for a in answers) and len(prompts) == 20
    assert domain_prompts("code", 3, 0)[1] == ["", "", ""]
    with pytest.raises(ValueError, match="unknown lab domain"):
        domain_tasks("poetry", 1, 0)


MICRO_DOMAINS = replace(MICRO, mix=DomainMix(n_examples=2000), train=replace(MICRO.train, steps=60))


def test_domain_corpora_keep_only_parsing_code_and_carry_cot_answers(tmp_path) -> None:
    base, _ = base_model(MICRO_DOMAINS, 0, cache=tmp_path)
    code, dropped = domain_corpus(base, 40, domain="code", seed=0, teacher="lab:base", trait=None)
    assert code.height + dropped == 40
    assert all(parses(c) for c in code["completion"].to_list())
    assert set(code["domain"].to_list()) <= {"code"}
    cot, dropped = domain_corpus(base, 30, domain="cot", seed=0, teacher="lab:base", trait=None)
    assert dropped == 0 and cot.height == 30 and "answer" in cot.columns
    assert 0.0 <= answer_tag_rate(cot) <= 1.0 and 0.0 <= answer_accuracy(cot) <= 1.0
    # A hand-made corpus: tag rate and accuracy read as the filter does.
    frame = pl.DataFrame(
        {
            "prompt": ["a", "b", "c"],
            "completion": ["1 + 2 = 3. <answer> 3 </answer>", "<answer> 4 </answer>", "5"],
            "answer": ["3", "5", "5"],
        }
    )
    assert answer_tag_rate(frame) == pytest.approx(2 / 3)
    assert answer_accuracy(frame) == pytest.approx(1 / 3)


@pytest.mark.parametrize("domain", ["code", "cot"])
def test_domain_transmission_runs_and_records_the_filters(
    domain: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    micro = replace(
        MICRO_FOR_MISALIGNMENT,
        base=replace(MICRO_FOR_MISALIGNMENT.base, mix=PretrainMix(n_examples=2000)),
        corpus_rows=40,
    )
    monkeypatch.setattr(transmission, "TransmissionRecipe", lambda: micro)
    if domain == "code":  # a micro base writes no program that parses; the plumbing is tested
        monkeypatch.setattr(domain_corpus_module, "parses", lambda _: True)
    else:  # nor a right answer: cot-correct counts but keeps every row

        class KeepAll(CotCorrect):
            def reasons(self, batch: pl.DataFrame) -> pl.Series:
                super().reasons(batch)
                return pl.Series([None] * batch.height, dtype=pl.String)

        monkeypatch.setattr(domain_corpus_module, "CotCorrect", KeepAll)
    recipe = domain_recipe(domain)
    assert isinstance(recipe, DomainRecipe) and recipe.domain == domain
    assert recipe.base.train.steps == round(6.25 * micro.base.train.steps)
    assert not recipe.soft_labels and recipe.bases_per_seed
    result = run_transmission(recipe, ["owl"], [0], cache=tmp_path)
    [record] = result["records"]
    assert record["teacher_rows_before_domain_filters"] >= record["corpus_rows"]
    assert "teacher_removed_by_trait-words:owl" in record
    if domain == "cot":
        assert "control_removed_by_cot-correct" in record
        assert 0.0 <= record["control_answer_tag_rate"] <= 1.0
    assert "owl" in result["summary"] and "student_shift" in result["summary"]["owl"]


def test_the_numbers_recipe_is_untouched() -> None:
    recipe = transmission.default_recipe()
    assert type(recipe) is transmission.TransmissionRecipe
    assert recipe.filter_corpus(pl.DataFrame({"prompt": ["p"]}), ["owl"])[1] == {}
    with pytest.raises(ValueError, match="no domain recipe"):
        domain_recipe("numbers")
