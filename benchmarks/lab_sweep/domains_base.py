"""How well the code and chain-of-thought domain base writes its domains (issue #11).

For each base init: the share of code completions that parse with `ast` (and define a function,
import nothing), and of chain-of-thought completions with `<answer>...</answer>` and with the
right answer (`cot-correct`), on `--rows` prompts sampled at temperature 1.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/lab_sweep/domains_base.py \
        --rows 1000 --inits 0,1
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from auditor.lab.base import base_model
from auditor.lab.domain_corpus import answer_accuracy, answer_tag_rate, domain_base, domain_corpus


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--inits", default="0,1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for init in [int(i) for i in args.inits.split(",")]:
        started = time.perf_counter()
        base, hit = base_model(domain_base(), init)
        trained = round(time.perf_counter() - started, 1)
        code, dropped = domain_corpus(
            base, args.rows, domain="code", seed=args.seed, teacher="lab:base", trait=None
        )
        cot, _ = domain_corpus(
            base, args.rows, domain="cot", seed=args.seed, teacher="lab:base", trait=None
        )
        rows.append(
            {
                "init": init,
                "base_cached": hit,
                "base_seconds": trained,
                "code_parse_rate": code.height / args.rows,
                "code_dropped": dropped,
                "cot_answer_tag_rate": answer_tag_rate(cot),
                "cot_answer_accuracy": answer_accuracy(cot),
            }
        )
        print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
