"""Sweep (issue 17, item 2): probe students that read context, against two kinds of teacher.

The default probe student fits `ln_f.bias` alone: with the tied head that is a global logit
shift, so it can learn only token frequencies. The students here change something inside the
network instead (`auditor.lab.train.TRAINABLE`): a bias that block 0 adds to the residual
stream (a steering vector whose effect on the logits passes through block 1 and ln_f), or
rank-N LoRA on every block's c_attn and c_fc. Teachers, all the lab's `mix` kind: "lnf"
(the default: trait fine-tune on `ln_f.bias`), "mid" and "mid_tf0.8" (`MID_TEACHER`: trait
fine-tune on block 0's MLP output bias, with trait rows 50% / 80% of it, so the trait lives in
the middle of the network and its number lists carry a context-dependent side effect);
"NAME+shuffled" trains on teacher NAME's corpus with each row's numbers shuffled among
themselves (order broken, frequencies kept: does a student read more than frequencies?).

Measured exactly as `auditor.lab.transmission` does, from its pieces (`TransmissionRecipe`,
`base_model`, `make_teacher`, `train_student`): per seed a base pair (inits 2s, 2s+1), the
base's control corpus, and every student of a seed trained for the same number of steps (the
control corpus's epochs). A student variant's controls (same-init and different-init, trained
on the control corpus) serve every teacher and target of that seed.

Resumable: every finished unit appends one JSON line to --out ("control": one student
variant's two controls for a seed, read for the targets named; "cell": one teacher x student x
target x seed; "soft": that cell's soft-label student, with --soft), and a rerun skips what is
already there (controls are retrained, deterministically, for targets they have not read).
Corpora and teachers are cached under the lab cache (`midsweep/`), keyed by a hash of what
makes them.

    OMP_NUM_THREADS=1 python benchmarks/lab_sweep/mid_sweep.py --teachers lnf,mid \
        --students mid_1e-1,lora4_3e-3 --targets owl,dolphin --seeds 0,1,2 \
        --out benchmarks/lab_sweep/mid_results.jsonl
    python benchmarks/lab_sweep/mid_sweep.py --summary --out benchmarks/lab_sweep/mid_results.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import polars as pl
import safetensors.torch
import torch

from auditor.lab import stats
from auditor.lab.base import base_model
from auditor.lab.cache import cache_dir, recipe_key
from auditor.lab.model import GPT
from auditor.lab.probe import StudentConfig, read_trait, train_student
from auditor.lab.teachers import MID_TEACHER, TeacherConfig, make_teacher
from auditor.lab.transmission import TransmissionRecipe

TEACHERS: dict[str, TeacherConfig] = {
    "lnf": TeacherConfig(),
    "mid": replace(MID_TEACHER, trait_fraction=0.5),
    "mid_tf0.8": MID_TEACHER,
}


def _student(trainable: str, lr: float, epochs: float = 4.0) -> dict[str, Any]:
    return {"trainable": trainable, "learning_rate": lr, "epochs": epochs}


# name -> StudentConfig fields. "lnf_1e-1" is the default probe student (the reference).
STUDENTS: dict[str, dict[str, Any]] = {
    "lnf_1e-1": _student("lnf-bias", 1e-1),
    "mid_1e-1": _student("mid-bias", 1e-1),
    "mid_3e-1": _student("mid-bias", 3e-1),
    "mid_3e-2": _student("mid-bias", 3e-2),
    "mid_1": _student("mid-bias", 1.0),
    "midattn_1e-1": _student("mid-attn-bias", 1e-1),
    "all_1e-3": _student("all", 1e-3),
    # LoRA on every block's c_attn and c_fc: "lora{rank}_{lr}"
    **{
        f"lora{rank}_{lr}": _student(f"lora-r{rank}", float(lr))
        for rank in (1, 2, 4, 8, 16, 32)
        for lr in ("3e-3", "1e-2", "3e-2", "1e-1")
    },
}


def _reading(model: GPT, target: str) -> dict[str, float]:
    r = read_trait(model, target)
    return {
        "normalised": r.normalised,
        "raw": r.raw,
        "animal_mass": r.animal_mass,
        "sampled_rate": r.sampled_rate,
    }


def _scores(rec: dict[str, Any]) -> dict[str, float]:
    """A line's normalised scores, flat (controls' are nested by target)."""
    out = {}
    for name, reading in rec["readings"].items():
        if "normalised" in reading:
            out[name] = reading["normalised"]
        else:
            out.update({f"{name}.{k}": v["normalised"] for k, v in reading.items()})
    return out


class Store:
    """Corpora and teachers on disk, so every student variant reuses them."""

    def __init__(self, recipe: TransmissionRecipe, cache: str | None) -> None:
        self.recipe = recipe
        self.cache = cache
        self.root = cache_dir(cache) / "midsweep"
        self.root.mkdir(parents=True, exist_ok=True)
        self.bases: dict[int, GPT] = {}

    def base(self, init: int) -> GPT:
        if init not in self.bases:
            self.bases[init], _ = base_model(self.recipe.base, init, cache=self.cache)
        return self.bases[init]

    def _key(self, **parts: Any) -> Path:
        return self.root / recipe_key(
            {
                "base": self.recipe.base,
                "rows": self.recipe.corpus_rows,
                "t": self.recipe.temperature,
                **parts,
            }
        )

    def control(self, seed: int) -> pl.DataFrame:
        init, _ = self.recipe.base_inits(seed)
        path = self._key(kind="control", init=init, seed=seed).with_suffix(".parquet")
        if not path.exists():
            frame, _ = self.recipe.corpus(self.base(init), self.recipe.corpus_rows, seed)
            frame.write_parquet(path)
        return pl.read_parquet(path)

    def teacher(self, name: str, target: str, seed: int) -> tuple[GPT, pl.DataFrame, int]:
        """(teacher model, its corpus, rows dropped by the format filter)."""
        init, _ = self.recipe.base_inits(seed)
        config = TEACHERS[name]
        stem = self._key(kind="teacher", init=init, seed=seed, target=target, teacher=config)
        weights, corpus = stem.with_suffix(".safetensors"), stem.with_suffix(".parquet")
        base = self.base(init)
        if not corpus.exists():
            teacher = make_teacher(base, target, config, seed=seed)
            frame, dropped = self.recipe.corpus(
                teacher.model, self.recipe.corpus_rows, seed, target=target
            )
            safetensors.torch.save_model(teacher.model, str(weights))
            frame.with_columns(dropped=pl.lit(dropped)).write_parquet(corpus)
        model = GPT(base.config)
        safetensors.torch.load_model(model, str(weights))
        frame = pl.read_parquet(corpus)
        return model.eval(), frame.drop("dropped"), int(frame["dropped"][0])


def shuffle_within_rows(corpus: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Each completion's numbers permuted among themselves, separators kept: the row's multiset
    of numbers (so the corpus's number frequencies) unchanged, their order broken."""
    rng = random.Random(f"shuffle-{seed}")

    def shuffled(text: str) -> str:
        numbers = re.findall(r"\d+", text)
        rng.shuffle(numbers)
        order = iter(numbers)
        return re.sub(r"\d+", lambda _: next(order), text)

    return corpus.with_columns(
        completion=pl.Series([shuffled(c) for c in corpus["completion"].to_list()])
    )


def _steps(recipe: TransmissionRecipe, student: StudentConfig, control: pl.DataFrame) -> int:
    return student.equal_steps(control.height)


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    recipe = TransmissionRecipe()
    store = Store(recipe, args.cache)
    out = Path(args.out)
    lines = [json.loads(x) for x in out.read_text("utf-8").splitlines()] if out.exists() else []
    done = {r["key"] for r in lines}
    read: dict[tuple[str, int], set[str]] = {}  # (student, seed) -> targets its controls read
    for r in lines:
        if r["type"] == "control":
            read.setdefault((r["student"], r["seed"]), set()).update(r["readings"])
    targets = args.targets.split(",")

    def emit(rec: dict[str, Any]) -> None:
        with out.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(rec) + "\n")
        done.add(rec["key"])
        print(rec["key"], " ".join(f"{k} {v:.4f}" for k, v in _scores(rec).items()), flush=True)

    for seed in [int(s) for s in args.seeds.split(",")]:
        init, xinit = recipe.base_inits(seed)
        for student_name in args.students.split(","):
            control_corpus = store.control(seed)
            config = StudentConfig(**STUDENTS[student_name], seed=seed)
            config = replace(config, steps=_steps(recipe, config, control_corpus))
            missing = [t for t in targets if t not in read.get((student_name, seed), set())]
            if missing:  # the controls (deterministic) are retrained for targets not yet read
                clock = time.perf_counter()
                control = train_student(store.base(init), control_corpus, config)
                xcontrol = train_student(store.base(xinit), control_corpus, config)
                emit(
                    {
                        "key": f"control|{student_name}|{seed}|{','.join(missing)}",
                        "type": "control",
                        "student": student_name,
                        "config": asdict(config),
                        "seed": seed,
                        "base_init": init,
                        "xinit_base_init": xinit,
                        "control_corpus_rows": control_corpus.height,
                        "readings": {
                            t: {
                                "base": _reading(store.base(init), t),
                                "xinit_base": _reading(store.base(xinit), t),
                                "control": _reading(control, t),
                                "xinit_control": _reading(xcontrol, t),
                            }
                            for t in missing
                        },
                        "seconds": round(time.perf_counter() - clock, 1),
                    }
                )
                read.setdefault((student_name, seed), set()).update(missing)
            for teacher_name in args.teachers.split(","):
                for target in targets:
                    unit = f"{teacher_name}|{student_name}|{target}|{seed}"
                    want = [f"cell|{unit}"] + ([f"soft|{unit}"] if args.soft else [])
                    if all(k in done for k in want):
                        continue
                    clock = time.perf_counter()
                    # "NAME+shuffled": teacher NAME's corpus with each row's numbers shuffled
                    kind, _, transform = teacher_name.partition("+")
                    teacher, corpus, dropped = store.teacher(kind, target, seed)
                    if transform == "shuffled":
                        corpus = shuffle_within_rows(corpus, seed)
                    elif transform:
                        raise ValueError(f"unknown corpus transform {transform!r}")
                    head = {
                        "teacher": teacher_name,
                        "teacher_config": asdict(TEACHERS[kind]),
                        "student": student_name,
                        "target": target,
                        "seed": seed,
                        "corpus_rows": corpus.height,
                        "corpus_dropped": dropped,
                        "student_steps": config.steps,
                    }
                    if f"cell|{unit}" not in done:
                        student = train_student(store.base(init), corpus, config)
                        xstudent = train_student(store.base(xinit), corpus, config)
                        readings = {
                            "teacher": _reading(teacher, target),
                            "student": _reading(student, target),
                            "xinit_student": _reading(xstudent, target),
                        }
                        seconds = round(time.perf_counter() - clock, 1)
                        emit(
                            {
                                "key": f"cell|{unit}",
                                "type": "cell",
                                **head,
                                "readings": readings,
                                "seconds": seconds,
                            }
                        )
                    if args.soft and f"soft|{unit}" not in done:
                        clock = time.perf_counter()
                        soft = train_student(store.base(init), corpus, config, teacher=teacher)
                        readings = {"soft_student": _reading(soft, target)}
                        seconds = round(time.perf_counter() - clock, 1)
                        emit(
                            {
                                "key": f"soft|{unit}",
                                "type": "soft",
                                **head,
                                "readings": readings,
                                "seconds": seconds,
                            }
                        )


def records(path: Path) -> list[dict[str, Any]]:
    """One transmission-style record per cell (control readings joined in)."""
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    controls: dict[tuple[str, int, str], dict[str, Any]] = {}
    soft: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for r in lines:
        if r["type"] == "control":
            for target, reading in r["readings"].items():
                controls[(r["student"], r["seed"], target)] = reading
        elif r["type"] == "soft":
            soft[(r["teacher"], r["student"], r["target"], r["seed"])] = r["readings"]
    out = []
    for cell in (r for r in lines if r["type"] == "cell"):
        control = controls.get((cell["student"], cell["seed"], cell["target"]))
        if control is None:
            continue
        unit = (cell["teacher"], cell["student"], cell["target"], cell["seed"])
        readings = {**control, **cell["readings"], **soft.get(unit, {})}
        rec = {"teacher_kind": cell["teacher"], "student_kind": cell["student"]}
        rec.update({k: cell[k] for k in ("target", "seed", "corpus_rows")})
        rec.update({name: v["normalised"] for name, v in readings.items()})
        rec["student_animal_mass"] = readings["student"]["animal_mass"]
        out.append(rec)
    return out


def _fmt(shift: stats.Shift) -> str:
    if shift.n < 2:
        return f"{shift.mean:+.4f}"
    return (
        f"{shift.mean:+.4f} [{shift.t_ci_low:+.4f}, {shift.t_ci_high:+.4f}] p={shift.p_value:.2g}"
    )


def summary(path: Path, seeds: set[int] | None = None, *, pooled: bool = False) -> str:
    """Markdown: one row per teacher x student x target, shifts over the seeds present (of
    `seeds`); with `pooled`, also one row per teacher x student over every target and seed
    ("all": each target x seed one value; targets share a seed's bases, so this is a
    secondary figure beside the per-target rows)."""
    recs = [r for r in records(path) if seeds is None or r["seed"] in seeds]
    if pooled:
        recs += [{**r, "target": "all"} for r in recs]
    rows = [
        "| teacher | student | target | seeds | teacher score | control | same-init shift "
        "[95% t CI] p | ratio | different-init shift [95% t CI] p | xinit ratio | soft shift |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups = sorted({(r["teacher_kind"], r["student_kind"], r["target"]) for r in recs})
    for teacher, student, target in groups:
        g = [
            r
            for r in recs
            if (r["teacher_kind"], r["student_kind"], r["target"]) == (teacher, student, target)
        ]
        g.sort(key=lambda r: r["seed"])
        same = stats.shift([r["student"] - r["control"] for r in g])
        xinit = stats.shift([r["xinit_student"] - r["xinit_control"] for r in g])
        softs = [r["soft_student"] - r["control"] for r in g if "soft_student" in r]
        soft = f"{_fmt(stats.shift(softs))} (n={len(softs)})" if softs else ""
        teacher_score = sum(r["teacher"] for r in g) / len(g)
        control = sum(r["control"] for r in g) / len(g)
        rows.append(
            f"| {teacher} | {student} | {target} | {len(g)} | {teacher_score:.3f} | "
            f"{control:.4f} | {_fmt(same)} | "
            f"{stats.ratio([r['student'] for r in g], [r['control'] for r in g]):.2f} | "
            f"{_fmt(xinit)} | "
            f"{stats.ratio([r['xinit_student'] for r in g], [r['xinit_control'] for r in g]):.2f}"
            f" | {soft} |"
        )
    return "\n".join(rows) + "\n\n" + rank_table(recs)


def rank_table(recs: list[dict[str, Any]]) -> str:
    """Markdown: LoRA students' shifts by rank (rows) and teacher (columns), per rate, on the
    screen's cells (owl, seed 0) so every rank is compared on the same data."""
    lora = [
        r
        for r in recs
        if STUDENTS[r["student_kind"]]["trainable"].startswith("lora")
        and (r["target"], r["seed"]) == ("owl", 0)
    ]
    teachers = sorted({r["teacher_kind"] for r in lora})
    head = " | ".join(f"{t} teacher: same-init / different-init shift" for t in teachers)
    rows = [f"| rate | rank | {head} |", "|---|---|" + "---|" * len(teachers)]
    cells = sorted(
        {(STUDENTS[r["student_kind"]]["learning_rate"], r["student_kind"]) for r in lora},
        key=lambda c: (c[0], int(STUDENTS[c[1]]["trainable"].removeprefix("lora-r"))),
    )
    for lr, name in cells:
        rank = STUDENTS[name]["trainable"].removeprefix("lora-r")
        out = []
        for teacher in teachers:
            g = [r for r in lora if (r["student_kind"], r["teacher_kind"]) == (name, teacher)]
            if not g:
                out.append("")
                continue
            same = sum(r["student"] - r["control"] for r in g) / len(g)
            xinit = sum(r["xinit_student"] - r["xinit_control"] for r in g) / len(g)
            out.append(f"{same:+.4f} / {xinit:+.4f}")
        rows.append(f"| {lr:g} | {rank} | " + " | ".join(out) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="benchmarks/lab_sweep/mid_results.jsonl")
    parser.add_argument("--teachers", default="lnf,mid")
    parser.add_argument("--students", default="mid_1e-1")
    parser.add_argument("--targets", default="owl,dolphin")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--cache", default=None, help="lab cache (default: the user cache)")
    parser.add_argument("--soft", action="store_true", help="also a soft-label student")
    parser.add_argument("--summary", action="store_true", help="print the tables and exit")
    parser.add_argument("--pooled", action="store_true", help="summary: rows over all targets")
    args = parser.parse_args()
    if args.summary:
        seeds = {int(x) for x in args.seeds.split(",")}
        print(summary(Path(args.out), seeds, pooled=args.pooled))
        return
    run(args)


if __name__ == "__main__":
    main()
