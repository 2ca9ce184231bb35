"""Detector leaderboard: power on real teacher data, calibration on null pairs, speed.

    python -m benchmarks.detector_leaderboard            # full run (minutes on 2 cores)
    python -m benchmarks.detector_leaderboard --quick    # smoke run

What it measures, per detector:
- Power on the real Qwen2.5-7B-Instruct teacher corpora (`--realdata DIR`): every pair of the
  five animal corpora (different traits, same model) and null halves of each corpus (a random
  row split), at 10k, 1k and 100 rows per side (null halves at 10k are 5k vs 5k: a corpus has
  10k rows).
- Calibration: p-values over >= 200 null pairs (two disjoint random halves of one control
  corpus: the realdata corpora now, lab control corpora with `--control PATH ...`): a KS test
  of uniformity and the false-positive rate at alpha = 0.05 with a 95% Clopper-Pearson interval.
- Speed: fit + test on 10k rows vs 10k rows with 200 permutations, wall-clock seconds.
Writes `detector_leaderboard.json` and `.md` to `benchmarks/results/detectors/`, atomically,
after every section, so an interrupted run keeps what it finished.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy import stats
from threadpoolctl import threadpool_limits

from auditor.atomic import write_atomic
from auditor.corpus import read_corpus
from benchmarks.detector_leaderboard_report import markdown
from detectors import available_detectors, create_detector

REALDATA = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata" / "qwen2.5-7b-instruct"
)
OUT = Path(__file__).resolve().parent / "results" / "detectors"
ALPHA = 0.05


def load_corpora(paths: list[Path]) -> dict[str, pl.DataFrame]:
    """Name -> canonical frame (`prompt`, `completion`), through the project's corpus reader."""
    return {p.stem: read_corpus(p).select("prompt", "completion") for p in paths}


def model_params(name: str, args) -> dict[str, Any]:
    """`model` and `trait` for the model-based detectors, nothing for the others."""
    cls = available_detectors()[name]
    params: dict[str, Any] = {}
    if cls.requires_model:
        params["model"] = args.model_backend
        params["trait"] = args.trait
    return params


def run_one(name: str, reference: pl.DataFrame, suspect: pl.DataFrame, args, seed: int) -> dict:
    start = time.perf_counter()
    detector = create_detector(
        name, n_permutations=args.permutations, seed=seed, **model_params(name, args)
    )
    result = detector.fit(reference).test(suspect)
    return {
        "p_value": result.p_value,
        "statistic": result.statistic,
        "effect_size": result.effect_size,
        "z_vs_null": result.details.get("z_vs_null", 0.0),  # none: nothing to compare
        "seconds": time.perf_counter() - start,
    }


def sample(frame: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    return frame if n >= frame.height else frame.sample(n, seed=seed, shuffle=True)


def halves(frame: pl.DataFrame, n: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two disjoint random sets of min(n, height // 2) rows each."""
    m = min(n, frame.height // 2)
    shuffled = frame.sample(fraction=1.0, seed=seed, shuffle=True)
    return shuffled[:m], shuffled[m : 2 * m]


def power_section(corpora, names, args, log) -> list[dict]:
    rows = []
    for size in args.sizes:
        tests = [(a, b, False) for a, b in itertools.combinations(sorted(corpora), 2)]
        tests += [(a, a, True) for a in sorted(corpora)]
        for k, (a, b, null) in enumerate(tests):
            seed = args.seed + 1000 * size + k
            if null:
                reference, suspect = halves(corpora[a], size, seed)
            else:
                reference, suspect = (
                    sample(corpora[a], size, seed),
                    sample(corpora[b], size, seed + 1),
                )
            row = {
                "size": size,
                "reference": a,
                "suspect": b,
                "null": null,
                "n_reference": reference.height,
                "n_suspect": suspect.height,
                "detectors": {},
            }
            for name in names:
                row["detectors"][name] = run_one(name, reference, suspect, args, args.seed)
            rows.append(row)
            ps = " ".join(f"{n}={r['p_value']:.4f}" for n, r in row["detectors"].items())
            log(f"power n={size} {a} vs {b}{' (null halves)' if null else ''}: {ps}")
    return rows


def calibration_section(corpora, names, args, log) -> dict[str, Any]:
    keys = sorted(corpora)
    p_values: dict[str, list[float]] = {name: [] for name in names}
    for i in range(args.null_pairs):
        corpus = corpora[keys[i % len(keys)]]
        reference, suspect = halves(corpus, args.calibration_size, args.seed + 7919 * (i + 1))
        for name in names:
            # A fresh permutation seed per pair: the p-values are then independent draws.
            p_values[name].append(run_one(name, reference, suspect, args, args.seed + i)["p_value"])
        if (i + 1) % 25 == 0:
            log(f"calibration {i + 1}/{args.null_pairs} null pairs")
    summary = {}
    for name, ps in p_values.items():
        arr = np.asarray(ps)
        flagged = int(np.sum(arr < ALPHA))
        ci = stats.binomtest(flagged, arr.size).proportion_ci(0.95, method="exact")
        ks = stats.kstest(arr, "uniform")
        summary[name] = {
            "null_pairs": int(arr.size),
            "rows_per_side": args.calibration_size,
            "ks_statistic": float(ks.statistic),
            "ks_p_value": float(ks.pvalue),
            "fpr_at_0.05": flagged / arr.size,
            "fpr_ci95": [float(ci.low), float(ci.high)],
            "mean_p": float(arr.mean()),
            "p_values": [float(p) for p in arr],
        }
        log(f"calibration {name}: KS p={ks.pvalue:.3f} FPR={flagged / arr.size:.3f}")
    return summary


def timing_section(corpora, names, args, log) -> dict[str, Any]:
    """Wall-clock fit + test at 10k vs 10k, 200 permutations; the median of a few repeats."""
    a, b = sorted(corpora)[:2]
    reference, suspect = sample(corpora[a], 10_000, 1), sample(corpora[b], 10_000, 2)
    timings = {}
    for name in names:
        runs = []
        for _ in range(args.timing_repeats):
            start = time.perf_counter()
            detector = create_detector(name, n_permutations=200, seed=0, **model_params(name, args))
            detector.fit(reference).test(suspect)
            runs.append(time.perf_counter() - start)
        timings[name] = {
            "seconds": float(np.median(runs)),
            "runs": runs,
            "n_reference": reference.height,
            "n_suspect": suspect.height,
            "permutations": 200,
            "pair": f"{a} vs {b}",
        }
        log(f"timing {name}: median {timings[name]['seconds']:.2f} s of {runs}")
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--realdata",
        type=Path,
        default=REALDATA,
        help="folder of corpora (*.jsonl, *.parquet) compared pairwise and by halves: the Qwen "
        "realdata by default; a folder of lab corpora works the same way",
    )
    parser.add_argument(
        "--control",
        type=Path,
        nargs="*",
        default=[],
        help="control corpora (e.g. lab Parquet with prompt/completion) for the calibration pairs; "
        "default: the realdata corpora",
    )
    parser.add_argument(
        "--detectors",
        nargs="*",
        default=None,
        help="default: all model-free ones, plus model-based ones given --model (and --trait)",
    )
    parser.add_argument("--model", help="base model for model-based detectors, e.g. lab:base")
    parser.add_argument("--trait", help="trait for trait-aware detectors, e.g. owl")
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 1_000, 100])
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--null-pairs", type=int, default=200)
    parser.add_argument("--calibration-size", type=int, default=500, help="rows per side")
    parser.add_argument("--sections", nargs="*", default=["timing", "power", "calibration"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timing-repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads (1: on a shared machine multithreaded BLAS mostly waits; 0: no limit)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument(
        "--update", action="store_true", help="keep the existing JSON's other sections"
    )
    parser.add_argument("--render", type=Path, help="only re-render the Markdown of this JSON")
    args = parser.parse_args(argv)
    if args.render:
        report = json.loads(args.render.read_text(encoding="utf-8"))
        write_atomic(args.render.with_suffix(".md"), markdown(report))
        return 0
    if args.quick:
        args.sizes, args.null_pairs, args.calibration_size, args.permutations = [300], 10, 200, 50
        args.sections = [s for s in args.sections if s != "timing"]
    args.model_backend = None
    if args.model:
        from auditor.backends import open_model

        args.model_backend = open_model(args.model)
    names = args.detectors or [
        n
        for n, c in available_detectors().items()
        if (args.model or not c.requires_model)
        and (args.trait or not c.requires_trait)
        and "numbers" in c.domains  # the corpora here are number lists
    ]
    folder = args.realdata.resolve()
    realdata = load_corpora(sorted([*folder.glob("*.jsonl"), *folder.glob("*.parquet")]))
    if not realdata:
        parser.error(f"no *.jsonl or *.parquet corpora in {args.realdata}")
    controls = load_corpora(args.control) if args.control else realdata
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.detector_leaderboard " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    previous: dict[str, Any] = {}
    existing = args.out / "detector_leaderboard.json"
    if args.update and existing.exists():
        previous = json.loads(existing.read_text(encoding="utf-8"))
    report: dict[str, Any] = {
        "command": command.strip(),
        "detectors": names,
        "permutations": args.permutations,
        "seed": args.seed,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "blas_threads": args.blas_threads or "unlimited",
        "calibration_source": "lab control corpora " + ", ".join(map(str, args.control))
        if args.control
        else "realdata halves",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }

    def log(message: str) -> None:
        print(message, flush=True)

    def save() -> None:
        write_atomic(args.out / "detector_leaderboard.json", json.dumps(report, indent=1))
        write_atomic(args.out / "detector_leaderboard.md", markdown(report))

    if previous:
        # Keep the other sections (and say which command produced them).
        report = {
            **previous,
            **report,
            "command": f"{previous['command']}; {report['command']}",
            "started": previous.get("started"),
            "updated": report["started"],
        }
    log(f"command: {report['command']}")
    with threadpool_limits(limits=args.blas_threads or None, user_api="blas"):
        run_sections(report, realdata, controls, names, args, log, save)
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    save()
    log(f"wrote {args.out / 'detector_leaderboard.md'} and .json")
    return 0


def run_sections(report, realdata, controls, names, args, log, save) -> None:
    if "timing" in args.sections:
        report["timing"] = timing_section(realdata, names, args, log)
        save()
    if "power" in args.sections:
        report["power"] = power_section(realdata, names, args, log)
        save()
    if "calibration" in args.sections:
        report["calibration"] = calibration_section(controls, names, args, log)
        save()


if __name__ == "__main__":
    raise SystemExit(main())
