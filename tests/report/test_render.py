"""Rendering: evidence stays on one table row; the threshold is said in words."""

from __future__ import annotations

from auditor.report.render import detector_rows
from detectors import DetectorResult, decide


def result(name: str, p: float, evidence: list[dict]) -> DetectorResult:
    return DetectorResult(
        name=name, statistic=1.0, p_value=p, effect_size=0.1, n_permutations=999, seed=0,
        evidence=evidence,
    )  # fmt: skip


def test_evidence_is_one_line_and_short() -> None:
    decision = decide([result("log-likelihood-shift", 0.5, [{"completion": "989\n718, 1, 2"}])])
    (row,) = detector_rows(decision.results)
    assert row[-1] == "989 718, 1, 2" and row[3] == "no"
    long = decide([result("x", 0.5, [{"completion": "1, " * 40}])])
    assert len(detector_rows(long.results)[0][-1]) == 24


def test_decision_rule_in_words_and_per_result_threshold() -> None:
    decision = decide([result("a", 0.001, []), result("b", 0.003, [])], alpha=0.01)
    assert decision.rule() == "p < 0.005 = α 0.01 over 2 detectors"
    assert [(r.threshold, r.flagged) for r in decision.results] == [(0.005, True), (0.005, True)]
    assert decision.flagged_by == ["a", "b"] and decision.can_flag
    assert decide([result("a", 0.02, [])], alpha=0.01).rule() == "p < 0.01 = α 0.01 over 1 detector"
