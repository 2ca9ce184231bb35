"""Why the null defense reads above 1 on lab code: leakage against optimiser steps and rows.

    python -m benchmarks.bench_rows_vs_steps     # ~1 min with the code benchmark's cache warm

`audit bench filters --domain code` found `random:fraction=0.5` at a residual of 1.09 [1.04,
1.15]: students trained on a random half of both corpora, for the same number of optimiser steps
as on the whole, leaked a little more. This measures leakage (student − control, same-init, the
benchmark's probe student and corpora) over the 6 owl/dolphin × seed cells for: the whole
corpora at the benchmark's steps; a random half at the same steps (each row seen twice as
often); the whole at twice the steps; a half at half the steps (each row as often as the whole).
Writes benchmarks/results/filters/code/rows_vs_steps.md.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from auditor.bench.lab_runs import CorpusJob, LabRunner, StudentJob
from auditor.bench.setups import bench_setup

OUT = Path(__file__).resolve().parent / "results" / "filters" / "code" / "rows_vs_steps.md"
# (name, fraction of rows kept, steps relative to the benchmark's equal steps)
VARIANTS = (("whole, equal steps", 1.0, 1.0), ("half, equal steps", 0.5, 1.0),
            ("whole, 2x steps", 1.0, 2.0), ("half, half the steps", 0.5, 0.5))  # fmt: skip


def main() -> None:
    torch.set_num_threads(1)
    started = time.perf_counter()
    recipe = bench_setup("code", ("owl", "dolphin")).recipe
    jobs, keys = [], []
    with LabRunner(recipe, workers=2) as runner:
        for seed in (0, 1, 2):
            init, _ = recipe.base_inits(seed)
            wanted = [
                CorpusJob(seed, "control"),
                *(CorpusJob(seed, "teacher", t) for t in ("owl", "dolphin")),
            ]
            corpora = runner.corpora(wanted)
            control = corpora[CorpusJob(seed, "control")]
            steps = recipe.student.equal_steps(control.height)
            for target in ("owl", "dolphin"):
                teacher = corpora[CorpusJob(seed, "teacher", target)]
                for name, fraction, scale in VARIANTS:
                    for role, frame in (("student", teacher), ("control", control)):
                        kept = frame.sample(fraction=fraction, seed=seed) if fraction < 1 else frame
                        rows = tuple(kept.select("prompt", "completion").iter_rows())
                        step_count = max(1, round(steps * scale))
                        jobs.append(StudentJob(init, rows, step_count, seed, recipe.student))
                        keys.append((name, target, seed, role))
        scores = runner.students(jobs)
        trained = runner.trained
    cells: dict[tuple[str, str, int], dict[str, float]] = {}
    for (name, target, seed, role), score in zip(keys, scores, strict=True):
        cells.setdefault((name, target, seed), {})[role] = score[target]
    lines = ["# Leakage against rows and optimiser steps (lab code, lnf-bias student)", "",
             "Command: `python -m benchmarks.bench_rows_vs_steps`; "
             f"wall time {time.perf_counter() - started:.0f} s; {trained} of {len(jobs)} "
             "students trained (the rest read from the lab cache: students are cached by "
             "corpus content and steps; a cold run took 39 s on 2 cores).", "",
             "| variant | mean leakage over 6 cells | per cell |", "|---|---|---|"]  # fmt: skip
    for name, *_ in VARIANTS:
        leak = [c["student"] - c["control"] for (n, *_), c in cells.items() if n == name]
        lines.append(f"| {name} | {statistics.mean(leak):+.4f} | "
                     + ", ".join(f"{v:+.3f}" for v in leak) + " |")  # fmt: skip
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
