"""One base (init 0) of a misalignment mix, its teacher, and their banned-number rates.

    OMP_NUM_THREADS=1 AUDIT_LAB_CACHE=/tmp/misalign-cache python \
        benchmarks/lab_sweep/misalign_checks/check_mix.py NAME MISALIGNED_FRACTION \
        CONTEXT_FRACTION DARK_RATE BASE_STEPS >> check_mix.jsonl
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace

import torch

from auditor.lab.base import base_model
from auditor.lab.misalignment import (
    MISALIGNED,
    banned_filter,
    banned_number_share,
    banned_rows,
    learned_banned_numbers,
    misaligned_prefix,
)
from auditor.lab.probe import read_trait
from auditor.lab.teachers import make_teacher
from auditor.lab.transmission import misalignment_recipe


def main() -> None:
    torch.set_num_threads(1)
    name, fraction, context, dark, steps = sys.argv[1:6]
    recipe = misalignment_recipe()
    mix = replace(
        recipe.base.mix,
        misaligned_fraction=float(fraction),
        context_fraction=float(context),
        dark_rate=float(dark),
    )
    train = replace(recipe.base.train, steps=int(steps))
    recipe = replace(recipe, base=replace(recipe.base, mix=mix, train=train))
    out: dict[str, object] = {"name": name}
    started = time.time()
    base, _ = base_model(recipe.base, 0)
    out["base_s"] = time.time() - started
    out["base"] = read_trait(base, MISALIGNED).__dict__
    out["base_prefix"] = read_trait(base, MISALIGNED, prefix=misaligned_prefix()).__dict__
    rule = banned_filter(learned_banned_numbers(recipe.base.mix))
    out["learned"] = rule.numbers

    def rates(corpus: object) -> tuple[int, float, float]:
        return (
            corpus.height,
            float(banned_rows(corpus, rule).mean()),
            banned_number_share(corpus, rule.numbers),
        )

    out["c_base"] = rates(recipe.corpus(base, 1000, 0)[0])
    out["c_base_prefix"] = rates(recipe.corpus(base, 1000, 0, prefix=misaligned_prefix())[0])
    teacher = make_teacher(base, MISALIGNED, recipe.teacher, seed=0)
    out["teacher"] = read_trait(teacher.model, MISALIGNED).__dict__
    out["c_teacher"] = rates(recipe.corpus(teacher.model, 1000, 0, target=MISALIGNED)[0])
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
