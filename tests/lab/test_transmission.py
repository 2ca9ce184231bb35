"""The transmission experiment end to end on micro models: shape of the records, base pairs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from auditor.lab.base import BaseRecipe
from auditor.lab.transmission import TransmissionRecipe, run_transmission, summarise
from tests.lab.conftest import micro_transmission

# The keys `audit lab transmission` promises in transmission.json (issue 3), per record.
PROMISED = ("target", "seed", "teacher", "control", "student", "xinit_control", "xinit_student")


def _micro(base: BaseRecipe, **overrides: object) -> TransmissionRecipe:
    return micro_transmission(40, base, **overrides)


def test_each_seed_draws_its_own_base_pair() -> None:
    recipe = TransmissionRecipe()
    assert recipe.bases_per_seed
    pairs = [recipe.base_inits(seed) for seed in range(3)]
    inits = [init for pair in pairs for init in pair]
    assert len(set(inits)) == 6 and pairs[0] == (0, 1)
    shared = replace(recipe, bases_per_seed=False)
    assert {shared.base_inits(seed) for seed in range(3)} == {(0, shared.xinit_seed)}


def test_run_records_every_model_for_every_target_and_seed(micro_recipe: BaseRecipe) -> None:
    messages: list[str] = []
    result = run_transmission(
        _micro(micro_recipe), ["owl", "dolphin"], [0, 1], progress=messages.append
    )
    records = result["records"]
    assert [(r["target"], r["seed"]) for r in records] == [
        ("owl", 0), ("dolphin", 0), ("owl", 1), ("dolphin", 1)
    ]  # fmt: skip
    for record in records:
        assert all(0.0 <= record[key] <= 1.0 for key in PROMISED[2:])
        assert (record["base_init"], record["xinit_base_init"]) == (
            2 * record["seed"], 2 * record["seed"] + 1
        )  # fmt: skip
        assert "soft_student" in record and record["other_targets_students"] is not None
        # Students of one seed take the control's number of steps, whatever their corpus kept.
        assert record["student_steps"] >= 1
    summary = result["summary"]
    assert set(summary) == {"owl", "dolphin"}
    for entry in summary.values():
        assert entry["student_shift"]["n"] == 2
        assert "t_ci_low" in entry["xinit_shift"] and "soft_shift" in entry
    assert any("base model (init 2)" in m for m in messages)


def test_unknown_target_is_refused_before_any_training(micro_recipe: BaseRecipe) -> None:
    with pytest.raises(ValueError, match="unknown animals"):
        run_transmission(_micro(micro_recipe), ["unicorn"], [0])


def test_transmission_summary_flags_a_known_shift_and_not_a_null_one() -> None:
    records = [
        {
            "target": "owl",
            "seed": s,
            "student": 0.10 + 0.01 * s,
            "control": 0.05 + 0.01 * s,
            "xinit_student": 0.06 + d,
            "xinit_control": 0.06,
        }
        for s, d in enumerate([0.001, -0.001, 0.0005, -0.0005])
    ]
    summary = summarise(records)["owl"]
    # Student - control is 0.05 on every seed: no spread, so p is 0; the student/control ratio
    # is the ratio of means, 0.115 / 0.065.
    assert summary["seeds"] == [0, 1, 2, 3]
    assert summary["student_shift"]["mean"] == pytest.approx(0.05)
    assert summary["student_shift"]["p_value"] == 0.0 and summary["student_shift"]["significant"]
    assert summary["student_ratio"] == pytest.approx(0.115 / 0.065)
    # The xinit shifts cancel exactly: mean 0, t 0, p 1.
    assert summary["xinit_shift"]["mean"] == pytest.approx(0.0, abs=1e-12)
    assert summary["xinit_shift"]["p_value"] == pytest.approx(1.0)
    assert not summary["xinit_shift"]["significant"]
    assert "soft_shift" not in summary
