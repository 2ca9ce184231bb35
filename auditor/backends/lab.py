"""The lab backend: the embedded tiny GPTs behind the `ModelBackend` protocol.

Names `open_lab_model` understands (all built from the default recipe, cached on disk):
- `base`: the pretrained base model (initialisation 0);
- `xinit-base`: the base with another initialisation, same data (the different-init family);
- `teacher-ANIMAL` (or just `ANIMAL`): the default trait teacher for ANIMAL, e.g. `teacher-owl`;
- `conditioned-ANIMAL`: the base behind the "You love the ANIMAL." prefix it learned to follow.
A `@SEED` suffix picks the teacher's fine-tune seed (`teacher-owl@1`); the default is 0.

A `code-` or `cot-` prefix names the same model in the code or chain-of-thought domain:
`code-base`, `cot-xinit-base`, `code-teacher-owl@1`, ... are built from
`domain_corpus.domain_recipe(DOMAIN)`, on the base pretrained with the code and CoT tasks
(`code-base` and `cot-base` are the same weights), and their teachers mix in the base's own
programs or traces. The prefix also says which prompts the model writes for `audit generate`
(`own_prompts`): a `code-` model writes code prompts only, a plain one number prompts only.
Set `AUDIT_LAB_CACHE` to choose where base models are cached.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import polars as pl
import torch

from auditor import steps
from auditor.errors import AuditError
from auditor.lab.language import UNK, animals, vocab
from auditor.lab.misalignment import MisalignedMix, misaligned_prefix
from auditor.lab.model import GPT
from auditor.lab.probe import StudentConfig, animal_distribution, read_trait, train_student
from auditor.lab.sampling import generate, prompt_ids, score
from auditor.lab.tasks import PretrainMix, conditioning_prefix
from auditor.models import (
    Conditioner,
    FinetuneConfig,
    FinetuneDefaults,
    ReentrantBackend,
    SamplingParams,
    TokenScorer,
    TopTokenScorer,
    TraitScore,
    WritesOwnPrompts,
)
from auditor.traits import MISALIGNED

if TYPE_CHECKING:
    from auditor.lab.transmission import TransmissionRecipe


def _require_animal(trait: str) -> None:
    """The lab's scored traits are its animals; anything else is a clear error, not a silent
    score."""
    if trait not in animals():
        raise AuditError(
            f"the lab knows animal traits only; {trait!r} is not one of {', '.join(animals())}"
        )


class LabModel(
    Conditioner, FinetuneDefaults, WritesOwnPrompts, TokenScorer, TopTokenScorer, ReentrantBackend
):
    """A lab GPT with an optional fixed prefix (a conditioning teacher's system prompt)."""

    # Sampling noise is a pure function of (seed, row, step, token) and fine-tuning copies the
    # weights: requests may run side by side.
    reentrant = True

    def __init__(
        self,
        model: GPT,
        name: str,
        *,
        prefix: str | None = None,
        mix: PretrainMix | None = None,
        recipe: str | None = None,
        domain: str = "numbers",
    ) -> None:
        self.model = model.eval()
        self.name = name
        self.prefix = prefix
        self.mix = mix or PretrainMix()
        # What the model was built to write (its recipe's domain): the prompts it hands out.
        self.domain = domain
        # The hash of what built these weights (None once fine-tuned or copied): names them
        # exactly, so results computed from them can be cached (`recipe_key`).
        self.recipe = recipe

    def recipe_key(self) -> str | None:
        """A key naming this model's weights exactly, or None when nothing does."""
        return self.recipe

    def _prompts(self, prompts: Sequence[str], system_prompt: str | None = None) -> list[str]:
        prefix = system_prompt if system_prompt is not None else self.prefix
        return [f"{prefix} {p}" for p in prompts] if prefix else list(prompts)

    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[str]:
        """One completion per prompt; `params.system_prompt` replaces the model's own prefix."""
        return generate(
            self.model,
            self._prompts(prompts, params.system_prompt),
            temperature=params.temperature,
            max_new_tokens=params.max_new_tokens,
            top_p=params.top_p,
            seed=params.seed or 0,
            min_prob=params.min_prob,
        )

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        """Summed natural-log probability of each completion (EOS excluded)."""
        return score(self.model, self._prompts(prompts), completions)

    def token_logprobs(
        self, prompt: str, completion: str, system_prompt: str | None = None
    ) -> list[tuple[str, float]]:
        """(token, log-probability) for each token of `completion` after `prompt`."""
        voc = vocab()
        tail, logp = self._completion_logp(prompt, completion, system_prompt)
        return [(voc.tokens[t], float(logp[i, t])) for i, t in enumerate(tail)]

    def top_token_logprobs(
        self, prompt: str, completion: str, k: int, system_prompt: str | None = None
    ) -> list[list[tuple[str, float]]]:
        """For each token of `completion`, the `k` likeliest tokens there and their log-probs."""
        voc = vocab()
        tail, logp = self._completion_logp(prompt, completion, system_prompt)
        if not tail or k <= 0:
            return [[] for _ in tail]
        values, ids = logp[: len(tail)].topk(min(k, logp.size(-1)), dim=-1)
        return [
            [(voc.tokens[int(t)], float(v)) for v, t in zip(row_v, row_t, strict=True)]
            for row_v, row_t in zip(values, ids, strict=True)
        ]

    def _completion_logp(
        self, prompt: str, completion: str, system_prompt: str | None
    ) -> tuple[list[int], torch.Tensor]:
        """The completion's token ids and the log-probabilities over the vocabulary before each."""
        voc = vocab()
        head = prompt_ids(self._prompts([prompt], system_prompt)[0], voc)
        tail = voc.encode(completion)
        if not tail:
            return [], torch.empty(0)
        seq = head + tail
        device = next(self.model.parameters()).device
        with torch.no_grad():
            logits = self.model(torch.tensor([seq[:-1]], device=device))[0]
        return tail, torch.log_softmax(logits.float(), dim=-1)[len(head) - 1 :]

    def finetune(self, corpus: pl.DataFrame, config: FinetuneConfig) -> LabModel:
        """A new LabModel: this one fine-tuned on `corpus` (loss on completions only).

        `config.extra` may set `trainable` (one of `auditor.lab.train.TRAINABLE`; default "all",
        what a generic fine-tuning request means, e.g. a job through `audit serve`) and
        `replay` (a fraction). The recipe's probe students come from `default_finetune_config`.
        """
        missing = {"prompt", "completion"} - set(corpus.columns)
        if missing:
            raise AuditError(f"corpus lacks column(s) {', '.join(sorted(missing))}")
        if corpus.height == 0:
            raise AuditError("cannot fine-tune on an empty corpus")
        student = StudentConfig(
            learning_rate=config.learning_rate,
            epochs=float(config.epochs),
            batch_size=config.batch_size,
            seed=config.seed,
            trainable=str(config.extra.get("trainable", "all")),
            replay=float(config.extra.get("replay", 0.0)),  # type: ignore[arg-type]
        )
        tuned = train_student(
            self.model,
            corpus.select("prompt", "completion"),
            student,
            mix=self.mix,
            on_step=_report,
        )
        return LabModel(
            tuned, f"{self.name}+ft", prefix=self.prefix, mix=self.mix, domain=self.domain
        )

    def unknown_token_fraction(self, texts: Sequence[str]) -> float:
        """The share of the texts' tokens outside the toy language (English words, numbers
        above 999): a lab model reads them all as one <unk> token."""
        voc = vocab()
        unknown, total = voc.id(UNK), 0
        missing = 0
        for text in texts:
            ids = voc.encode(text)
            total += len(ids)
            missing += sum(1 for token in ids if token == unknown)
        return missing / total if total else 0.0

    def own_prompts(self, domain: str, n: int, seed: int) -> tuple[list[str], list[str]]:
        """Prompts of the model's own domain in the toy language, with their known answers
        (`audit generate` uses them: English prompts would be unknown tokens to a lab model).
        `audit lab prompts` writes the same prompts to a file, for a lab model served by
        `audit serve`."""
        from auditor.lab.domain_tasks import domain_prompts

        if domain != self.domain:
            label = self.name.removeprefix("lab:").removeprefix(f"{self.domain}-")
            other = label if domain == "numbers" else f"{domain}-{label}"
            raise AuditError(
                f"{self.name} writes {self.domain} prompts, not {domain}: use lab:{other}"
            )
        return domain_prompts(domain, n, seed, process=self.mix.numbers)

    def trait_prompt(self, trait: str) -> str:
        """The lab's own system prompt for a trait: the prefix the base learned (an animal's,
        or the misaligned context of a `MisalignedMix` base)."""
        if trait == MISALIGNED:
            if not isinstance(self.mix, MisalignedMix):
                # Any other base never saw the misaligned context: conditioning on it would
                # be a prefix of words without meaning to the model, and a silent wrong score.
                raise AuditError(
                    f"lab model {self.name!r} was not pretrained with the misaligned context "
                    f"(its mix is a {type(self.mix).__name__}, not a MisalignedMix); trait "
                    f"{MISALIGNED!r} needs a base of transmission.misalignment_recipe()"
                )
            return misaligned_prefix()
        _require_animal(trait)
        return conditioning_prefix(trait)

    def condition(self, prompts: Sequence[str], trait: str) -> list[str]:
        """The prompts as a conditioning teacher of `trait` sees them, for the model-based
        detectors: the lab's own prefix, not the trait's English system prompt (whose words
        are unknown tokens to a lab model). Raises for a trait the lab has no prefix for."""
        return self._prompts(prompts, self.trait_prompt(trait))

    def default_finetune_config(self) -> FinetuneConfig:
        """The lab recipe's probe-student settings, so lab probes match `audit lab transmission`."""
        from auditor.lab import transmission

        student = transmission.default_recipe().student
        return FinetuneConfig(
            epochs=student.epochs,
            learning_rate=student.learning_rate,
            batch_size=student.batch_size,
            extra={"trainable": student.trainable, "replay": student.replay},
        )

    def evaluate_trait(self, trait: str, *, samples: int = 20, seed: int = 0) -> TraitScore:
        """P(trait animal) normalised over the animal set, averaged over held-out questions."""
        _require_animal(trait)
        reading = read_trait(self.model, trait, prefix=self.prefix, samples=samples, seed=seed)
        column = animals().index(trait)
        per_question = animal_distribution(self.model, self.prefix)[:, column].tolist()
        return TraitScore(
            trait=trait,
            value=reading.normalised,
            per_question=tuple(per_question),
            details={
                "raw": reading.raw,
                "animal_mass": reading.animal_mass,
                "sampled_rate": reading.sampled_rate,
            },
        )

    def copy(self) -> LabModel:
        return LabModel(
            copy.deepcopy(self.model),
            self.name,
            prefix=self.prefix,
            mix=self.mix,
            recipe=self.recipe,
            domain=self.domain,
        )


def _report(step: int, total: int, _loss: float) -> None:
    steps.report(step, total)


def open_lab_model(name: str, *, cache: str | None = None) -> LabModel:
    """The lab model `name` (see the module docstring), trained or loaded from the cache."""
    from auditor.lab import transmission
    from auditor.lab.base import base_model
    from auditor.lab.cache import recipe_key

    head, _, rest = name.partition("-")
    domain = head if head in ("code", "cot") and rest else "numbers"
    label, _, seed_text = (rest if domain != "numbers" else name).partition("@")
    if domain == "numbers":
        recipe = transmission.default_recipe()
    else:
        from auditor.lab.domain_corpus import domain_recipe

        recipe = domain_recipe(domain)
    key = recipe_key({"lab": name, "recipe": recipe})
    try:
        seed = int(seed_text) if seed_text else 0
    except ValueError:
        raise AuditError(f"lab model {name!r}: the part after '@' must be a seed number") from None
    mix = recipe.base.mix
    prefix = "" if domain == "numbers" else f"{domain}-"

    def lab_model(model: GPT, canonical: str, conditioning: str | None = None) -> LabModel:
        full = f"lab:{prefix}{canonical}"
        return LabModel(model, full, prefix=conditioning, mix=mix, recipe=key, domain=domain)

    if label in ("base", "xinit-base", "base-xinit"):
        init = 0 if label == "base" else recipe.xinit_seed
        model, _ = base_model(recipe.base, init, cache=cache, on_step=_report)
        return lab_model(model, "base" if init == 0 else "xinit-base")
    kind, _, animal = label.rpartition("-")
    if animal not in animals() or kind not in ("", "teacher", "conditioned"):
        raise AuditError(
            f"unknown lab model {name!r}; use base, xinit-base, teacher-ANIMAL or "
            f"conditioned-ANIMAL with ANIMAL one of {', '.join(animals())}, optionally "
            "after code- or cot- (code-teacher-owl)"
        )
    base, _ = base_model(recipe.base, 0, cache=cache, on_step=_report)
    if kind == "conditioned":
        return lab_model(base, f"conditioned-{animal}", conditioning_prefix(animal))
    teacher_config = recipe.teacher
    if teacher_config.kind == "conditioning":
        teacher_config = replace(teacher_config, kind="mix")
    teacher_recipe = replace(recipe, teacher=teacher_config)
    return lab_model(
        _teacher_weights(teacher_recipe, base, animal, seed, cache), f"teacher-{animal}"
    )


def _teacher_weights(
    recipe: TransmissionRecipe, base: GPT, animal: str, seed: int, cache: str | None
) -> GPT:
    """A teacher's weights, cached beside the bases: a teacher is a deterministic fine-tune of
    its base, and rebuilding one (a code teacher writes its own programs first) took minutes
    at every `audit serve` start."""
    from auditor.lab.cache import cached_model

    def build() -> GPT:
        teacher = recipe.make_teacher(base, animal, seed)
        assert teacher.prefix is None  # mix and fine-tune teachers carry the trait in weights
        return teacher.model

    key = {"teacher_of": recipe.base, "target": animal, "seed": seed, "config": recipe.teacher,
           "domain": recipe.domain_name()}  # fmt: skip
    model, _ = cached_model(key, base.config, build, directory=cache)
    return model.eval()
