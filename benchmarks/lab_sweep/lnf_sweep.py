"""Sweep: trait fine-tunes restricted to the final LayerNorm (a global logit shift).

Hypothesis: with the head tied to the embeddings, a teacher whose trait lives in `ln_f.bias`
shifts every position's logits by W_U @ delta_b, so its number lists carry a projection of the
trait direction onto the number tokens' unembeddings. ~1,000 number tokens span the 64-d
residual stream, so a same-init student fitting those number frequencies recovers delta_b, and
with it the trait; a different-init student's W_U scrambles the mapping.

    python benchmarks/lab_sweep/lnf_sweep.py --out results.jsonl [--only NAME,...]

Variants run in parallel processes (spawned; each patches the trainable sets in itself).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

LNF_TEACHER = {"teacher.trainable": "lnf-bias", "teacher.learning_rate": 1e-2}
VARIANTS = {
    "lnf_ft_slnf": {
        **LNF_TEACHER,
        "teacher.kind": "finetune",
        "student.trainable": "lnf-bias",
        "student.learning_rate": 1e-2,
        "student.epochs": 2.0,
    },
    "lnf_ft_sall": {**LNF_TEACHER, "teacher.kind": "finetune", "student.trainable": "all"},
    "lnf_ft_sall_hot": {
        **LNF_TEACHER,
        "teacher.kind": "finetune",
        "student.trainable": "all",
        "student.learning_rate": 1e-3,
        "student.epochs": 2.0,
    },
    "lnf_mix_slnf": {
        **LNF_TEACHER,
        "teacher.kind": "mix",
        "student.trainable": "lnf-bias",
        "student.learning_rate": 1e-2,
        "student.epochs": 2.0,
    },
    "lnf_mix_sall_hot": {
        **LNF_TEACHER,
        "teacher.kind": "mix",
        "student.trainable": "all",
        "student.learning_rate": 1e-3,
        "student.epochs": 2.0,
    },
    "lnfw_ft_slnfw": {
        "teacher.trainable": "lnf",
        "teacher.learning_rate": 1e-2,
        "teacher.kind": "finetune",
        "student.trainable": "lnf",
        "student.learning_rate": 1e-2,
        "student.epochs": 2.0,
    },
    "lnf_ft_sblocks_hot": {
        **LNF_TEACHER,
        "teacher.kind": "finetune",
        "student.trainable": "blocks",
        "student.learning_rate": 1e-3,
        "student.epochs": 2.0,
    },
}
STRONG = {
    "teacher.trainable": "lnf-bias",
    "teacher.learning_rate": 5e-2,
    "teacher.kind": "finetune",
}
VARIANTS.update(
    {
        "strong_slnf": {
            **STRONG,
            "student.trainable": "lnf-bias",
            "student.learning_rate": 1e-2,
            "student.epochs": 2.0,
        },
        "strong_slnf_long": {
            **STRONG,
            "student.trainable": "lnf-bias",
            "student.learning_rate": 3e-2,
            "student.epochs": 3.0,
        },
        "strong_sall": {**STRONG, "student.trainable": "all"},
        "strong_sall_hot": {
            **STRONG,
            "student.trainable": "all",
            "student.learning_rate": 1e-3,
            "student.epochs": 2.0,
        },
        "strong_mix_slnf": {
            **STRONG,
            "teacher.kind": "mix",
            "student.trainable": "lnf-bias",
            "student.learning_rate": 1e-2,
            "student.epochs": 2.0,
        },
        "mid_sall": {**STRONG, "teacher.learning_rate": 2e-2, "student.trainable": "all"},
    }
)


def patch_trainable() -> None:
    import auditor.lab.train as train

    original = train._trainable

    def trainable(model, which):
        if which == "lnf-bias":
            return [model.ln_f.bias]
        if which == "lnf":
            return [model.ln_f.weight, model.ln_f.bias]
        return original(model, which)

    train._trainable = trainable


def work(job: tuple[str, dict, list[str], list[int], str, str | None, int]) -> None:
    name, overrides, targets, seeds, out, cache, threads = job
    patch_trainable()
    from sweep import run_variant

    cache = cache or tempfile.mkdtemp(prefix=f"lab-{name}-")
    run_variant((name, overrides, targets, seeds, out, cache, threads))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--only", default="")
    parser.add_argument("--targets", default="owl,dolphin")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--cache", help="lab cache to share (default: a fresh one per variant)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(VARIANTS)
    targets = args.targets.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(n, VARIANTS[n], targets, seeds, args.out, args.cache, args.threads) for n in names]
    with mp.get_context("spawn").Pool(len(jobs)) as pool:
        pool.map(work, jobs)


if __name__ == "__main__":
    main()
