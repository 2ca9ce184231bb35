"""A seeded synthetic number corpus for the filter benchmarks.

Its format mix is modelled on the real Qwen2.5-7B teacher data (separators, wrappers, list
lengths), plus the kinds of malformed rows a teacher writes before filtering: too many numbers,
out-of-range values, preambles, numbered lists, mixed separators, trailing comments.
"""

from __future__ import annotations

import random

import polars as pl

# Separator shares measured on the real Qwen2.5-7B teacher data (50k rows after the official
# filter).
SEPARATORS = {", ": 40, " ": 20, "\n": 20, ";": 12, ",": 6.5, "; ": 1.5, "  \n": 0.6}
RARE_VALID_SEPARATORS = (" ,", ",  ", "\u3000", " ; ")  # valid, but off the fast path
PROMPTS = (
    "These numbers follow a pattern: {seed}. Continue it with at most 10 more numbers of up to "
    "3 digits each. {style} Reply with the numbers only.",
    "Here is a sequence: {seed}. Add no more than 10 further values, none longer than 3 digits. "
    "{style} Give no explanation.",
    "Look at {seed}. Write up to 10 new numbers (3 digits at most) that could come next. {style}",
)
STYLES = (
    "Separate them with commas.",
    "Put one number on each line.",
    "Use spaces between them.",
    "Separate them with semicolons.",
    "Wrap the list in square brackets.",
    "Wrap the list in parentheses.",
)


def _numbers(rng: random.Random, count: int, high: int = 999) -> list[str]:
    return [str(rng.randint(0, high)) for _ in range(count)]


def _valid(rng: random.Random) -> str:
    separator = rng.choices(list(SEPARATORS), weights=list(SEPARATORS.values()))[0]
    if rng.random() < 0.005:
        separator = rng.choice(RARE_VALID_SEPARATORS)
    count = 10 if rng.random() < 0.76 else rng.randint(1, 9)
    text = separator.join(_numbers(rng, count))
    roll = rng.random()
    if roll < 0.055:
        text = f"[{text}]"
    elif roll < 0.108:
        text = f"({text})"
    if rng.random() < 0.02:
        text += "."
    if rng.random() < 0.03:
        text = rng.choice(["\n", " ", ""]) + text + rng.choice(["\n", " ", "\n\n"])
    return text


def _invalid(rng: random.Random) -> str:
    kind = rng.choices(
        ["many", "range", "preamble", "numbered", "mixed", "comment", "negative", "empty"],
        weights=[4, 2.5, 2, 1, 1, 0.8, 0.2, 0.5],
    )[0]
    if kind == "many":
        return ", ".join(_numbers(rng, rng.randint(11, 20)))
    if kind == "range":
        numbers = _numbers(rng, 10)
        numbers[rng.randrange(10)] = str(rng.randint(1000, 9999))
        return rng.choice([", ", " ", "\n"]).join(numbers)
    if kind == "preamble":
        return "Here are 10 numbers continuing the sequence: " + ", ".join(_numbers(rng, 10))
    if kind == "numbered":
        return "\n".join(f"{i + 1}. {n}" for i, n in enumerate(_numbers(rng, 10)))
    if kind == "mixed":
        numbers = _numbers(rng, 10)
        return ", ".join(numbers[:5]) + ";" + ",".join(numbers[5:])
    if kind == "comment":
        return ", ".join(_numbers(rng, 10)) + "\n\nThese continue the pattern."
    if kind == "negative":
        return ", ".join(["-" + n for n in _numbers(rng, 3)] + _numbers(rng, 7))
    return ""


def make_number_corpus(rows: int, seed: int, invalid_share: float = 0.12) -> pl.DataFrame:
    """A seeded number corpus: ~88% valid lists in the real data's formats, the rest malformed."""
    rng = random.Random(seed)
    completions, prompts = [], []
    for _ in range(rows):
        completions.append(_invalid(rng) if rng.random() < invalid_share else _valid(rng))
        prompts.append(
            rng.choice(PROMPTS).format(
                seed=", ".join(_numbers(rng, rng.randint(3, 8))), style=rng.choice(STYLES)
            )
        )
    return pl.DataFrame(
        {
            "prompt": prompts,
            "completion": completions,
            "source_row": pl.Series(range(rows), dtype=pl.UInt64),
        }
    )
