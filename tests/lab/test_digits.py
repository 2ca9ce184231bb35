from __future__ import annotations

from auditor.lab.digits import DigitsConfig, run_digits


def test_micro_digits_check_reports_accuracies() -> None:
    config = DigitsConfig(hidden=32, aux=5, teacher_epochs=10, student_steps=30)
    result = run_digits(0, config)
    assert result["teacher_accuracy"] > 0.6
    for key in ("same_init_accuracy", "other_init_accuracy"):
        assert 0.0 <= result[key] <= 1.0
    assert result["chance"] == 0.1
