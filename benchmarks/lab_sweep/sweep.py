"""Recipe sweep for the lab's transmission experiment (issue 3).

Each named variant overrides fields of the default `TransmissionRecipe`; every variant runs the
full experiment (teacher, corpora, control / same-init / different-init / soft-label students)
and appends one JSON line (variant, overrides, summary, records, timings, device) to the output.
Variants run in parallel worker processes; bases are shared through the lab cache.

    python benchmarks/lab_sweep/sweep.py --grid main --workers 2 \
        --out benchmarks/lab_sweep/results.jsonl --targets owl,dolphin --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def recipe_for(overrides: dict[str, Any]):
    from auditor.lab.base import BaseRecipe
    from auditor.lab.numbers import NumberProcess
    from auditor.lab.probe import StudentConfig
    from auditor.lab.tasks import PretrainMix
    from auditor.lab.teachers import TeacherConfig
    from auditor.lab.transmission import TransmissionRecipe

    r = TransmissionRecipe()
    model, mix, train = r.base.model, r.base.mix, r.base.train
    numbers = mix.numbers
    teacher, student = r.teacher, r.student
    top: dict[str, Any] = {}
    for key, value in overrides.items():
        group, _, name = key.partition(".")
        if group == "model":
            model = replace(model, **{name: value})
        elif group == "mix":
            mix = replace(mix, **{name: value})
        elif group == "numbers":
            numbers = replace(numbers, **{name: value})
        elif group == "train":
            train = replace(train, **{name: value})
        elif group == "teacher":
            teacher = replace(teacher, **{name: value})
        elif group == "student":
            student = replace(student, **{name: value})
        else:
            top[key] = value
    mix = replace(mix, numbers=numbers)
    assert isinstance(mix, PretrainMix) and isinstance(numbers, NumberProcess)
    assert isinstance(teacher, TeacherConfig) and isinstance(student, StudentConfig)
    base = BaseRecipe(model=model, mix=mix, train=train)
    return replace(r, base=base, teacher=teacher, student=student, **top)


PER_SEED = {"bases_per_seed": True}
# Session 2: every seed draws its own base pair; then the student's strength, the corpus size
# and the teacher's strength, from the run-3 defaults (ln_f-bias teacher and students).
GRIDS: dict[str, dict[str, dict[str, Any]]] = {
    "per_seed": {
        "ps_default": {**PER_SEED},
        "ps_s3e-2x4": {**PER_SEED, "student.learning_rate": 3e-2, "student.epochs": 4.0},
        "ps_s1e-1x4": {**PER_SEED, "student.learning_rate": 1e-1, "student.epochs": 4.0},
        "ps_rows15k_s3e-2x4": {
            **PER_SEED,
            "corpus_rows": 15_000,
            "student.learning_rate": 3e-2,
            "student.epochs": 4.0,
        },
        "ps_t1e-1_s3e-2x4": {
            **PER_SEED,
            "teacher.learning_rate": 1e-1,
            "student.learning_rate": 3e-2,
            "student.epochs": 4.0,
        },
        "ps_ft_s3e-2x4": {
            **PER_SEED,
            "teacher.kind": "finetune",
            "student.learning_rate": 3e-2,
            "student.epochs": 4.0,
        },
    },
    "smoke": {
        "smoke": {
            "model.n_embd": 32,
            "mix.n_examples": 4000,
            "train.steps": 200,
            "corpus_rows": 500,
            "teacher.steps": 40,
        },
    },
    "local": {
        "default": {},
        "default_rows10k": {"corpus_rows": 10_000},
        "default_soft_off_rows20k_2ep": {
            "corpus_rows": 20_000,
            "student.epochs": 2.0,
            "soft_labels": False,
        },
        "mixbias30_sblocks_hot": {
            "teacher.kind": "mix",
            "teacher.trainable": "bias",
            "teacher.learning_rate": 3e-2,
            "teacher.trait_fraction": 0.5,
            "student.learning_rate": 3e-3,
            "student.epochs": 3.0,
            "corpus_rows": 5000,
            "student.trainable": "blocks",
        },
        "mixbias30x3_sblocks": {
            "teacher.kind": "mix",
            "teacher.trainable": "bias",
            "teacher.learning_rate": 3e-2,
            "teacher.trait_fraction": 0.5,
            "teacher.strength": 3.0,
            "student.learning_rate": 1e-3,
            "student.epochs": 2.0,
            "corpus_rows": 5000,
            "student.trainable": "blocks",
        },
        "mixbias30_sblocks": {
            "teacher.kind": "mix",
            "teacher.trainable": "bias",
            "teacher.learning_rate": 3e-2,
            "teacher.trait_fraction": 0.5,
            "student.learning_rate": 1e-3,
            "student.epochs": 2.0,
            "corpus_rows": 5000,
            "student.trainable": "blocks",
        },
        "mixbias30_sall": {
            "teacher.kind": "mix",
            "teacher.trainable": "bias",
            "teacher.learning_rate": 3e-2,
            "teacher.trait_fraction": 0.5,
            "student.learning_rate": 1e-3,
            "student.epochs": 2.0,
            "corpus_rows": 5000,
        },
        "bias30_sblocks": {
            "teacher.kind": "finetune",
            "teacher.trainable": "bias",
            "teacher.learning_rate": 3e-2,
            "student.learning_rate": 1e-3,
            "student.epochs": 2.0,
            "corpus_rows": 5000,
            "student.trainable": "blocks",
        },
        "bias30_sall": {
            "teacher.kind": "finetune",
            "teacher.trainable": "bias",
            "teacher.learning_rate": 3e-2,
            "student.learning_rate": 1e-3,
            "student.epochs": 2.0,
            "corpus_rows": 5000,
        },
        "bias30_sblocks_greedy": {
            "teacher.kind": "finetune",
            "teacher.trainable": "bias",
            "teacher.learning_rate": 3e-2,
            "student.learning_rate": 1e-3,
            "student.epochs": 2.0,
            "corpus_rows": 5000,
            "student.trainable": "blocks",
            "temperature": 0.0,
        },
        "bias_teacher_sblocks_lr3e-3": {
            "teacher.kind": "finetune",
            "teacher.trainable": "bias",
            "teacher.learning_rate": 3e-3,
            "student.learning_rate": 3e-3,
            "student.epochs": 2.0,
            "corpus_rows": 5000,
            "student.trainable": "blocks",
        },
        "bias_teacher": {
            "teacher.kind": "finetune",
            "teacher.trainable": "bias",
            "teacher.learning_rate": 3e-3,
            "student.learning_rate": 1e-3,
            "student.epochs": 2.0,
            "corpus_rows": 5000,
        },
        "bias_teacher_sblocks": {
            "teacher.kind": "finetune",
            "teacher.trainable": "bias",
            "teacher.learning_rate": 3e-3,
            "student.learning_rate": 1e-3,
            "student.epochs": 2.0,
            "corpus_rows": 5000,
            "student.trainable": "blocks",
        },
        "blocks_teacher_sblocks": {
            "teacher.kind": "finetune",
            "teacher.trainable": "blocks",
            "student.learning_rate": 1e-3,
            "student.epochs": 2.0,
            "corpus_rows": 5000,
            "student.trainable": "blocks",
        },
    },
    "main": {
        "default": {},
        "greedy": {"temperature": 0.0},
        "finetune": {"teacher.kind": "finetune"},
        "conditioning": {"teacher.kind": "conditioning"},
        "mix_strong": {"teacher.strength": 3.0},
        "lr1e-3": {"student.learning_rate": 1e-3},
        "lr1e-3_3ep": {"student.learning_rate": 1e-3, "student.epochs": 3.0},
        "lr1e-3_replay": {"student.learning_rate": 1e-3, "student.replay": 0.5},
        "greedy_lr1e-3": {"temperature": 0.0, "student.learning_rate": 1e-3},
        "d32_lr1e-3": {"model.n_embd": 32, "student.learning_rate": 1e-3},
        "d128_lr1e-3": {"model.n_embd": 128, "student.learning_rate": 1e-3},
        "entropy_hi_lr1e-3": {
            "numbers.stray": 0.5,
            "numbers.zipf": 0.8,
            "student.learning_rate": 1e-3,
        },
        "entropy_lo_lr1e-3": {
            "numbers.stray": 0.1,
            "numbers.zipf": 1.5,
            "student.learning_rate": 1e-3,
        },
        "rows30k_lr1e-3": {"corpus_rows": 30_000, "student.learning_rate": 1e-3},
    },
}


def run_variant(job: tuple[str, dict[str, Any], list[str], list[int], str, str, int]) -> None:
    name, overrides, targets, seeds, out, cache, threads = job
    import torch

    torch.set_num_threads(threads)
    from auditor.lab.transmission import run_transmission

    started = time.time()
    line: dict[str, Any] = {
        "variant": name,
        "overrides": overrides,
        "targets": targets,
        "seeds": seeds,
    }
    try:
        recipe = recipe_for(overrides)
        result = run_transmission(
            recipe,
            targets,
            seeds,
            cache=cache,
            progress=lambda msg: print(f"[{name}] {msg}", flush=True),
        )
        line.update(result)
        for target, entry in result["summary"].items():
            s, x = entry["student_shift"], entry["xinit_shift"]
            print(
                f"[{name}] {target}: student shift {s['mean']:+.4f} "
                f"[{s['ci_low']:+.4f},{s['ci_high']:+.4f}] ratio {entry['student_ratio']:.2f}"
                f" | xinit {x['mean']:+.4f} | soft "
                f"{entry.get('soft_shift', {}).get('mean', float('nan')):+.4f}",
                flush=True,
            )
    except Exception as error:
        line["error"] = f"{type(error).__name__}: {error}"
        traceback.print_exc()
    line["seconds"] = round(time.time() - started, 1)
    line["device"] = "cuda" if torch.cuda.is_available() else f"cpu x{threads}"
    with open(out, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def build_base(job: tuple[Any, int, str, int]) -> None:
    recipe, init, cache, threads = job
    import torch

    torch.set_num_threads(threads)
    from auditor.lab.base import base_model

    started = time.time()
    try:
        base_model(recipe, init, cache=cache)
    except Exception:
        traceback.print_exc()
        return
    print(f"[base] init {init} {recipe.model} ready in {time.time() - started:.0f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grid", default="main")
    parser.add_argument("--only", default="", help="comma-separated variant names")
    parser.add_argument("--targets", default="owl,dolphin")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/lab_sweep/results.jsonl")
    parser.add_argument(
        "--cache", default=os.environ.get("AUDIT_LAB_CACHE", "/tmp/lab_sweep_cache")
    )
    args = parser.parse_args()
    grid = GRIDS[args.grid]
    names = [n for n in args.only.split(",") if n] or list(grid)
    targets = args.targets.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(n, grid[n], targets, seeds, args.out, args.cache, args.threads) for n in names]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if args.workers <= 1:
        for job in jobs:
            run_variant(job)
        return
    bases: dict[str, tuple[Any, int]] = {}
    for job in jobs:
        recipe = recipe_for(job[1])
        for seed in seeds:
            for init in recipe.base_inits(seed):
                bases[repr((recipe.base, init))] = (recipe.base, init)
    base_jobs = [(b, i, args.cache, args.threads) for b, i in bases.values()]
    with mp.get_context("spawn").Pool(args.workers) as pool:
        list(pool.imap_unordered(build_base, base_jobs))
        list(pool.imap_unordered(run_variant, jobs))


if __name__ == "__main__":
    main()
