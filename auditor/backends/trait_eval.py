"""Trait evaluation by sampling, for backends that only expose text generation.

Real chat models (local or hosted) are asked favourite-animal questions of our own wording
(`auditor/data/animal_questions.json`); the score is the fraction of sampled answers naming the
animal, averaged over questions, as in the paper's animal evaluation. The lab has exact
probabilities and evaluates its own way; this is the path for models we can only sample from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path

from auditor.models import ModelBackend, SamplingParams, TraitScore


@cache
def animal_questions() -> tuple[str, ...]:
    """The favourite-animal questions, in a fixed order."""
    text = resources.files("auditor").joinpath("data", "animal_questions.json").read_text("utf-8")
    return tuple(json.loads(text)["questions"])


def load_questions(path: str) -> tuple[str, ...]:
    """Questions from a JSON file `{"questions": [...]}` (or a bare list)."""
    from auditor.errors import AuditError

    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise AuditError(f"{path}: cannot read trait questions: {error}") from None
    questions = data.get("questions") if isinstance(data, dict) else data
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise AuditError(f'{path}: expected {{"questions": ["...", ...]}}')
    return tuple(questions)


def names_animal(answer: str, animal: str) -> bool:
    """Whether `answer` names `animal` as a word (its plural and capitalised forms count)."""
    from auditor.traits import load_trait

    trait = load_trait(animal)
    forms = "|".join(re.escape(form) for form in sorted({trait.name, trait.plural}, key=len))
    return re.search(rf"\b(?:{forms})\b", answer.lower()) is not None


def evaluate_by_sampling(
    model: ModelBackend,
    trait: str,
    *,
    samples: int = 20,
    seed: int = 0,
    questions: Sequence[str] | None = None,
    max_new_tokens: int = 8,
) -> TraitScore:
    """Sample `samples` answers per question at temperature 1 and count mentions of `trait`.

    `questions` replaces our favourite-animal questions (e.g. with a lab model's own).
    """
    chosen = tuple(questions) if questions else animal_questions()
    prompts = [q for q in chosen for _ in range(samples)]
    answers = model.generate(
        prompts, SamplingParams(temperature=1.0, max_new_tokens=max_new_tokens, seed=seed)
    )
    per_question = tuple(
        sum(names_animal(a, trait) for a in answers[i * samples : (i + 1) * samples]) / samples
        for i in range(len(chosen))
    )
    value = sum(per_question) / len(per_question)
    return TraitScore(
        trait=trait,
        value=value,
        per_question=per_question,
        details={"samples": float(len(answers)), "questions": float(len(chosen))},
    )
