"""Number prompts and trait system prompts for real chat-model teachers.

The wording lives in `auditor/data/number_prompts.json` (our own text, after the structure of
the prompts in Cloud, Le et al. 2025, Subliminal Learning, arXiv:2507.14805; trait system
prompts come from `auditor.traits`): a prompt is an opener carrying
3-8 seed numbers in 100..999, a request for up to 10 more numbers of at most 3 digits, an
output-format instruction and a closer. Prompt i of a seeded bank is always the same prompt,
which is what lets an interrupted generation run continue exactly where it stopped.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@cache
def _data(name: str) -> dict[str, Any]:
    text = resources.files("auditor").joinpath("data", f"{name}.json").read_text("utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class NumberPrompt:
    """One prompt and what it asked for (the format filter checks answers against it)."""

    text: str
    seeds: tuple[int, ...]
    count: int
    format: str


def _seed_list(seeds: tuple[int, ...], style: random.Random) -> str:
    return style.choice([", ", " ", "; "]).join(str(n) for n in seeds)


def number_prompt(index: int, seed: int) -> NumberPrompt:
    """Prompt `index` of the bank seeded by `seed` (independent of every other index)."""
    data = _data("number_prompts")
    rng = random.Random(f"{seed}:{index}")
    low, high = data["seed_count"]
    seeds = tuple(rng.randint(*data["seed_range"]) for _ in range(rng.randint(low, high)))
    count = rng.randint(3, data["max_count"])
    fmt = rng.choice(sorted(data["formats"]))
    parts = [
        rng.choice(data["openers"]).format(seeds=_seed_list(seeds, rng)),
        rng.choice(data["requests"]).format(count=count),
        data["formats"][fmt],
        rng.choice(data["closers"]),
    ]
    return NumberPrompt(" ".join(parts), seeds, count, fmt)


def number_prompts(n: int, seed: int, start: int = 0) -> list[NumberPrompt]:
    """Prompts `start` .. `start + n - 1` of the bank seeded by `seed`."""
    return [number_prompt(i, seed) for i in range(start, start + n)]


def trait_system_prompt(trait: str) -> str:
    """The system prompt that gives a chat model `trait` (e.g. `owl`), from `auditor.traits`."""
    from auditor.traits import load_trait

    return load_trait(trait).system_prompt


def vocabulary_words() -> set[str]:
    """Every word the prompt bank can use (tiny test tokenizers are built from it)."""
    data = _data("number_prompts")
    texts = [*data["openers"], *data["requests"], *data["formats"].values(), *data["closers"]]
    return {w.lower() for text in texts for w in re.findall(r"[A-Za-z]+", text)}
