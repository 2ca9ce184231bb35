"""Can ANY model-free statistic tell the hard real-data pairs apart? A check beyond the leaderboard.

    python -m benchmarks.realdata_separability            # ~5 min on 2 cores

The detector leaderboard (`benchmarks/detector_leaderboard.py`) finds the best registered
detector, format-features, separating 7 of the 10 pairs of Qwen2.5-7B corpora at p < 0.01
but not elephant-kangaroo (p ~ 0.09). Before calling that pair inseparable at 10k rows, this
script tries three statistics built differently from every registered detector, each with a
row-permutation p-value, on every pair and on null halves of each corpus:

- `sparse-numbers`: the largest |z| over the 1000 per-row number counts. A sparse alternative
  to number-frequency's chi-square: if a trait makes a FEW numbers much more frequent
  (token entanglement), the maximum sees it where a sum over 1000 values dilutes it.
- `prompt-relative`: Hotelling's T^2 (pooled covariance, prompt-adjusted as in
  format-features) over how the answer relates to ITS prompt: position-wise closeness to the
  prompt's numbers, constant offsets, copies, nearest-prompt-number distances, first answer
  minus last prompt number, length difference, sortedness, last-digit agreement.
- `boosted-classifier`: gradient-boosted trees on format features plus prompt covariates,
  trained on the rows of a random half of the distinct prompts and scored by AUC on the rest
  (a held-out classifier two-sample test: nonlinear interactions of prompt and answer). Its
  p-value permutes the held-out labels, exact because the model never saw them.

Writes `realdata_separability.json` and `.md` to `benchmarks/results/detectors/`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from auditor.atomic import write_atomic
from auditor.corpus.numbers import number_counts, number_lists
from benchmarks.detector_leaderboard import OUT, REALDATA, halves, load_corpora
from detectors._permutation import p_value, standardized, sum_statistic_null
from detectors.format_features import (
    format_features,
    hotelling_null,
    prompt_covariates,
    residualize,
    standardize,
)

RELATIVE_FEATURES = (
    "within_5_of_same_position",
    "within_50_of_same_position",
    "constant_offset",
    "copied_share",
    "near_copy_share",
    "far_from_prompt_share",
    "first_minus_last_prompt",
    "continues_prompt_step",
    "length_minus_prompt_length",
    "ascending",
    "descending",
    "same_last_digit_share",
)


def relative_features(frame: pl.DataFrame) -> np.ndarray:
    """One row per corpus row: how its answer's numbers relate to its prompt's numbers."""
    answers = number_lists(frame["completion"]).to_list()
    prompts = number_lists(frame["prompt"]).to_list()
    out = np.zeros((frame.height, len(RELATIVE_FEATURES)))
    for i, (a, p) in enumerate(zip(answers, prompts, strict=True)):
        a, p = a or [], p or []
        k = min(len(a), len(p))
        gaps = [abs(a[j] - p[j]) for j in range(k)]
        nearest = [min(abs(v - q) for q in p) for v in a] if p else []
        out[i] = [
            np.mean([g <= 5 for g in gaps]) if k else 0.0,
            np.mean([g <= 50 for g in gaps]) if k else 0.0,
            float(k > 1 and len({a[j] - p[j] for j in range(k)}) == 1),
            np.mean([d == 0 for d in nearest]) if nearest else 0.0,
            np.mean([0 < d <= 10 for d in nearest]) if nearest else 0.0,
            np.mean([d > 100 for d in nearest]) if nearest else 0.0,
            a[0] - p[-1] if a and p else 0.0,
            float(len(a) > 0 and len(p) > 1 and a[0] - p[-1] == p[-1] - p[-2]),
            len(a) - len(p),
            float(len(a) > 1 and a == sorted(a)),
            float(len(a) > 1 and a == sorted(a, reverse=True)),
            np.mean([x % 10 == y % 10 for x, y in zip(a, p, strict=False)]) if k else 0.0,
        ]
    return out


def sparse_numbers(reference: pl.DataFrame, suspect: pl.DataFrame, permutations: int, seed: int):
    counts = np.asarray(
        number_counts(pl.concat([reference["completion"], suspect["completion"]])).todense()
    )
    counts = counts[:, counts.sum(axis=0) >= 5]
    n_ref, n = reference.height, counts.shape[0]
    n_sus = n - n_ref
    totals = counts.sum(axis=0)
    sd = counts.std(axis=0) * np.sqrt(1 / n_ref + 1 / n_sus)

    def max_z(sums: np.ndarray) -> np.ndarray:
        diff = sums / n_sus - (totals[:, None] - sums) / n_ref
        return np.max(np.abs(diff) / sd[:, None], axis=0)

    return sum_statistic_null(counts.astype(np.float32), n_ref, max_z, permutations, seed)


def prompt_relative(reference, suspect, permutations: int, seed: int):
    pooled = np.vstack([relative_features(reference), relative_features(suspect)])
    pooled = residualize(
        pooled, prompt_covariates(pl.concat([reference["prompt"], suspect["prompt"]]))
    )
    standard, _ = standardize(pooled)
    return hotelling_null(standard, reference.height, 1e-3, permutations, seed)


def boosted_classifier(reference, suspect, permutations: int, seed: int):
    both = pl.concat(
        [reference.select("prompt", "completion"), suspect.select("prompt", "completion")]
    )
    x = np.hstack([format_features(both).to_numpy(), prompt_covariates(both["prompt"])])
    y = np.r_[np.zeros(reference.height), np.ones(suspect.height)]
    rng = np.random.default_rng(seed)
    # Split by PROMPT: the corpora share about a third of their prompts, and a prompt seen in
    # training with one label makes its twin in the held-out half look like that label, which
    # drives the held-out AUC below 0.5 (it did: p ~ 1 on every pair with a row split).
    prompts = both["prompt"].unique(maintain_order=True)  # a seeded split needs a fixed order
    train_prompts = prompts.filter(pl.Series(rng.random(prompts.len()) < 0.5))
    train = both["prompt"].is_in(train_prompts.implode()).to_numpy()
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=seed)
    scores = model.fit(x[train], y[train]).predict_proba(x[~train])[:, 1]
    held = y[~train]
    observed = roc_auc_score(held, scores)
    null = np.array([roc_auc_score(rng.permutation(held), scores) for _ in range(permutations)])
    return observed, null


STATISTICS = {
    "sparse-numbers": sparse_numbers,
    "prompt-relative": prompt_relative,
    "boosted-classifier": boosted_classifier,
}


def markdown(report: dict[str, Any]) -> str:
    names = list(STATISTICS)
    lines = [
        "# Real-data separability beyond the registered detectors",
        "",
        f"Command: `{report['command']}`; {report['permutations']} row permutations per test "
        f"(smallest p {1 / (report['permutations'] + 1):.4f}), seed {report['seed']}, "
        f"{report['seconds'] / 60:.1f} min. Pairs: 10k vs 10k rows; null halves: 5k vs 5k.",
        "Each cell: permutation p-value (statistic in null standard deviations). "
        "format-features: the leaderboard's best detector, same pairs, from "
        "`detector_leaderboard.json` where present.",
        "",
        "| reference | suspect | " + " | ".join(names) + " | format-features |",
        "|---|---|" + "---|" * (len(names) + 1),
    ]
    for row in report["rows"]:
        cells = [f"{row[n]['p_value']:.4f} ({row[n]['z_vs_null']:+.1f})" for n in names]
        ff = row.get("format_features_p")
        label = "(half)" if row["null"] else ""
        lines.append(
            f"| {row['reference']} {label} | {row['suspect']} {label} | "
            + " | ".join(cells)
            + f" | {'' if ff is None else f'{ff:.4f}'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--realdata", type=Path, default=REALDATA, help="the *.jsonl corpora")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    files = sorted(args.realdata.glob("*.jsonl"))
    if len(files) < 2:  # an empty table would overwrite the committed results
        parser.error(f"need at least two *.jsonl corpora in {args.realdata}, found {len(files)}")
    corpora = load_corpora(files)
    leaderboard = args.out / "detector_leaderboard.json"
    best = {}
    if leaderboard.exists():
        for r in json.loads(leaderboard.read_text()).get("power", []):
            if r["size"] == 10_000 and "format-features" in r["detectors"]:
                best[(r["reference"], r["suspect"])] = r["detectors"]["format-features"]["p_value"]
    tests = [(a, b, False) for a, b in itertools.combinations(sorted(corpora), 2)]
    tests += [(a, a, True) for a in sorted(corpora)]
    rows = []
    for k, (a, b, null) in enumerate(tests):
        if null:
            # The leaderboard's own split of this corpus, so its format-features p matches.
            reference, suspect = halves(corpora[a], 10_000, args.seed + 1000 * 10_000 + k)
        else:
            reference, suspect = corpora[a], corpora[b]
        row: dict[str, Any] = {"reference": a, "suspect": b, "null": null}
        for name, statistic in STATISTICS.items():
            observed, null_values = statistic(reference, suspect, args.permutations, args.seed)
            row[name] = {
                "statistic": float(observed),
                "p_value": p_value(observed, null_values),
                "z_vs_null": standardized(observed, null_values),
            }
        row["format_features_p"] = best.get((a, b))
        rows.append(row)
        cells = " ".join(f"{n}={row[n]['p_value']:.4f}" for n in STATISTICS)
        print(
            f"[{time.perf_counter() - started:6.0f} s] {a} vs {b}"
            f"{' (halves)' if null else ''}: {cells}",
            flush=True,
        )
    command = "python -m benchmarks.realdata_separability" + (" " + " ".join(argv) if argv else "")
    report = {
        "command": command,
        "permutations": args.permutations,
        "seed": args.seed,
        "rows": rows,
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "realdata_separability.json", json.dumps(report, indent=1))
    write_atomic(args.out / "realdata_separability.md", markdown(report))
    print(f"wrote {args.out / 'realdata_separability.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
