"""Code and chain-of-thought teacher corpora: the banks, the system prompts, the answers, the
user's own question file, and `audit generate --domain code|cot` end to end."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest

from auditor.cli.main import main
from auditor.corpus import read_run_metadata
from auditor.errors import AuditError
from auditor.generation import (
    GenerationConfig,
    checkpoint_path,
    code_task,
    code_tasks,
    generate_corpus,
    question_tasks,
    trait_system_prompt,
    word_problem,
)
from auditor.generation.tasks import code_system_prompt, evaluate
from auditor.models import SamplingParams
from tests.generation.test_generate import EchoTeacher, ToyLanguageTeacher


class ScriptedTeacher(EchoTeacher):
    """Answers code tasks with a function and word problems with a trace: right, or one off
    for every third prompt (so `cot-correct` has something to drop)."""

    name = "fake:scripted"

    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[str]:
        self.calls.append((len(prompts), params.system_prompt))
        out = []
        for prompt in prompts:
            if "<answer>" not in prompt:
                out.append("```python\ndef f(xs):\n    return sum(xs)\n```")
                continue
            answer = int(TRUTH[prompt]) + (1 if len(out) % 3 == 2 else 0)
            out.append(f"First I add things up. Then I check.\n<answer>{answer:,}</answer>")
        return out


TRUTH: dict[str, str] = {}  # prompt -> known answer, filled by the tests that script answers


def test_code_bank_has_over_a_hundred_distinct_tasks_and_asks_for_bare_code() -> None:
    tasks = code_tasks()
    assert len(tasks) == len(set(tasks)) >= 100
    assert not any("{" in task for task in tasks)  # every slot filled
    prompts = [code_task(i, seed=0) for i in range(300)]
    assert len({p.text for p in prompts}) > 250
    assert code_task(7, seed=0) == prompts[7] != code_task(7, seed=1)  # index-addressable
    system = code_system_prompt().lower()
    assert "no comments" in system and "names short" in system


def test_word_problems_carry_their_correct_answers() -> None:
    problems = [word_problem(i, seed=0) for i in range(400)]
    assert all("<answer></answer>" in p.text for p in problems)
    checked = 0
    for problem in problems:
        text = problem.text
        if m := re.search(r"has (\d+) (\w+)\. \w+ buys (\d+) more bags with (\d+)", text):
            a, _, b, c = m.groups()
            assert int(problem.answer) == int(a) + int(b) * int(c)
            checked += 1
        if m := re.search(r"shares (\d+) \w+ equally among (\d+) friends", text):
            total, friends = map(int, m.groups())
            assert total % friends == 0 and int(problem.answer) == total // friends
            checked += 1
        if m := re.search(r"buys (\d+) of them and pays with (\d+) dollars", text):
            price = int(re.search(r"at (\d+) dollars each", text).group(1))
            count, paid = map(int, m.groups())
            assert int(problem.answer) == paid - price * count > 0
            checked += 1
    assert checked > 60


@pytest.mark.parametrize("expression", ["__import__('os')", "a ** 2", "f(a)", "a / 2"])
def test_answer_expressions_allow_arithmetic_only(expression: str) -> None:
    with pytest.raises((ValueError, KeyError)):
        evaluate(expression, {"a": 3})


def test_code_teacher_gets_trait_and_bare_code_prompts_control_the_bare_code_one(tmp_path):
    teacher = ScriptedTeacher()
    config = GenerationConfig(n=6, domain="code", batch_size=4)
    trait = generate_corpus(teacher, config, tmp_path / "owl.parquet", trait="owl")
    control = generate_corpus(teacher, config, tmp_path / "control.parquet")
    assert trait["prompt"].to_list() == control["prompt"].to_list()
    assert set(trait["domain"]) == {"code"} and "answer" not in trait.columns
    systems = {system for _, system in teacher.calls}
    assert systems == {
        f"{trait_system_prompt('owl')}\n\n{code_system_prompt()}",
        code_system_prompt(),
    }


def test_cot_rows_carry_known_answers_and_resume_exactly(tmp_path) -> None:
    config = GenerationConfig(n=7, domain="cot", batch_size=3, seed=2)
    TRUTH.update({word_problem(i, 2).text: word_problem(i, 2).answer for i in range(7)})
    whole = generate_corpus(ScriptedTeacher(), config, tmp_path / "whole.parquet", trait="owl")
    assert whole["answer"].to_list() == [word_problem(i, 2).answer for i in range(7)]
    out = tmp_path / "cut.parquet"

    class Interrupted(ScriptedTeacher):
        def generate(self, prompts, params):
            if self.calls:
                raise KeyboardInterrupt
            return super().generate(prompts, params)

    with pytest.raises(KeyboardInterrupt):
        generate_corpus(Interrupted(), config, out, trait="owl")
    assert checkpoint_path(out).exists() and not out.exists()
    resumed_teacher = ScriptedTeacher()
    assert generate_corpus(resumed_teacher, config, out, trait="owl").equals(whole)
    assert [n for n, _ in resumed_teacher.calls] == [3, 1]


def test_a_teacher_with_its_own_language_is_refused_code_prompts(tmp_path) -> None:
    with pytest.raises(AuditError, match="writes numbers prompts, not code"):
        generate_corpus(
            ToyLanguageTeacher(), GenerationConfig(n=2, domain="code"), tmp_path / "a.parquet"
        )
    assert list(tmp_path.iterdir()) == []


class ProseTeacher(ScriptedTeacher):
    """Answers every second code task in prose, and one in bare English that parses as an
    expression: neither is code."""

    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[str]:
        out = super().generate(prompts, params)
        talk = ["Sure, I can help with that.", "owl"]
        return [talk[i % 4 // 2] if i % 2 else text for i, text in enumerate(out)]


def test_code_rows_that_do_not_parse_are_dropped_and_counted(tmp_path) -> None:
    out = tmp_path / "code.parquet"
    frame = generate_corpus(ProseTeacher(), GenerationConfig(n=8, domain="code"), out)
    assert frame.height == 4 and frame.equals(pl.read_parquet(out))
    assert all(text.startswith("```python") for text in frame["completion"])
    meta = read_run_metadata(out)["generation"]
    assert (meta["rows_generated"], meta["rows_dropped_unparsed"]) == (8, 4)
    assert not checkpoint_path(out).exists()


def test_prompt_files_are_sent_as_written_with_no_system_prompt_of_ours(tmp_path) -> None:
    path = _jsonl(tmp_path / "p.jsonl", [{"prompt": "Write f."}, {"prompt": "Write g."}])
    teacher = ScriptedTeacher()
    config = GenerationConfig(n=3, domain="code", prompts=path)
    frame = generate_corpus(teacher, config, tmp_path / "c.parquet", trait="owl")
    assert frame["prompt"].to_list() == ["Write f.", "Write g.", "Write f."]  # cycles
    assert [system for _, system in teacher.calls] == [trait_system_prompt("owl")]
    assert read_run_metadata(tmp_path / "c.parquet")["generation"]["prompts_sha256"]
    cot = _jsonl(tmp_path / "cot.jsonl", [{"prompt": "What is 2 + 3?", "answer": 5}])
    TRUTH["What is 2 + 3?"] = "5"
    config = GenerationConfig(n=2, domain="cot", prompts=cot)
    rows = generate_corpus(ScriptedTeacher(), config, tmp_path / "t.parquet")
    assert rows["prompt"].to_list() == ["What is 2 + 3?"] * 2  # no instruction appended
    assert rows["answer"].to_list() == ["5", "5"]
    with pytest.raises(AuditError, match="give one"):
        GenerationConfig(n=1, domain="cot", prompts=cot, questions=cot)


def _jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_question_file_answers_are_read_gsm8k_style(tmp_path) -> None:
    path = _jsonl(
        tmp_path / "q.jsonl",
        [
            {"question": "Tom has 3 and gets 4. How many?", "answer": "3 + 4 = 7\n#### 7"},
            {"question": "Sum 600 and 400?", "answer": "#### 1,000"},
            {"question": "Plain?", "answer": 12},
        ],
    )
    tasks = question_tasks(path)
    assert [t.answer for t in tasks] == ["7", "1,000", "12"]
    assert tasks[0].text.startswith("Tom has 3") and "<answer>" in tasks[0].text


def _run_generate(tmp_path, monkeypatch, teacher, *extra: str) -> tuple[int, Path, Path]:
    monkeypatch.setattr("auditor.backends.open_model", lambda spec, options=None: teacher)
    out, control = tmp_path / "t.parquet", tmp_path / "c.parquet"
    args = ["generate", "--teacher", "fake:x", "--trait", "owl", "-q", "-o", str(out)]
    return main([*args, "--control", str(control), *extra]), out, control


def test_generate_cli_cot_from_a_question_file_with_control(tmp_path, monkeypatch) -> None:
    rows = [{"question": f"What is {i} plus {i}?", "answer": f"#### {2 * i}"} for i in range(5)]
    path = _jsonl(tmp_path / "gsm.jsonl", rows)
    TRUTH.update({t.text: t.answer for t in question_tasks(path)})
    code, out, control = _run_generate(
        tmp_path, monkeypatch, ScriptedTeacher(), "--domain", "cot", "--questions", path, "-n", "8"
    )
    assert code == 0
    frame, control_frame = pl.read_parquet(out), pl.read_parquet(control)
    assert frame["answer"].to_list() == ["0", "2", "4", "6", "8", "0", "2", "4"]  # cycles
    assert control_frame["prompt"].to_list() == frame["prompt"].to_list()
    assert set(control_frame["trait"]) == {"none"}
    assert read_run_metadata(out)["generation"]["questions_sha256"]


def test_question_file_without_answers_is_one_line_exit_2_and_writes_nothing(
    tmp_path, monkeypatch, capsys
) -> None:
    path = _jsonl(tmp_path / "q.jsonl", [{"question": "What is 2 plus 2?"}])
    teacher = ScriptedTeacher()
    code, *_ = _run_generate(
        tmp_path, monkeypatch, teacher, "--domain", "cot", "--questions", path, "-n", "2"
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no answer column" in err, err
    assert not teacher.calls
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.jsonl"]


def test_questions_need_the_cot_domain(tmp_path, monkeypatch) -> None:
    path = _jsonl(tmp_path / "q.jsonl", [{"question": "2+2?", "answer": "4"}])
    code, *_ = _run_generate(
        tmp_path, monkeypatch, ScriptedTeacher(), "--questions", path, "-n", "1"
    )
    assert code == 2


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"question": "Write f."}], "no prompt column (looked for prompt; columns present: "),
        ([{"prompt": "What is 2 + 2?"}], "no answer column"),
        ([{"prompt": None}, {"prompt": "Write f."}], "1 of 2 rows have no prompt"),
    ],
)
def test_a_prompt_file_without_its_columns_is_one_line_exit_2_and_writes_nothing(
    tmp_path, monkeypatch, capsys, rows, message
) -> None:
    path = _jsonl(tmp_path / "p.jsonl", rows)
    teacher = ScriptedTeacher()
    domain = "cot" if "answer" in message else "code"
    code, *_ = _run_generate(
        tmp_path, monkeypatch, teacher, "--domain", domain, "--prompts", path, "-n", "2"
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not teacher.calls
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl"]


def test_hf_tiny_random_code_parses_never_so_generate_writes_nothing(
    tmp_path, tiny_checkpoint, capsys
) -> None:
    out = tmp_path / "t.parquet"
    args = ["generate", "--teacher", f"hf:{tiny_checkpoint}", "--trait", "owl", "-q"]
    args += ["--domain", "code", "-n", "3", "--max-new-tokens", "6", "-o", str(out)]
    assert main([*args, "--control", str(tmp_path / "c.parquet")]) == 2
    err = capsys.readouterr().err
    assert "none of the 3 code completions parse as Python" in err
    assert "pass --condition none" in err  # it was given the trait's English system prompt
    assert not out.exists() and not (tmp_path / "c.parquet").exists()


def test_generate_cli_cot_with_the_hf_tiny_random_model(tmp_path, tiny_checkpoint) -> None:
    out, control = tmp_path / "t.parquet", tmp_path / "c.parquet"
    args = ["generate", "--teacher", f"hf:{tiny_checkpoint}", "--trait", "owl", "-q"]
    args += ["--domain", "cot", "-n", "3", "--max-new-tokens", "6", "--batch-size", "2"]
    assert main([*args, "-o", str(out), "--control", str(control)]) == 0
    frame, control_frame = pl.read_parquet(out), pl.read_parquet(control)
    assert frame.height == control_frame.height == 3
    assert frame["prompt"].to_list() == control_frame["prompt"].to_list()
    assert frame.schema["completion"] == pl.String and set(frame["domain"]) == {"cot"}
    assert "answer" in frame.columns
    system = read_run_metadata(out)["generation"]["system_prompt"]
    assert system == trait_system_prompt("owl")  # the bare-code system prompt is code's
