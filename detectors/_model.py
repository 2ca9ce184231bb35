"""Helpers for detectors that score text with a `ModelBackend`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from auditor.errors import AuditError
from auditor.models import Conditioner, ModelBackend


def require_model(model: object, detector: str) -> ModelBackend:
    """`model` if it can score log-probs, else a clear `AuditError`."""
    if model is None:
        raise AuditError(
            f"detector {detector!r} needs a model that scores log-probabilities "
            "(pass model=..., or --base-model lab:NAME on the command line)"
        )
    if not callable(getattr(model, "score", None)):
        raise AuditError(f"detector {detector!r}: {type(model).__name__} has no score() method")
    return model  # type: ignore[return-value]


def trait_conditioned(model: ModelBackend, prompts: Sequence[str], trait: str) -> list[str]:
    """The prompts as a teacher carrying `trait` by conditioning would see them.

    A backend that conditions its own way (the lab's models learned a "You love the owl."
    prefix of their toy language) is a `Conditioner`, and its `condition` is used. Otherwise
    the trait's system prompt goes in front of each prompt, since `ModelBackend.score` takes
    plain prompts.
    """
    if isinstance(model, Conditioner):
        conditioned = list(model.condition(list(prompts), trait))
        if len(conditioned) != len(prompts):
            raise AuditError(
                f"model {getattr(model, 'name', '?')!r}: condition() returned "
                f"{len(conditioned)} prompts for {len(prompts)}"
            )
        return conditioned
    from auditor.traits import load_trait

    prefix = load_trait(trait).system_prompt
    return [f"{prefix}\n\n{prompt}" for prompt in prompts]


def score_rows(
    model: ModelBackend, prompts: Sequence[str], completions: Sequence[str], detector: str
) -> np.ndarray:
    """Summed log-probabilities as floats, checked for length and finiteness."""
    scores = np.asarray(model.score(list(prompts), list(completions)), dtype=float)
    if scores.shape != (len(prompts),):
        raise AuditError(
            f"detector {detector!r}: model {getattr(model, 'name', '?')!r} returned "
            f"{scores.size} scores for {len(prompts)} rows"
        )
    if not np.all(np.isfinite(scores)):
        raise AuditError(f"detector {detector!r}: model returned non-finite log-probabilities")
    return scores
