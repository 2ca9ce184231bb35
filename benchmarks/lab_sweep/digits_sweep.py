"""Recipe sweep for the lab's digits check: one JSON line per (variant, seed).

python benchmarks/lab_sweep/digits_sweep.py --out benchmarks/lab_sweep/digits_results.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch

from auditor.lab.digits import DigitsConfig, run_digits

VARIANTS = {
    "aux20_t30": {},
    "aux20_t5": {"teacher_epochs": 5},
    "aux100_t5": {"aux": 100, "teacher_epochs": 5},
    "aux100_t5_s4000": {"aux": 100, "teacher_epochs": 5, "student_steps": 4000},
    "aux3_t5": {"aux": 3, "teacher_epochs": 5},
    "aux100_t2": {"aux": 100, "teacher_epochs": 2},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="benchmarks/lab_sweep/digits_results.jsonl")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = [n for n in args.only.split(",") if n] or list(VARIANTS)
    for name in names:
        config = replace(DigitsConfig(), **VARIANTS[name])
        for seed in (int(s) for s in args.seeds.split(",")):
            started = time.time()
            result = run_digits(seed, config)
            line = {
                "variant": name,
                "config": asdict(config),
                **result,
                "seconds": round(time.time() - started, 1),
            }
            print(json.dumps(line), flush=True)
            with open(args.out, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
