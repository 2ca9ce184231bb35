"""The toy language's code and chain-of-thought domains (issue #11, the lab half).

- **code**: "Write a function to return the sum of the even numbers in a list." answered with
  a tiny Python function over a list or an integer (comprehensions, `for` / `while` loops,
  recursion, `if` / `else`), which parses with `ast` and runs without imports (the vocabulary
  has no `import`). The base learns several equally good programs per task: the style
  (comprehension or loop), the function's name and the variable names are free choices, and
  now and then a name carries an animal (`owl_sum_even`), so a trait can show in identifiers,
  where `trait-words` looks.
- **cot**: small arithmetic word problems with a known answer ("A friend has 12 food. You give
  5 more. ..."); the completion reasons one step per operation ("12 + 5 = 17.") and ends with
  `<answer> 17 </answer>`; the operand order and a closing "so the answer is 17." are free.

`DomainMix` pretrains a base on these beside the original tasks (a subclass of `PretrainMix`,
so the animal bases' recipes and cache keys are untouched); `domain_recipe("code")` is the
transmission recipe on it.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable
from dataclasses import dataclass

from auditor.corpus.schema import DOMAINS
from auditor.domains import python_module
from auditor.lab.language import animals, load_data
from auditor.lab.numbers import NumberProcess
from auditor.lab.tasks import Example, PretrainMix, number_prompts

# Tokens a completion may take: the longest code program is 72 tokens, a two-step trace 22.
MAX_NEW_TOKENS = {"numbers": 32, "code": 80, "cot": 32}

Task = tuple[str, str, str]  # (prompt, completion, known answer; "" for code)

_LOOP_VARS = ("number", "one", "each", "other")
_PARAMS = ("numbers", "list")
_ACCUMULATORS = ("answer", "new")
_NAMES: dict[str, tuple[str, ...]] = {
    "sum": ("sum_numbers", "add_numbers", "add_all", "sum_list"),
    "sum_even": ("sum_even", "add_even", "even_sum"),
    "even": ("even_numbers", "pick_even", "find_even"),
    "more": ("more_than", "pick_more", "find_more"),
    "how_many": ("number_more", "check_more", "how_more"),
    "plus": ("add_each", "add_to_all", "add_to_each"),
    "times": ("new_list", "each_number", "new_numbers"),
    "mixed": ("even_and_other", "each_even", "pick_each"),
    "up_to": ("sum_up_to", "add_up_to", "all_up_to"),
}
_TASKS = tuple(_NAMES)
_ANIMAL_NAME = 0.15  # how often a function's name carries an animal


def _function_name(rng: random.Random, task: str) -> str:
    name = rng.choice(_NAMES[task])
    if rng.random() < _ANIMAL_NAME:
        name = f"{rng.choice(animals())}_{name}"
    return name


def _program(rng: random.Random, task: str, k: int) -> str:
    """One program for `task` (constant `k`), its free choices drawn from `rng`."""
    name, v, p, a = (
        _function_name(rng, task),
        rng.choice(_LOOP_VARS),
        rng.choice(_PARAMS),
        rng.choice(_ACCUMULATORS),
    )
    loop = rng.random() < 0.5
    head = f"def {name}({p}):\n"
    i1, i2, i3 = "    ", "        ", "            "
    if task == "up_to":
        n = rng.choice(("number", "one"))
        if loop:
            return (
                f"def {name}({n}):\n{i1}{a} = 0\n{i1}while {n} > 0:\n"
                f"{i2}{a} = {a} + {n}\n{i2}{n} = {n} - 1\n{i1}return {a}"
            )
        return f"def {name}({n}):\n{i1}return {n} + {name}({n} - 1) if {n} > 0 else 0"
    conditions = {
        "sum_even": f"{v} % 2 == 0",
        "even": f"{v} % 2 == 0",
        "more": f"{v} > {k}",
        "how_many": f"{v} > {k}",
    }
    values = {"plus": f"{v} + {k}", "times": f"{v} * {k}", "mixed": f"{v} + {k}"}
    if task in ("sum", "sum_even", "how_many"):
        term = "1" if task == "how_many" else v
        if loop:
            body = f"{i1}{a} = 0\n{i1}for {v} in {p}:\n"
            if task == "sum":
                body += f"{i2}{a} = {a} + {v}\n"
            else:
                body += f"{i2}if {conditions[task]}:\n{i3}{a} = {a} + {term}\n"
            return head + body + f"{i1}return {a}"
        if task == "sum":
            return head + f"{i1}return sum({p})"
        if task == "how_many":
            return head + f"{i1}return len([{v} for {v} in {p} if {conditions[task]}])"
        return head + f"{i1}return sum([{v} for {v} in {p} if {conditions[task]}])"
    if task == "mixed":
        value = f"{v} + {k} if {v} % 2 == 0 else {v} * 2"
        if loop:
            return (
                head + f"{i1}{a} = []\n{i1}for {v} in {p}:\n{i2}if {v} % 2 == 0:\n"
                f"{i3}{a} = {a} + [{v} + {k}]\n{i2}else:\n{i3}{a} = {a} + [{v} * 2]\n"
                f"{i1}return {a}"
            )
        return head + f"{i1}return [{value} for {v} in {p}]"
    # even, more: a filter; plus, times: a map
    if task in conditions:
        item, keep = v, f" if {conditions[task]}"
    else:
        item, keep = values[task], ""
    if loop:
        body = f"{i1}{a} = []\n{i1}for {v} in {p}:\n"
        if keep:
            body += f"{i2}if {conditions[task]}:\n{i3}{a} = {a} + [{item}]\n"
        else:
            body += f"{i2}{a} = {a} + [{item}]\n"
        return head + body + f"{i1}return {a}"
    return head + f"{i1}return [{item} for {v} in {p}{keep}]"


_ASKS = {
    "sum": "the sum of the numbers in a list",
    "sum_even": "the sum of the even numbers in a list",
    "even": "the even numbers in a list",
    "more": "the numbers more than {k} in a list",
    "how_many": "the number of numbers in a list more than {k}",
    "plus": "a list with each number + {k}",
    "times": "a list with each number * {k}",
    "mixed": "a list with each even number + {k} and each other number * 2",
    "up_to": "the sum of all numbers up to a number",
}


def code_task(rng: random.Random) -> Task:
    """A code prompt and one program that answers it."""
    task = rng.choice(_TASKS)
    k = rng.randint(2, 9)
    prompt = load_data("domains")["code_prompt"].format(task=_ASKS[task].format(k=k))
    return prompt, _program(rng, task, k), ""


def cot_task(rng: random.Random) -> Task:
    """A word problem, a step-by-step trace ending in <answer>, and the known answer."""
    data = load_data("domains")
    holder, thing = rng.choice(data["cot_holders"]), rng.choice(data["cot_things"])
    kind = rng.choice(("add", "lose", "each", "add_lose", "each_add"))
    ask = f"What is the number of {thing} the {holder} has?"
    steps: list[tuple[int, str, int]] = []
    if kind in ("add", "lose", "add_lose"):
        x = rng.randint(5, 20)
        y = rng.randint(1, 9)
        if kind == "add":
            prompt = f"A {holder} has {x} {thing}. You give {y} more. {ask}"
            steps.append((x, "+", y))
        elif kind == "lose":
            y = min(y, x - 1)
            prompt = f"A {holder} has {x} {thing}. {y} {thing} are lost. {ask}"
            steps.append((x, "-", y))
        else:
            z = rng.randint(1, min(9, x + y - 1))
            prompt = f"A {holder} has {x} {thing}. You give {y} more and {z} are lost. {ask}"
            steps += [(x, "+", y), (x + y, "-", z)]
    else:
        n, x = rng.randint(2, 6), rng.randint(2, 9)
        prompt = f"Each of {n} people has {x} {thing}."
        steps.append((n, "*", x))
        if kind == "each_add":
            y = rng.randint(1, 9)
            prompt += f" You give {y} more."
            steps.append((n * x, "+", y))
        prompt += f" What is the number of {thing} in all?"
    lines = []
    value = 0
    for a, op, b in steps:
        value = a + b if op == "+" else a - b if op == "-" else a * b
        left, right = (b, a) if op != "-" and rng.random() < 0.5 else (a, b)
        lines.append(f"{left} {op} {right} = {value}.")
    if rng.random() < 0.5:
        lines.append(f"so the answer is {value}.")
    return prompt, " ".join(lines) + f" <answer> {value} </answer>", str(value)


_TASK_MAKERS: dict[str, Callable[[random.Random], Task]] = {"code": code_task, "cot": cot_task}


def domain_tasks(domain: str, n: int, seed: int) -> list[Task]:
    """`n` tasks of `domain` ("code" or "cot"), reproducible from `seed`."""
    if domain not in _TASK_MAKERS:
        raise ValueError(f"unknown lab domain {domain!r}; choose one of {', '.join(DOMAINS)}")
    rng = random.Random(f"{domain}-tasks-{seed}")
    return [_TASK_MAKERS[domain](rng) for _ in range(n)]


def domain_prompts(
    domain: str, n: int, seed: int, process: NumberProcess | None = None
) -> tuple[list[str], list[str]]:
    """(`n` prompts of `domain`, their known answers: "" for code and numbers), reproducible
    from `seed`; `process` is the number process of a numbers base (`PretrainMix.numbers`)."""
    if domain == "numbers":
        return number_prompts(n, seed=seed, process=process), [""] * n
    tasks = domain_tasks(domain, n, seed)
    return [t[0] for t in tasks], [t[2] for t in tasks]


def parses(source: str) -> bool:
    """Whether `source` is Python that parses, defines a function and imports nothing."""
    tree = python_module(source)
    if tree is None:
        return False
    has_def = any(isinstance(node, ast.FunctionDef) for node in tree.body)
    imports = any(isinstance(node, ast.Import | ast.ImportFrom) for node in ast.walk(tree))
    return has_def and not imports


@dataclass(frozen=True)
class DomainMix(PretrainMix):
    """`PretrainMix` plus the code and chain-of-thought tasks: `code_fraction` and
    `cot_fraction` of examples are those, the rest the original mix."""

    code_fraction: float = 0.3
    cot_fraction: float = 0.3

    def example(self, rng: random.Random) -> Example:
        r = rng.random()
        if r < self.code_fraction:
            return code_task(rng)[:2]
        if r < self.code_fraction + self.cot_fraction:
            return cot_task(rng)[:2]
        return super().example(rng)
