"""The README's demo paragraph is written from the demo's own report, and replaces only its
marked block."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.readme_demo import END, START, paragraph, update_readme


def detector(name: str, p: float, flagged: bool) -> dict:
    return {"name": name, "p_value": p, "flagged": flagged, "n_permutations": 1000}


REPORT = {
    "verdict": "fail",
    "rows": 1000,
    "kept": 700,
    "reference_rows": 990,
    "reference_kept": 720,
    "filters": [
        {"name": "numbers-format", "removed": 10, "reasons": {"not a number list": 10}},
        {"name": "banned-numbers", "removed": 290, "reasons": {"banned number 451": 200}},
    ],
    "trait": "owl",
    "decision": {"rule": "p < 0.002 = α 0.01 over 3 detectors"},
    "detectors": [
        detector("classifier", 1 / 1001, True),
        detector("number-frequency", 1 / 1001, True),
        detector("log-likelihood-shift", 0.31, False),
    ],
    "probe": {
        "seeds": [0, 1, 2],
        "corpus": [0.1, 0.2, 0.3],
        "control": [0.05, 0.05, 0.05],
        "shift": 0.15,
        "shift_low": 0.1,
        "shift_high": 0.2,
        "p_value": 0.004,
    },
}


def test_the_paragraph_quotes_the_report() -> None:
    text = paragraph(REPORT, 1, cold=301.4, warm=12.2)
    assert text.startswith("The demo took 5 min 1 s from a cold cache and 12 s warm")
    assert "Its verdict is FAIL (exit code 1)" in text
    assert (
        "The number filters kept 700 of the teacher's 1,000 rows and 720 of the control's 990 "
        "(banned-numbers removed 290, 200 of them for banned number 451); then 2 of 3 detectors "
        "flagged" in text
    )
    assert "when p < 0.002 = α 0.01 over 3 detectors: classifier, number-frequency (each " in text
    assert (
        "p = 0.001, the smallest 1000 permutations can give); "
        "log-likelihood-shift did not, p = 0.31" in text
    )
    assert "scored 0.200 for owl against 0.050 for control students" in text
    assert "(shift +0.150, 95% CI [+0.100, +0.200], p = 0.004 over 3 seeds)" in text


def test_update_replaces_only_the_marked_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{START}\nold figures\n{END}\n\nrest\n")
    update_readme("new figures", readme)
    assert readme.read_text() == f"# title\n\n{START}\nnew figures\n{END}\n\nrest\n"
    readme.write_text("no block\n")
    with pytest.raises(SystemExit):
        update_readme("x", readme)
