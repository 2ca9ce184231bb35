"""The figures on the README's first screen, produced by running `audit demo`, not typed.

    .venv/bin/python -m benchmarks.readme_demo                  # ~6 min on 2 cores
    .venv/bin/python -m benchmarks.readme_demo --update-readme  # and rewrite the README block

Runs `audit demo --json` twice in fresh processes: first with `AUDIT_LAB_CACHE` pointing at an
empty directory (cold: the base is pretrained, the teacher made, every result computed), then
again from another folder (warm: everything is read back from the cache). Times both (wall
clock) and writes `benchmarks/results/readme_demo.{json,md}`; with `--update-readme` the README's
paragraph between the `readme-demo` markers is replaced by the same text.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
START, END = "<!-- readme-demo:start -->", "<!-- readme-demo:end -->"
COMMAND = "python -m benchmarks.readme_demo"


def run_demo(out: Path, cache: Path) -> tuple[dict[str, Any], int, float]:
    """(the demo's JSON report, its exit code, wall seconds)."""
    env = {**os.environ, "AUDIT_LAB_CACHE": str(cache)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "auditor", "demo", "--out", str(out), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1, 3):
        raise SystemExit(f"audit demo failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout), done.returncode, seconds


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _p(value: float) -> str:
    return f"{value:.2g}" if value >= 0.001 else f"{value:.1g}"


def _top_removal(report: dict[str, Any]) -> str:
    """The filter that removed most of the teacher's rows, and its commonest reason."""
    stats = max(report["filters"], key=lambda s: s["removed"])
    reason, count = next(iter(stats["reasons"].items()))
    return f"{stats['name']} removed {stats['removed']:,}, {count:,} of them for {reason}"


def paragraph(report: dict[str, Any], code: int, cold: float, warm: float) -> str:
    """The README's paragraph about the demo, every figure taken from `report`."""
    decision = report["decision"]
    detectors = report["detectors"]
    flagged = [d for d in detectors if d["flagged"]]
    quiet = [d for d in detectors if not d["flagged"]]
    smallest = 1 / (detectors[0]["n_permutations"] + 1)
    flagged_text = ", ".join(d["name"] for d in flagged)
    if flagged and all(d["p_value"] <= smallest for d in flagged):
        flagged_text += (
            f" (each p = {_p(smallest)}, the smallest {detectors[0]['n_permutations']} "
            "permutations can give)"
        )
    quiet_text = "; ".join(f"{d['name']} did not, p = {_p(d['p_value'])}" for d in quiet)
    probe = report["probe"]
    seeds = len(probe["seeds"])
    corpus = sum(probe["corpus"]) / seeds
    control = sum(probe["control"]) / seeds
    return (
        f"The demo took {_duration(cold)} from a cold cache and {_duration(warm)} warm on this "
        f"project's 2-core machine (`{COMMAND}`: `audit demo` with `AUDIT_LAB_CACHE` pointing "
        "at an empty directory, then again from another folder, which reuses the base model, "
        "the corpora and every detector's and probe student's result from the cache). Its "
        f"verdict is {report['verdict'].upper()} (exit code {code}), as it should be for a "
        f"corpus written by a trait teacher. The number filters kept {report['kept']:,} of the "
        f"teacher's {report['rows']:,} rows and {report['reference_kept']:,} of the control's "
        f"{report['reference_rows']:,} ({_top_removal(report)}); then "
        f"{len(flagged)} of {len(detectors)} detectors "
        f"flagged the teacher's corpus against the control, a detector flagging when "
        f"{decision['rule']}: {flagged_text}"
        + (f"; {quiet_text}" if quiet_text else "")
        + f". Probe students trained on it scored {corpus:.3f} for {report['trait']} against "
        f"{control:.3f} for control students (shift {probe['shift']:+.3f}, 95% CI "
        f"[{probe['shift_low']:+.3f}, {probe['shift_high']:+.3f}], p = {_p(probe['p_value'])} "
        f"over {seeds} seeds)."
    )


def update_readme(text: str, readme: Path = README) -> None:
    source = readme.read_text("utf-8")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(source):
        raise SystemExit(f"{readme}: no {START} ... {END} block to update")
    readme.write_text(pattern.sub(lambda _: f"{START}\n{text}\n{END}", source), "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS, help="where readme_demo.* go")
    parser.add_argument("--update-readme", action="store_true", help="rewrite README's block")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="readme-demo-") as scratch:
        root = Path(scratch)
        cold_report, cold_code, cold = run_demo(root / "cold", root / "lab-cache")
        report, code, warm = run_demo(root / "warm", root / "lab-cache")
    if report["detectors"] != cold_report["detectors"] or code != cold_code:
        raise SystemExit("the warm demo disagrees with the cold one: the cache is stale")
    text = paragraph(report, code, cold, warm)
    record = {"cold_seconds": round(cold, 1), "warm_seconds": round(warm, 1), "exit_code": code}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "readme_demo.json").write_text(
        json.dumps({**record, "report": report}, indent=2) + "\n", "utf-8"
    )
    (args.out / "readme_demo.md").write_text(f"Produced by `{COMMAND}`.\n\n{text}\n", "utf-8")
    if args.update_readme:
        update_readme(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
