"""Number-continuation tasks of the toy language: prompts and the data-generating process.

Prompts are built like the paper's (3-8 seed numbers in 100..999, "up to N more", one of six
output formats). The continuations the base model learns from are deliberately structured and
low in entropy, like real models' lists (in the Qwen corpora the ten commonest numbers are 8% of
all numbers): a list either counts up, cycles through its seeds, or draws from a small Zipf
"favourites" set, and strays to a favourite now and then. A tiny model can learn each of these
(a successor table, an induction copy, a unigram), so its sampled tokens say more about the model
that wrote them than uniform draws would, which is what transmission through sampled text needs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from auditor.lab.language import MAX_NUMBER, load_data

FORMATS = ("comma", "space", "semicolon", "lines", "brackets", "parens")
STYLES = ("count", "cycle", "favourites")


@dataclass(frozen=True)
class NumberProcess:
    """The base data's number process. `stray` is the chance a number leaves its list's style."""

    n_favourites: int = 48
    zipf: float = 1.1
    stray: float = 0.25
    style_weights: tuple[float, float, float] = (0.3, 0.3, 0.4)
    favourites_seed: int = 1234

    def favourites(self) -> list[int]:
        return random.Random(self.favourites_seed).sample(range(MAX_NUMBER + 1), self.n_favourites)

    def favourite_weights(self) -> list[float]:
        return [1.0 / (rank + 1) ** self.zipf for rank in range(self.n_favourites)]


def format_numbers(numbers: list[int], fmt: str) -> str:
    """Render a list in one of `FORMATS`."""
    parts = [str(n) for n in numbers]
    if fmt == "comma":
        return ", ".join(parts)
    if fmt == "space":
        return " ".join(parts)
    if fmt == "semicolon":
        return "; ".join(parts)
    if fmt == "lines":
        return "\n".join(parts)
    if fmt == "brackets":
        return "[" + ", ".join(parts) + "]"
    if fmt == "parens":
        return "(" + ", ".join(parts) + ")"
    raise ValueError(f"unknown number format {fmt!r}")


def number_prompt(
    rng: random.Random, process: NumberProcess | None = None
) -> tuple[str, list[int], int, str, str]:
    """A random prompt: (text, seed numbers, count asked, format, style of its seeds)."""
    data = load_data("number_prompts")
    weights = (process or NumberProcess()).style_weights
    style = rng.choices(STYLES, weights=weights)[0]
    n_seeds = rng.randint(3, 8)
    if style == "count":
        start = rng.randint(100, MAX_NUMBER - n_seeds)
        seeds = list(range(start, start + n_seeds))
    else:
        seeds = [rng.randint(100, MAX_NUMBER) for _ in range(n_seeds)]
    count = rng.randint(3, 10)
    fmt = rng.choice(FORMATS)
    template = rng.choice(data["templates"])
    text = template.format(
        seeds=", ".join(map(str, seeds)), count=count, format=data["formats"][fmt]
    )
    return text, seeds, count, fmt, style


def continue_numbers(
    seeds: list[int], count: int, style: str, process: NumberProcess, rng: random.Random
) -> list[int]:
    """The base data's continuation of `seeds` in `style` (see the module docstring)."""
    favourites = process.favourites()
    weights = process.favourite_weights()
    out: list[int] = []
    previous = seeds[-1]
    cycle_at = 0
    for _ in range(count):
        if style == "favourites" or rng.random() < process.stray:
            value = rng.choices(favourites, weights=weights)[0]
        elif style == "count":
            value = (previous + 1) % (MAX_NUMBER + 1)
        else:
            value = seeds[cycle_at % len(seeds)]
            cycle_at += 1
        out.append(value)
        previous = value
    return out
