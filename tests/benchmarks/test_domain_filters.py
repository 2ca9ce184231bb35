"""The README's code/CoT filter figures come from this benchmark: on the scripted teacher's
corpora the default pipelines remove the planted leaks and wrong answers, and no more."""

from __future__ import annotations

from benchmarks.domain_filters import ScriptedTeacher, measure


def test_code_leaks_hidden_in_identifiers_are_removed_and_the_control_is_untouched(tmp_path):
    owl, control = measure(ScriptedTeacher(), "scripted", "code", 300, tmp_path, 256)
    removed = owl["filters"]["trait-words"]["removed"]
    # ~10% planted (6% identifiers, 2% comments, 2% strings); whole words alone see a fraction.
    assert 15 <= removed <= 45 and owl["naive_removed"] < removed
    assert control["filters"]["trait-words"]["removed"] == 0 == control["naive_removed"]


def test_cot_correct_drops_wrong_and_untagged_traces_but_keeps_reformatted_answers(tmp_path):
    owl, _ = measure(ScriptedTeacher(), "scripted", "cot", 300, tmp_path, 256)
    reasons = owl["filters"]["cot-correct"]["reasons"]
    assert set(reasons) == {"cot: wrong answer", "cot: no <answer>"}
    assert 30 <= sum(reasons.values()) <= 90  # ~20% planted
    assert owl["naive_removed"] > sum(reasons.values())  # "1,234" and "1234.0" are right
