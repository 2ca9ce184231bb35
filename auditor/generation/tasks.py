"""Code tasks and arithmetic word problems for real chat-model teachers, from our data files.

`auditor/data/code_tasks.json` holds programming-task templates and the system prompt that asks
for bare code (no comments, short names), after the code experiments of Cloud, Le et al. 2025
(arXiv:2507.14805); `auditor/data/word_problems.json` holds word-problem templates whose answers
are computed, so a chain-of-thought corpus carries its known answers without any download. As
for numbers, prompt i of a seeded bank is a pure function of (seed, i): resumable runs rely on it.
"""

from __future__ import annotations

import ast
import itertools
import operator
import random
from dataclasses import dataclass
from functools import cache

from auditor.generation.prompts import _data


@dataclass(frozen=True)
class Task:
    """One teacher prompt and, for chain-of-thought, the answer it should reach."""

    text: str
    answer: str | None = None


@cache
def code_tasks() -> tuple[str, ...]:
    """Every task of the code bank: each template filled with each combination of its slots."""
    data = _data("code_tasks")
    tasks = []
    for template in data["templates"]:
        choices = [data["slots"][slot] for slot in template["slots"]]
        for values in itertools.product(*choices):
            tasks.append(
                template["text"].format(**dict(zip(template["slots"], values, strict=True)))
            )
    return tuple(tasks)


def code_system_prompt() -> str:
    """The system prompt every code teacher gets (with or without the trait): bare code."""
    return _data("code_tasks")["system_prompt"]


def code_task(index: int, seed: int) -> Task:
    """Prompt `index` of the code bank seeded by `seed`."""
    data = _data("code_tasks")
    rng = random.Random(f"code:{seed}:{index}")
    parts = [
        rng.choice(data["openers"]),
        rng.choice(code_tasks()) + ".",
        rng.choice(data["closers"]),
    ]
    return Task(" ".join(part for part in parts if part))


_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}
_OPERATORS[ast.FloorDiv] = operator.floordiv


def evaluate(expression: str, values: dict[str, int]) -> int:
    """An answer expression of the data file (names, integers, + - * //), without `eval`."""

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        raise ValueError(f"unsupported expression {expression!r}")

    return walk(ast.parse(expression, mode="eval"))


def cot_instruction() -> str:
    """What every chain-of-thought prompt asks after the problem: reason, then <answer>."""
    return _data("word_problems")["instruction"]


def word_problem(index: int, seed: int) -> Task:
    """Problem `index` of the word-problem bank seeded by `seed`, with its answer."""
    data = _data("word_problems")
    rng = random.Random(f"cot:{seed}:{index}")
    template = rng.choice(data["templates"])
    values = {name: rng.randint(low, high) for name, (low, high) in template["numbers"].items()}
    for name, expression in template.get("derived", {}).items():
        values[name] = evaluate(expression, values)
    name, pronoun = rng.choice(data["names"])
    words = {"name": name, "pronoun": pronoun, "pronoun_lower": pronoun.lower()}
    text = template["text"].format(item=rng.choice(data["items"]), **words, **values)
    return Task(f"{text}\n\n{cot_instruction()}", str(evaluate(template["answer"], values)))
