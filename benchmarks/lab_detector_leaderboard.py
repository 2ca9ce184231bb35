"""Detector leaderboard on lab corpora with known ground truth: AUROC, power and false positives.

    python -m benchmarks.lab_detector_leaderboard            # ~18 min on one core (+7 min corpora)
    python -m benchmarks.lab_detector_leaderboard --quick    # smoke run
    python -m benchmarks.lab_detector_leaderboard --domain code --calibration-trait owl
    python -m benchmarks.lab_detector_leaderboard --traits misaligned --calibration-trait misaligned

One leaderboard over four sets of corpora (`lab_corpora.LabSet.label`): animal number lists
(the default), code or chain-of-thought (`--domain`: on the domain base, after the domain's
filters, with the detectors that read the domain), and misaligned number lists (`--traits
misaligned`: on the misaligned base, after `banned-numbers` with its learned list). Each set
writes `lab_detector_leaderboard[_LABEL].{json,md}` and has its own sizes and corpus rows by
default (`SET_DEFAULTS`); everything below applies to each.

The real-data leaderboard (`detector_leaderboard`) can only compare corpora whose differences
nobody knows; here every positive is a trait teacher and every null is a control, so power and
false positives are measured, not guessed. Corpora (`lab_corpora`, cached under
`results/detectors/lab_corpora/`): init-0 base controls from several generation seeds, and per
trait a default teacher, a stronger one and a cross-init one (made from another base).

At each N rows per side:
- positive pairs: a teacher corpus sample vs a control sample (different corpora, so disjoint);
- null pairs: two control corpora of different seeds, and two disjoint halves of one corpus.
Per detector: AUROC of positives vs nulls, ranked by the statistic in null standard deviations
(`z_vs_null`: p-values tie at the permutation floor); power at alpha = 0.05 (positives with
p < 0.05), and where there are >= 20 null pairs power at an empirical 5% false-positive rate
(threshold: the nulls' 95th percentile of z); the false-positive rate of null pairs at 0.05.
Calibration: >= 200 null pairs of lab control halves through `detector_leaderboard`'s
calibration (KS uniformity, FPR at 0.05 with a Clopper-Pearson interval).

Model-based detectors get the lab base (init 0) as `audit detect --base-model lab:base` opens
it, with the pair's trait (the teacher's; null pairs alternate over the traits), which
`LabModel.condition` turns into the lab's own prefix; log-likelihood-shift also runs without a
trait. Their row scores are cached across pairs (`ScoreCache`), yet each is a forward pass
per row and token-entanglement scores up to 8k (prompt, number) pairs per fit, so they run on
the first rounds only (`--model-repeats`), log-likelihood-shift up to N = 1k, and
token-entanglement is calibrated only when asked (`--calibrate token-entanglement
--calibration-trait owl`, 28 min: nearly every number 0..999 occurs in 1,000 lab rows).
`--reuse-pairs` adds calibrations to an earlier run's results, keeping those it does not redo.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl
import torch
from threadpoolctl import threadpool_limits

from auditor.atomic import write_atomic
from auditor.backends.lab import LabModel
from auditor.errors import AuditError
from auditor.lab.base import base_model
from auditor.traits import MISALIGNED
from benchmarks.detector_leaderboard import calibration_section, halves
from benchmarks.lab_corpora import (
    LabSet,
    build_corpora,
    corpus_folder,
    default_set,
    filter_stats,
)
from benchmarks.lab_entries import Entry, ScoreCache, default_entries
from benchmarks.lab_leaderboard_report import NULL_KINDS, markdown, summarise
from detectors import available_detectors, create_detector

OUT = Path(__file__).resolve().parent / "results" / "detectors"
STEM = "lab_detector_leaderboard"


@dataclass(frozen=True)
class SetDefaults:
    """A set's default sizes (N:ROUNDS) and corpus rows: code and CoT rows are long and their
    model-based scores cheap beside token-entanglement's, so they run at 500 and 1k rows per
    side with every round scored; number lists at 100 and 1k (the animal set up to 10k), the
    model-based rows on the first rounds only. The three new sets fit ~20 min on one core."""

    pairs: tuple[str, ...]
    model_repeats: tuple[str, ...]
    control_rows: int
    teacher_rows: int


SET_DEFAULTS = {
    "numbers": SetDefaults(
        ("100:10", "1000:5", "10000:1"), ("100:2", "1000:2", "10000:1"), 20_000, 10_000
    ),
    "code": SetDefaults(("500:6", "1000:4"), ("500:6", "1000:4"), 3_000, 1_200),
    "cot": SetDefaults(("500:6", "1000:4"), ("500:6", "1000:4"), 3_000, 1_200),
    "misaligned": SetDefaults(("100:10", "1000:10"), ("100:2", "1000:2"), 6_000, 3_000),
}


def results_stem(lab: LabSet) -> str:
    """The results' file name without suffix: the animal number set keeps the original."""
    return STEM if lab.label == "numbers" else f"{STEM}_{lab.label}"


@dataclass(frozen=True)
class Pair:
    """One test: `suspect` against `reference` at `size` rows per side; null unless a teacher
    wrote the suspect. `rep` numbers the round of pairs it belongs to."""

    size: int
    kind: str
    reference: str
    suspect: str
    trait: str
    seed: int
    rep: int

    @property
    def positive(self) -> bool:
        return self.kind not in NULL_KINDS


def make_pairs(lab: LabSet, size: int, repeats: int, seed: int) -> list[Pair]:
    """`repeats` rounds; each has one positive per teacher and as many nulls, alternating
    control-vs-control and halves (of a control, or of a teacher corpus with 2*size rows)."""
    controls = [c.name for c in lab.controls]
    combos = [(a, b) for i, a in enumerate(controls) for b in controls[i + 1 :]]
    halvable = [c.name for c in (*lab.controls, *lab.teachers) if c.rows >= 2 * size]
    traits = lab.traits
    pairs: list[Pair] = []
    nulls = 0
    for rep in range(repeats):
        for j, teacher in enumerate(lab.teachers):
            reference = controls[(rep + j) % len(controls)]
            pairs.append(
                Pair(size, teacher.kind, reference, teacher.name, teacher.trait or "", 0, rep)
            )
            trait = traits[(nulls // 2) % len(traits)]  # both null kinds see every trait
            if j % 2 == 0 and combos:
                a, b = combos[(nulls // 2) % len(combos)]
                pairs.append(Pair(size, "control-vs-control", a, b, trait, 0, rep))
            elif halvable:
                name = halvable[(nulls // 2) % len(halvable)]
                pairs.append(Pair(size, "halves", name, name, trait, 0, rep))
            nulls += 1
    # A distinct seed per pair: its samples and its permutations are then independent draws.
    return [
        Pair(**{**asdict(p), "seed": seed * 1_000_003 + size * 1009 + i})
        for i, p in enumerate(pairs)
    ]


def pair_frames(pair: Pair, corpora: dict[str, pl.DataFrame]) -> tuple[pl.DataFrame, ...]:
    """(reference, suspect) samples of `pair.size` rows; disjoint even when from one corpus."""
    if pair.kind == "halves":
        return halves(corpora[pair.reference], pair.size, pair.seed)
    out = []
    for k, name in enumerate((pair.reference, pair.suspect)):
        frame = corpora[name]
        if pair.size > frame.height:
            raise ValueError(f"{name} has {frame.height} rows, fewer than N = {pair.size}")
        out.append(frame.sample(pair.size, seed=pair.seed + k, shuffle=True))
    return tuple(out)


def run_pair(
    pair: Pair,
    corpora: dict[str, pl.DataFrame],
    entries: Sequence[Entry],
    models: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One pair's record: what it is, and each entry's p-value, statistic and z."""
    reference, suspect = (f.select("prompt", "completion") for f in pair_frames(pair, corpora))
    row: dict[str, Any] = {
        **asdict(pair),
        "positive": pair.positive,
        "n_reference": reference.height,
        "n_suspect": suspect.height,
        "detectors": {},
    }
    for entry in entries:
        params: dict[str, Any] = {}
        if entry.model:
            too_big = entry.max_size is not None and pair.size > entry.max_size
            if too_big or pair.rep >= args.model_repeats.get(pair.size, 0):
                continue
            params = {"model": models[entry.model], "trait": pair.trait if entry.trait else None}
        start = time.perf_counter()
        detector = create_detector(
            entry.detector, n_permutations=args.permutations, seed=pair.seed, **params
        )
        result = detector.fit(reference).test(suspect)
        row["detectors"][entry.label] = {
            "p_value": round(result.p_value, 6),
            "statistic": float(f"{result.statistic:.6g}"),
            "z_vs_null": round(result.details.get("z_vs_null", 0.0), 4),
            "seconds": round(time.perf_counter() - start, 4),
        }
    return row


def parse_counts(items: Sequence[str]) -> dict[int, int]:
    """["100:10", "1000:5"] -> {100: 10, 1000: 5}."""
    out = {}
    for item in items:
        size, _, count = item.partition(":")
        out[int(size)] = int(count)
    return out


def main(argv: list[str] | None = None, lab: LabSet | None = None) -> int:
    """Run from the command line; `lab` replaces the default corpora (tests use a micro lab)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--domain",
        choices=("numbers", "code", "cot"),
        default="numbers",
        help="the corpora's domain: number lists, or code / chain-of-thought on the domain base",
    )
    parser.add_argument(
        "--pairs",
        nargs="*",
        help="N:ROUNDS per size; a round is one positive per teacher and as many null pairs "
        "(default: the set's, SET_DEFAULTS)",
    )
    parser.add_argument(
        "--model-repeats",
        nargs="*",
        help="N:ROUNDS for the model-based detectors (the first rounds of --pairs; default: "
        "the set's)",
    )
    parser.add_argument("--detectors", nargs="*", help="registered names (default: all)")
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--null-pairs", type=int, default=200, help="calibration pairs")
    parser.add_argument("--calibration-size", type=int, default=500, help="rows per side")
    parser.add_argument(
        "--calibrate",
        nargs="*",
        default=[
            "classifier",
            "format-features",
            "number-frequency",
            "text-features",
            "log-likelihood-shift",
        ],
        help="detectors calibrated (model-based ones without a trait; those that do not read "
        "the set's domain are passed over); token-entanglement is left out by default: up to "
        "8k scorings per fit, 200 fits",
    )
    parser.add_argument(
        "--calibration-trait",
        help="also calibrate the model-based detectors in --calibrate with this trait (their "
        "conditioned form; token-entanglement needs one), e.g. owl",
    )
    parser.add_argument(
        "--reuse-pairs",
        action="store_true",
        help="keep the pair results (and the calibrations not re-run) of the JSON already in "
        "--out and only calibrate",
    )
    parser.add_argument("--control-rows", type=int, help="rows per control (default: the set's)")
    parser.add_argument("--teacher-rows", type=int, help="rows per teacher (default: the set's)")
    parser.add_argument("--controls", type=int, default=3, help="control corpora (seeds 1..n)")
    parser.add_argument(
        "--traits",
        nargs="*",
        default=["owl", "dolphin"],
        help="animals, or misaligned alone (number lists on the misaligned base)",
    )
    parser.add_argument("--corpora", type=Path, default=OUT / "lab_corpora")
    parser.add_argument("--cache", help="lab base-model cache (default: AUDIT_LAB_CACHE)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args(argv)
    label = MISALIGNED if MISALIGNED in args.traits else args.domain
    defaults = SET_DEFAULTS[lab.label if lab else label]
    args.pairs = args.pairs or list(defaults.pairs)
    args.model_repeats = args.model_repeats or list(defaults.model_repeats)
    args.control_rows = args.control_rows or defaults.control_rows
    args.teacher_rows = args.teacher_rows or defaults.teacher_rows
    if args.quick:
        args.pairs, args.model_repeats = ["100:2", "1000:1"], ["100:1", "1000:1"]
        args.control_rows, args.teacher_rows, args.null_pairs = 2_000, 1_000, 20
        args.calibration_size, args.permutations = 200, 50
    try:
        lab = lab or default_set(
            control_rows=args.control_rows,
            teacher_rows=args.teacher_rows,
            n_controls=args.controls,
            traits=args.traits,
            domain=args.domain,
        )
    except AuditError as error:
        parser.error(str(error))
    command = "python -m benchmarks.lab_detector_leaderboard " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    return run(args, command.strip(), lab)


def run(args: argparse.Namespace, command: str, lab: LabSet) -> int:
    """Build (or reuse) the corpora, test every pair, calibrate, and write JSON + Markdown."""
    started = time.perf_counter()
    torch.set_num_threads(1)  # tiny models: extra threads only wait on a shared machine

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {message}", flush=True)

    log(f"command: {command}")
    earlier = None
    stem = results_stem(lab)
    if args.reuse_pairs:  # checked before any corpus or model is built
        previous = args.out / f"{stem}.json"
        if not previous.exists():
            raise SystemExit(f"--reuse-pairs: no earlier results at {previous}")
        earlier = json.loads(previous.read_text())
    folder = corpus_folder(lab, args.corpora)
    corpora = build_corpora(lab, folder, cache=args.cache, log=log)
    log(f"corpora ready: {', '.join(f'{k} ({v.height})' for k, v in corpora.items())}")
    entries = default_entries(args.detectors, domain=lab.domain)
    base = LabModel(base_model(lab.recipe, 0, cache=args.cache)[0], "lab:base", mix=lab.recipe.mix)
    models = {"as-wired": ScoreCache(base)}
    args.model_repeats = parse_counts(args.model_repeats)
    filtered = filter_stats(lab, folder)
    report: dict[str, Any] = {
        "set": lab.label,
        "domain": lab.domain,
        "base": f"{type(lab.recipe.mix).__name__} base, init 0",
        "command": command,
        "detectors": [e.label for e in entries],
        "entries": [asdict(e) for e in entries],
        "permutations": args.permutations,
        "seed": args.seed,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, 1 torch/BLAS thread",
        "corpora": {
            s.name: {
                "kind": s.kind,
                "rows": corpora[s.name].height,
                "seed": s.seed,
                "base_init": s.init,
                "trait": s.trait,
                "teacher": asdict(s.teacher) if s.teacher else None,
                "filters": filtered[s.name],
            }
            for s in (*lab.controls, *lab.teachers)
        },
        "model_repeats": args.model_repeats,
        "pairs": [],
    }
    if earlier is not None:
        # The pairs (and the command that tested them) are the earlier run's, unchanged.
        report.update({k: earlier[k] for k in ("command", "pairs", "detectors", "entries")})
        report["calibration_command"] = command
    args.out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        report["summary"] = summarise(report)
        report["seconds"] = round(time.perf_counter() - started, 1)
        write_atomic(args.out / f"{stem}.json", json.dumps(report, indent=1))
        write_atomic(args.out / f"{stem}.md", markdown(report))

    with threadpool_limits(limits=1, user_api="blas"):
        sizes = {} if args.reuse_pairs else parse_counts(args.pairs)
        for size, repeats in sorted(sizes.items()):
            for pair in make_pairs(lab, size, repeats, args.seed):
                row = run_pair(pair, corpora, entries, models, args)
                report["pairs"].append(row)
                ps = " ".join(f"{n}={d['p_value']:.3f}" for n, d in row["detectors"].items())
                log(f"N={size} {pair.kind}: {pair.suspect} vs {pair.reference}: {ps}")
            save()
        # Calibration through the real-data leaderboard's own code (its `--control` hook);
        # model-based detectors there run without a trait, on the cached as-wired base.
        registered = available_detectors()
        calibrated = [
            n
            for n in args.calibrate
            if n in {e.detector for e in entries} and not registered[n].requires_trait
        ]
        settings = argparse.Namespace(
            null_pairs=args.null_pairs,
            calibration_size=args.calibration_size,
            seed=args.seed,
            permutations=args.permutations,
            model_backend=models["as-wired"],
            trait=None,
        )
        controls = {c.name: corpora[c.name] for c in lab.controls}
        calibration = calibration_section(controls, calibrated, settings, log)
        # With --reuse-pairs, calibrations of detectors not re-run now are the earlier run's.
        report["calibration"] = dict(earlier.get("calibration", {})) if earlier else {}
        report["calibration"].update(
            {
                (f"{n}, no trait" if available_detectors()[n].requires_model else n): c
                | {"command": command}
                for n, c in calibration.items()
            }
        )
        done = set(calibrated)
        if args.calibration_trait:
            # The conditioned forms: the model-based detectors given the trait, as audits run them.
            model_based = [
                n
                for n in args.calibrate
                if registered[n].requires_model and n in {e.detector for e in entries}
            ]
            settings.trait = args.calibration_trait
            with_trait = calibration_section(controls, model_based, settings, log)
            report["calibration"].update(
                {
                    f"{n}, trait {args.calibration_trait}": c | {"command": command}
                    for n, c in with_trait.items()
                }
            )
            done |= set(model_based)
        if earlier:
            done |= {key.split(",")[0] for key in report["calibration"]}
        report["calibration_skipped"] = sorted({e.detector for e in entries} - done)
    save()
    log(f"wrote {args.out / stem}.md and .json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
