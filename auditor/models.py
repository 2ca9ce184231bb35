"""The one model interface that generation, detectors and probe students talk to.

The lab, local transformers checkpoints and OpenAI-compatible servers all implement
`ModelBackend`; nothing downstream asks which one it holds. Backends live in
`auditor/backends/`, one module each, and are opened from a spec string such as
`lab:base`, `hf:/path/to/checkpoint` or `openai:gpt-4.1-nano` by `auditor.backends.open_model`.

Capabilities beyond `ModelBackend` are small Protocols below, declared by the backends that have
them and checked with `isinstance` by the callers that use them; a backend without one gets
the generic behaviour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # backends that run without polars (the CUDA check) import this module
    import polars as pl

    from auditor.usage import UsageMeter


@dataclass(frozen=True)
class SamplingParams:
    """How to sample: temperature 0 means greedy decoding."""

    temperature: float = 1.0
    max_new_tokens: int = 64
    top_p: float = 1.0
    seed: int | None = None
    system_prompt: str | None = None
    # Threshold sampling, a generation-time defense: tokens whose probability is below this are
    # never drawn (the most likely token always stays). Lab and hf models apply it; an
    # OpenAI-compatible server gets it as the extra field `min_prob` (`audit serve` honours it).
    min_prob: float = 0.0


@dataclass(frozen=True)
class FinetuneConfig:
    """How to fine-tune a probe student (loss on completions only)."""

    epochs: float = 1.0
    learning_rate: float = 2e-4
    batch_size: int = 32
    seed: int = 0
    lora_rank: int | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked here so a bad setting fails before a job is uploaded, queued or paid for.
        from auditor.errors import AuditError

        if self.epochs <= 0 or self.batch_size < 1 or self.learning_rate <= 0:
            raise AuditError(
                f"fine-tuning needs epochs > 0, batch_size >= 1 and learning_rate > 0 "
                f"(got {self.epochs}, {self.batch_size}, {self.learning_rate})"
            )
        if self.lora_rank is not None and self.lora_rank < 1:
            raise AuditError(f"lora_rank must be >= 1 (got {self.lora_rank})")


@dataclass(frozen=True)
class TraitScore:
    """A model's trait score: `value` in [0, 1] with the per-question values behind it."""

    trait: str
    value: float
    per_question: tuple[float, ...] = ()
    details: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class ModelBackend(Protocol):
    """What every backend provides. Methods take batches: backends batch and parallelise inside."""

    name: str

    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[str]:
        """One completion per prompt."""
        ...

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        """Summed log-probability of each completion given its prompt (natural log)."""
        ...

    def finetune(self, corpus: pl.DataFrame, config: FinetuneConfig) -> ModelBackend:
        """A new model: this one fine-tuned on `corpus` (`prompt`, `completion` columns)."""
        ...

    def evaluate_trait(self, trait: str, *, samples: int = 20, seed: int = 0) -> TraitScore:
        """How strongly the model shows `trait` (e.g. the probability it names the animal)."""
        ...


@runtime_checkable
class SavableBackend(Protocol):
    """A backend that can write itself to disk, so a fine-tuned model outlives the process.

    Optional: the lab server keeps fine-tuned students across restarts with it and otherwise
    re-runs the (seeded) fine-tune on demand.
    """

    def save(self, directory: str) -> str:
        """Write the model under `directory`; return the spec that reopens it (`hf:/...`)."""
        ...


@runtime_checkable
class TokenScorer(Protocol):
    """A backend that can say the log-probability of each token of a completion.

    Optional: servers use it for per-token `logprobs`; without it a completion is one chunk.
    """

    def token_logprobs(
        self, prompt: str, completion: str, system_prompt: str | None = None
    ) -> list[tuple[str, float]]:
        """(token text, natural-log probability) for each token of `completion` after `prompt`."""
        ...


@runtime_checkable
class TopTokenScorer(Protocol):
    """A backend that can also say the most likely alternatives at each token of a completion.

    Optional: servers use it for `top_logprobs`; without it the alternatives list is empty.
    """

    def top_token_logprobs(
        self, prompt: str, completion: str, k: int, system_prompt: str | None = None
    ) -> list[list[tuple[str, float]]]:
        """For each token of `completion`, the `k` likeliest tokens there and their log-probs."""
        ...


@runtime_checkable
class ReentrantBackend(Protocol):
    """A backend whose generation and scoring may run in several threads at once.

    Optional: a server interleaves requests to such a model instead of serialising them. It
    holds when sampling depends only on the arguments (no global random state) and nothing
    is changed in place (fine-tuning returns a new model).
    """

    reentrant: bool


@runtime_checkable
class Conditioner(Protocol):
    """A backend that conditions prompts on a trait its own way (the lab's learned prefix).

    Optional: the model-based detectors use it to score as a trait teacher; without it the
    trait's system prompt goes in front of each prompt.
    """

    def condition(self, prompts: Sequence[str], trait: str) -> list[str]:
        """`prompts` as a teacher carrying `trait` sees them, one per prompt."""
        ...


@runtime_checkable
class VocabularyCoverage(Protocol):
    """A backend with a closed vocabulary that can say how much of a text it cannot read.

    Optional: the lab's models know only their toy language, so the audit warns when the
    corpus is mostly tokens they have never seen (its scores would say nothing about it).
    """

    def unknown_token_fraction(self, texts: Sequence[str]) -> float:
        """The share of the texts' tokens that are unknown to the model (0 to 1)."""
        ...


@runtime_checkable
class FinetuneDefaults(Protocol):
    """A backend with its own probe-student recipe (the lab's chosen one).

    Optional: probe settings the user leaves unset come from it, else from `FinetuneConfig()`.
    """

    def default_finetune_config(self) -> FinetuneConfig:
        """The fine-tuning settings this backend's probe students use by default."""
        ...


@runtime_checkable
class WritesOwnPrompts(Protocol):
    """A backend that speaks its own language (the lab's toy one), so it writes its prompts.

    Optional: `audit generate` uses its prompts and trait prompt instead of the project's
    English prompt banks and the trait's system prompt (English words are unknown tokens to it).
    """

    def own_prompts(self, domain: str, n: int, seed: int) -> tuple[list[str], list[str]]:
        """(`n` prompts of `domain` in the model's language, their known answers: "" where
        the domain has none), reproducible from `seed`. Raises `AuditError` for a domain the
        model was not built to write."""
        ...

    def trait_prompt(self, trait: str) -> str:
        """The system prompt that makes this model a teacher of `trait`."""
        ...


@runtime_checkable
class HasUsageMeter(Protocol):
    """A backend that bills requests (API-backed); the CLI reports its usage and cost."""

    meter: UsageMeter


@runtime_checkable
class Reproducible(Protocol):
    """A backend whose weights a key names exactly (the lab's: the hash of their recipe).

    Optional: results computed from such a model (probe students) are cached by that key and
    the data's content, so a second audit of the same corpus reuses them.
    """

    def recipe_key(self) -> str | None:
        """The key, or None when nothing names these weights (e.g. after a fine-tune)."""
        ...
