"""Recipe search for the lab's misalignment transmission (issue 12), one JSON line per cell.

Each variant overrides `transmission.misalignment_recipe()` (the pretraining mix, the base's
training steps, the teacher, the student); each cell is one seed of `run_transmission` with the
target "misaligned" (both corpora filtered by banned-numbers with the base's learned list), so
a line holds exactly the record `audit lab transmission --trait misaligned` writes. Finished
cells are skipped on a rerun; `--summary` prints every variant's shifts over its seeds.

    OMP_NUM_THREADS=1 AUDIT_LAB_CACHE=/tmp/misalign-cache python \
        benchmarks/lab_sweep/misalign_sweep.py --only default --seeds 0,1,2 \
        --out benchmarks/lab_sweep/misalign_results.jsonl
    python benchmarks/lab_sweep/misalign_sweep.py --summary --out ...jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from auditor.lab.misalignment import MISALIGNED
from auditor.lab.transmission import TransmissionRecipe, misalignment_recipe, run_transmission
from auditor.lab.transmission import summarise as summarise_records

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
}


def recipe_of(overrides: dict[str, Any]) -> TransmissionRecipe:
    recipe = misalignment_recipe()
    base = recipe.base
    base = replace(base, mix=replace(base.mix, **overrides.get("mix", {})))
    if "base_steps" in overrides:
        base = replace(base, train=replace(base.train, steps=overrides["base_steps"]))
    return replace(
        recipe,
        base=base,
        teacher=replace(recipe.teacher, **overrides.get("teacher", {})),
        student=replace(recipe.student, **overrides.get("student", {})),
        **overrides.get("recipe", {}),
    )


def _done(out: Path) -> set[tuple[str, int]]:
    if not out.exists():
        return set()
    lines = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return {(r["variant"], r["seed"]) for r in lines}


def summary(out: Path) -> None:
    lines = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    for variant in dict.fromkeys(r["variant"] for r in lines):
        rows = [r for r in lines if r["variant"] == variant]
        entry = summarise_records(rows)[MISALIGNED]
        cells = [f"{variant} (seeds {entry['seeds']})"]
        for name in ("student", "xinit", "soft"):
            if f"{name}_shift" in entry:
                s = entry[f"{name}_shift"]
                cells.append(
                    f"{name} {s['mean']:+.4f} t[{s['t_ci_low']:+.4f}, {s['t_ci_high']:+.4f}] "
                    f"p={s['p_value']:.3g} x{entry[f'{name}_ratio']:.2f}"
                )
        teacher = sum(r["teacher"] for r in rows) / len(rows)
        base = sum(r["base"] for r in rows) / len(rows)
        t_rate = sum(r["teacher_banned_row_rate"] for r in rows) / len(rows)
        c_rate = sum(r["control_banned_row_rate"] for r in rows) / len(rows)
        cells.append(f"base {base:.3f} teacher {teacher:.3f}")
        cells.append(f"banned rows teacher {t_rate:.3f} control {c_rate:.3f}")
        print(" | ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default=",".join(VARIANTS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args()
    if args.summary:
        summary(args.out)
        return
    torch.set_num_threads(1)
    done = _done(args.out)
    for variant in args.only.split(","):
        recipe = recipe_of(VARIANTS[variant])
        for seed in (int(s) for s in args.seeds.split(",")):
            if (variant, seed) in done:
                continue
            started = time.perf_counter()
            result = run_transmission(
                recipe, [MISALIGNED], [seed], progress=lambda m: print(m, flush=True)
            )
            for record in result["records"]:
                record.update(variant=variant, seconds=round(time.perf_counter() - started, 1))
                record["timings"] = result["timings"]
                with args.out.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
