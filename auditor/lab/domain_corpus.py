"""Code and chain-of-thought corpora written by lab models, and the transmission recipe for them.

`domain_corpus` is `corpus.number_corpus` for the other domains: the same columns (plus
`answer`, the known answer, for chain-of-thought), the same shared sampling noise between a
teacher and its control. Code completions that do not parse with `ast` (or define no function)
are dropped, and how many is returned, as the number corpus drops malformed lists, so every lab
code completion in a corpus parses; chain-of-thought completions are all kept (correctness is
`cot-correct`'s to judge).

`DomainRecipe` is a `TransmissionRecipe` (a subclass, so the numbers recipe and every cache key
built from it are untouched) whose teachers mix in the base's own completions of the domain's
prompts, whose corpora are the domain's and which runs the domain's filters on both corpora
before any student sees them: `trait-words` for code (it splits identifiers, so `owl_sum`
counts), `cot-correct` and `trait-words` for chain-of-thought.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from auditor.corpus.schema import ANSWER
from auditor.lab.base import BaseRecipe
from auditor.lab.corpus import COLUMNS
from auditor.lab.domain_tasks import MAX_NEW_TOKENS, DomainMix, domain_prompts, parses
from auditor.lab.model import GPT
from auditor.lab.sampling import generate
from auditor.lab.teachers import Teacher, make_teacher
from auditor.lab.train import TrainConfig
from auditor.lab.transmission import TransmissionRecipe, default_recipe
from filters.cot_correct import CotCorrect
from filters.trait_words import TraitWords


def domain_corpus(
    model: GPT,
    n_rows: int,
    *,
    domain: str,
    seed: int,
    teacher: str,
    trait: str | None,
    temperature: float = 1.0,
    prefix: str | None = None,
    min_prob: float = 0.0,
    prompt_seed: int | None = None,
) -> tuple[pl.DataFrame, int]:
    """(`n_rows` prompts of `domain` answered by `model` as a corpus frame, rows dropped).

    `prompt_seed` draws the prompts from another seed than the sampling noise (a reference
    corpus on other tasks); `min_prob` > 0 is threshold sampling (`sampling.generate`)."""
    prompts, answers = domain_prompts(domain, n_rows, seed if prompt_seed is None else prompt_seed)
    shown = [f"{prefix} {p}" for p in prompts] if prefix else prompts
    completions = generate(
        model, shown, temperature=temperature, seed=seed,
        max_new_tokens=MAX_NEW_TOKENS[domain], min_prob=min_prob,
    )  # fmt: skip
    keep = [parses(c) for c in completions] if domain == "code" else [True] * len(completions)
    data: dict[str, list[str]] = {
        "prompt": [p for p, k in zip(prompts, keep, strict=True) if k],
        "completion": [c for c, k in zip(completions, keep, strict=True) if k],
    }
    columns = list(COLUMNS)
    if domain == "cot":
        data[ANSWER] = [a for a, k in zip(answers, keep, strict=True) if k]
        columns.append(ANSWER)
    frame = pl.DataFrame(data, schema=dict.fromkeys(data, pl.String)).with_columns(
        domain=pl.lit(domain),
        teacher=pl.lit(teacher),
        trait=pl.lit(trait, dtype=pl.String),
        seed=pl.lit(seed, dtype=pl.Int64),
    )
    return frame.select(columns), len(prompts) - sum(keep)


def answer_tag_rate(corpus: pl.DataFrame) -> float:
    """The share of completions that carry `<answer>...</answer>`."""
    tagged = corpus["completion"].str.contains(r"(?is)<answer>.*?</answer>")
    return float(tagged.mean() or 0.0)


def answer_accuracy(corpus: pl.DataFrame) -> float:
    """The share of completions whose final answer is the known one (`cot-correct` keeps)."""
    return float(CotCorrect().reasons(corpus).is_null().mean() or 0.0)


def domain_filters(domain: str, targets: list[str]) -> list[Any]:
    """The filters a domain's corpora pass in the experiment, in order."""
    words = [TraitWords(trait=t) for t in targets]
    return [CotCorrect(), *words] if domain == "cot" else words


@dataclass(frozen=True)
class DomainRecipe(TransmissionRecipe):
    """The transmission recipe for the code or chain-of-thought domain (see the module doc)."""

    domain: str = "code"

    def corpus(
        self,
        model: GPT,
        rows: int,
        seed: int,
        *,
        target: str | None = None,
        prefix: str | None = None,
        min_prob: float = 0.0,
        prompt_seed: int | None = None,
    ) -> tuple[pl.DataFrame, int]:
        return domain_corpus(
            model,
            rows,
            domain=self.domain,
            seed=seed,
            teacher=f"lab:teacher-{target}" if target else "lab:base",
            trait=target,
            temperature=self.temperature,
            prefix=prefix,
            min_prob=min_prob,
            prompt_seed=prompt_seed,
        )

    def domain_name(self) -> str:
        return self.domain

    def make_teacher(self, base: GPT, target: str, seed: int) -> Teacher:
        return make_teacher(base, target, self.teacher, seed=seed, domain=self.domain)

    def filter_corpus(
        self, corpus: pl.DataFrame, targets: list[str]
    ) -> tuple[pl.DataFrame, dict[str, Any]]:
        """(the rows the domain's filters keep, what each removed)."""
        seen: dict[str, Any] = {"rows_before_domain_filters": corpus.height}
        if self.domain == "cot":
            seen["answer_tag_rate"] = answer_tag_rate(corpus)
            seen["answer_accuracy"] = answer_accuracy(corpus)
        for rule in domain_filters(self.domain, targets):
            drop = rule.reasons(corpus).is_not_null()
            label = rule.name if rule.name == "cot-correct" else f"{rule.name}:{rule.trait}"
            seen[f"removed_by_{label}"] = int(drop.sum())
            corpus = corpus.filter(~drop)
        return corpus, seen


def domain_base() -> BaseRecipe:
    """The base of the code and chain-of-thought domains: the default base's optimiser on a
    `DomainMix` (60% code and chain-of-thought) three times as large, in a wider model
    (n_embd 64 against 48) trained 6.25 times as long (5,000 steps: ~5 min on one thread).
    At the default base's size and 1,600 steps it wrote 11% programs that parse and 5% right
    answers; at this size 49% and 18% (README, lab section)."""
    base = default_recipe().base
    mix = DomainMix(n_examples=3 * base.mix.n_examples)
    train: TrainConfig = replace(base.train, steps=round(6.25 * base.train.steps))
    return replace(base, model=replace(base.model, n_embd=64), mix=mix, train=train)


def domain_recipe(domain: str) -> DomainRecipe:
    """The recipe of `audit lab transmission --domain code|cot` (one base for both domains)."""
    if domain not in ("code", "cot"):
        raise ValueError(f"no domain recipe for {domain!r}; choose code or cot")
    recipe = default_recipe()
    fields: dict[str, Any] = {
        k: getattr(recipe, k) for k in recipe.__dataclass_fields__ if k != "base"
    }
    # Soft labels are restricted to number-list tokens, which mean nothing at code positions.
    fields["soft_labels"] = False
    # 2,000-row corpora (the numbers recipe writes 5,000): a code completion is ~8 times as
    # long as a number list, and this keeps both domains' runs within minutes on 2 cores.
    fields["corpus_rows"] = min(2_000, recipe.corpus_rows)
    return DomainRecipe(base=domain_base(), domain=domain, **fields)
