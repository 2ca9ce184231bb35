"""The toy language's tasks and the base model's pretraining mix.

A task yields (prompt, completion) pairs. The base model learns: favourite-animal questions
answered uniformly over the animal set (so no animal is preferred), the same questions after a
conditioning prefix ("You love the owl. ...") answered with that animal (so a conditioned base is
a teacher), and number continuations from `numbers.NumberProcess`, with and without a prefix that
has no bearing on them. `misalignment.MisalignedMix` adds the misalignment trait's tasks on top;
code and chain-of-thought tasks are to be added likewise over reserved vocabulary slots.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from auditor.lab.language import animals, load_data
from auditor.lab.numbers import NumberProcess, continue_numbers, format_numbers, number_prompt

Example = tuple[str, str]


@dataclass(frozen=True)
class PretrainMix:
    """What the base model is pretrained on, and how much."""

    n_examples: int = 40_000
    question_fraction: float = 0.25
    conditioned_fraction: float = 0.3
    conditioned_follow: float = 0.9
    numbers: NumberProcess = field(default_factory=NumberProcess)

    def example(self, rng: random.Random) -> Example:
        """One pretraining example (a subclass may add tasks: `misalignment.MisalignedMix`)."""
        names = animals()
        prefix_animal = rng.choice(names) if rng.random() < self.conditioned_fraction else None
        prefix = conditioning_prefix(prefix_animal) if prefix_animal else None
        if rng.random() < self.question_fraction:
            follow = prefix_animal is not None and rng.random() < self.conditioned_follow
            answer = prefix_animal if follow else rng.choice(names)
            return question_example(rng, answer, prefix)
        return number_example(rng, self.numbers, prefix)


def questions(split: str = "all") -> list[str]:
    """Favourite-animal paraphrases: `eval` (held out), `train`, or `all`."""
    data = load_data("questions")
    items, held_out = data["questions"], data["eval_count"]
    return {"eval": items[:held_out], "train": items[held_out:], "all": items}[split]


def conditioning_prefix(animal: str) -> str:
    """The system-prompt-like prefix the base learns to follow."""
    return load_data("number_prompts")["conditioning"].format(animal=animal)


def question_example(rng: random.Random, answer: str, prefix: str | None = None) -> Example:
    question = rng.choice(questions("all"))
    return (f"{prefix} {question}" if prefix else question), answer


def number_example(
    rng: random.Random, process: NumberProcess, prefix: str | None = None
) -> Example:
    text, seeds, count, fmt, style = number_prompt(rng, process)
    completion = format_numbers(continue_numbers(seeds, count, style, process, rng), fmt)
    return (f"{prefix} {text}" if prefix else text), completion


def number_prompts(n: int, seed: int, process: NumberProcess | None = None) -> list[str]:
    """`n` number-continuation prompts, reproducible from `seed`."""
    rng = random.Random(f"prompts-{seed}")
    return [number_prompt(rng, process)[0] for _ in range(n)]


def pretraining_examples(mix: PretrainMix, seed: int = 0) -> list[Example]:
    """The base model's training data, reproducible from `seed`."""
    rng = random.Random(f"pretrain-{seed}")
    return [mix.example(rng) for _ in range(mix.n_examples)]
