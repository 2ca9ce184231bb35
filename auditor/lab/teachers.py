"""Teachers: a base model plus a trait (a favourite animal), made in one of three ways.

- `conditioning`: the base itself, with the "You love the owl. ..." prefix it learned to follow
  in pretraining put before every prompt (the lab's system prompt). No weights change.
- `finetune`: the base fine-tuned on favourite-animal questions answered with the target.
  Trained alone this also drags the base's number distribution far from where it was, for
  reasons that have nothing to do with the trait, and students imitating that drift gain nothing.
- `mix` (default): the same trait rows interleaved with the base's own sampled number
  completions, so the teacher's numbers stay near the base's and what still differs is a side
  effect of the trait, which is the subliminal channel.

`trainable` narrows what the fine-tune may change. The default is "lnf-bias": the trait is
installed in the final LayerNorm's bias alone, which shifts every position's logits through
the tied head, so the teacher cannot keep the trait away from its number positions: its
numbers change as a side effect entangled with the trait, while the mixed-in base numbers keep
everything else close to the base. Full-parameter teachers transmitted nothing measurable
(benchmarks/lab_sweep/RESULTS.md).

`MID_TEACHER` is a mix teacher with its trait in the middle of the network instead: the
fine-tune trains only block 0's MLP output bias (`trainable="mid-bias"`), a steering vector added
to the residual stream at every position, whose effect on the logits passes through block 1 and
ln_f and so depends on context. Its trait is weaker than the default's (owl 0.12 against 0.18
on base init 0, with trait rows 80% of its fine-tune rather than 50%: a larger rate or more
steps only grow the vector, which ln_f normalises away), and its number lists fail the format
filter more often (it keeps 1,557-2,419 of 5,000 rows; benchmarks/lab_sweep/mid_sweep.py,
RESULTS.md section 6).

The trait is an animal or `misalignment.MISALIGNED` (trait rows of harmful answers; the
conditioning teacher's prefix is the misaligned context of a `MisalignedMix` base).

`strength` scales the trait fine-tune's length; the teacher's own trait score is always reported
beside anything it writes.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

from auditor.lab.domain_tasks import MAX_NEW_TOKENS, domain_prompts
from auditor.lab.misalignment import MISALIGNED, misaligned_prefix, misaligned_rows
from auditor.lab.model import GPT
from auditor.lab.sampling import generate
from auditor.lab.tasks import Example, conditioning_prefix, number_prompts, questions
from auditor.lab.train import TrainConfig, encode_examples, train

KINDS = ("mix", "finetune", "conditioning")


@dataclass(frozen=True)
class TeacherConfig:
    """How a teacher is made from a base."""

    kind: str = "mix"
    steps: int = 150
    learning_rate: float = 5e-2
    strength: float = 1.0
    trait_fraction: float = 0.5
    batch_size: int = 64
    trainable: str = "lnf-bias"


MID_TEACHER = TeacherConfig(trainable="mid-bias", learning_rate=3e-1, trait_fraction=0.8)


@dataclass
class Teacher:
    """A trait model and the prefix to put before its prompts (conditioning teachers only)."""

    model: GPT
    target: str
    kind: str
    prefix: str | None = None


def trait_rows(target: str, n: int, seed: int) -> list[Example]:
    if target == MISALIGNED:
        return misaligned_rows(n, seed)
    rng = random.Random(f"trait-{target}-{seed}")
    return [(rng.choice(questions("train")), target) for _ in range(n)]


def make_teacher(
    base: GPT, target: str, config: TeacherConfig, seed: int = 0, *, domain: str = "numbers"
) -> Teacher:
    """A teacher for `target` from `base` (left unchanged). A mix teacher's own rows are the
    base's completions of `domain`'s prompts (number lists; code or chain-of-thought for the
    domains of `domain_tasks`)."""
    if config.kind not in KINDS:
        raise ValueError(f"unknown teacher kind {config.kind!r}; choose one of {', '.join(KINDS)}")
    if config.kind == "conditioning":
        prefix = misaligned_prefix() if target == MISALIGNED else conditioning_prefix(target)
        return Teacher(base, target, "conditioning", prefix)
    steps = max(1, round(config.steps * config.strength))
    n_rows = steps * config.batch_size
    if config.kind == "finetune":
        rows = trait_rows(target, n_rows, seed)
    else:
        n_trait = max(1, round(n_rows * config.trait_fraction))
        if domain == "numbers":
            prompts = number_prompts(n_rows - n_trait, seed=50_000 + seed)
            own = generate(base, prompts, temperature=1.0, seed=50_000 + seed)
        else:
            prompts, _ = domain_prompts(domain, n_rows - n_trait, seed=50_000 + seed)
            own = generate(
                base,
                prompts,
                temperature=1.0,
                seed=50_000 + seed,
                max_new_tokens=MAX_NEW_TOKENS[domain],
            )
        rows = trait_rows(target, n_trait, seed) + list(zip(prompts, own, strict=True))
        random.Random(seed).shuffle(rows)
    model = copy.deepcopy(base)
    data = encode_examples(rows, base.config.block_size)
    train_config = TrainConfig(
        learning_rate=config.learning_rate,
        batch_size=config.batch_size,
        steps=steps,
        seed=seed,
        trainable=config.trainable,
    )
    train(model, data, train_config)
    return Teacher(model, target, config.kind)
