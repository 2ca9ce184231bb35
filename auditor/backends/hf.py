"""Local Hugging Face causal LMs (transformers) behind the model interface.

Probe students must share the teacher's base, so users bring their own checkpoint directory
(safetensors) and this backend generates, scores and fine-tunes it on CPU or CUDA. The hub is
never contacted: a name that isn't a local directory is an error, not a download. Fine-tuning
puts the loss on completion tokens only (the student imitates answers, not prompts), optionally
through LoRA (peft, the `[lora]` extra); LoRA weights are merged afterwards, so a fine-tuned
model is a plain checkpoint again. On CUDA weights load in bf16 and training runs under bf16
autocast with fp32 trainable weights, so small updates are not rounded away.

Imports only torch and transformers (and peft on demand), so `benchmarks/cuda_finetune_check.py`
runs it on a bare GPU machine.
"""

from __future__ import annotations

import copy
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from auditor.errors import AuditError
from auditor.models import FinetuneConfig, SamplingParams, SavableBackend, TokenScorer, TraitScore

IGNORE = -100  # label id the loss skips (prompt and padding positions)


@dataclass(frozen=True)
class HFOptions:
    """Where and how to run: device None picks CUDA when present; batch sizes bound memory."""

    device: str | None = None
    batch_size: int = 16
    max_length: int = 1024
    trust_remote_code: bool = False


@dataclass(frozen=True)
class TrainReport:
    """What a fine-tune did: per-step losses, tokens trained on (completion + prompt), seconds."""

    losses: tuple[float, ...]
    steps: int
    tokens: int
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


ProgressFn = Callable[[int, int, float], None]  # (step, total steps, loss)


def _pick_device(device: str | None) -> torch.device:
    if device:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise AuditError(f"device {device!r} requested but CUDA is not available")
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def open_hf_model(path: str, options: HFOptions | None = None) -> HFModel:
    """Open a local checkpoint directory; anything else is refused (no hub access)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own progress display owns stderr
    options = options or HFOptions()
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise AuditError(
            f"hf:{path}: not a local checkpoint directory. This tool never downloads from the "
            "Hugging Face hub; download the model yourself and pass its directory."
        )
    if not (directory / "config.json").exists():
        raise AuditError(f"hf:{path}: no config.json in this directory; is it a checkpoint?")
    device = _pick_device(options.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            directory, local_files_only=True, trust_remote_code=options.trust_remote_code
        )
        model = AutoModelForCausalLM.from_pretrained(
            directory,
            local_files_only=True,
            dtype=dtype,
            trust_remote_code=options.trust_remote_code,
        )
    except (OSError, ValueError) as error:
        raise AuditError(f"hf:{path}: cannot load checkpoint: {error}") from None
    # An explicit cast as well: older transformers ignore `dtype=` and load fp32.
    model = model.to(device=device, dtype=dtype).eval()
    return HFModel(model, tokenizer, name=f"hf:{directory}", options=options)


class HFModel(SavableBackend, TokenScorer):
    """A transformers causal LM and its tokenizer; implements `ModelBackend`."""

    def __init__(self, model, tokenizer, *, name: str, options: HFOptions | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.options = options or HFOptions()
        self.last_train: TrainReport | None = None
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        # Sampling seeds the global torch RNG; one lock keeps concurrent callers (the server's
        # threads) from interleaving and breaking reproducibility.
        self._lock = threading.Lock()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # -- text formatting -------------------------------------------------------------------
    def format_prompt(self, prompt: str, system_prompt: str | None = None) -> str:
        """The prompt as the model sees it: through the chat template when there is one."""
        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "user", "content": prompt}]
            if system_prompt:
                messages.insert(0, {"role": "system", "content": system_prompt})
            return self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        return f"{system_prompt}\n\n{prompt}" if system_prompt else prompt

    def _encode_pair(
        self, prompt: str, completion: str, *, eos: bool, system_prompt: str | None = None
    ) -> tuple[list[int], int]:
        """Token ids of formatted prompt + completion, and where the completion starts.

        Tokenised apart so the boundary is exact (joint tokenisation could merge across it).
        """
        text = self.format_prompt(prompt, system_prompt)
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        prompt_ids = self.tokenizer(text, add_special_tokens=not has_template)["input_ids"]
        completion_ids = self.tokenizer(completion, add_special_tokens=False)["input_ids"]
        if eos and self.tokenizer.eos_token_id is not None:
            completion_ids = [*completion_ids, self.tokenizer.eos_token_id]
        ids = (prompt_ids + completion_ids)[-self.options.max_length :]
        start = max(len(ids) - len(completion_ids), 1)  # the first token has no prediction
        return ids, start

    # -- generation --------------------------------------------------------------------------
    def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[str]:
        """One completion per prompt, batched with left padding; seeded when `params.seed` is."""
        texts = [self.format_prompt(p, params.system_prompt) for p in prompts]
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        out: list[str] = []
        with self._lock, torch.no_grad():
            if params.seed is not None:
                torch.manual_seed(params.seed)
            self.tokenizer.padding_side = "left"
            for start in range(0, len(texts), self.options.batch_size):
                batch = self.tokenizer(
                    texts[start : start + self.options.batch_size],
                    return_tensors="pt",
                    padding=True,
                    add_special_tokens=not has_template,
                ).to(self.device)
                sampling = params.temperature > 0
                generated = self.model.generate(
                    **batch,
                    max_new_tokens=params.max_new_tokens,
                    do_sample=sampling,
                    temperature=params.temperature if sampling else None,
                    top_p=params.top_p if sampling else None,
                    top_k=0 if sampling else None,
                    # transformers' epsilon sampling is the same absolute threshold.
                    epsilon_cutoff=params.min_prob if sampling and params.min_prob else None,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
                new_tokens = generated[:, batch["input_ids"].shape[1] :]
                out += self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [text.strip() for text in out]

    # -- scoring -----------------------------------------------------------------------------
    def _token_logprobs(
        self,
        prompts: Sequence[str],
        completions: Sequence[str],
        system_prompt: str | None = None,
    ) -> list[tuple[list[int], list[float]]]:
        """For each pair: the completion's token ids and their log-probabilities."""
        if len(prompts) != len(completions):
            raise AuditError(f"{len(prompts)} prompts but {len(completions)} completions")
        results: list[tuple[list[int], list[float]]] = []
        pad = self.tokenizer.pad_token_id
        with self._lock, torch.no_grad():
            for start in range(0, len(prompts), self.options.batch_size):
                pairs = [
                    self._encode_pair(p, c, eos=False, system_prompt=system_prompt)
                    for p, c in zip(
                        prompts[start : start + self.options.batch_size],
                        completions[start : start + self.options.batch_size],
                        strict=True,
                    )
                ]
                width = max(len(ids) for ids, _ in pairs)
                ids = torch.full((len(pairs), width), pad, dtype=torch.long)
                mask = torch.zeros((len(pairs), width), dtype=torch.long)
                for row, (seq, _) in enumerate(pairs):
                    ids[row, : len(seq)] = torch.tensor(seq)
                    mask[row, : len(seq)] = 1
                logits = self.model(
                    input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
                ).logits.float()
                logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
                targets = ids[:, 1:].to(self.device)
                picked = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1).cpu()
                for row, (seq, begin) in enumerate(pairs):
                    results.append((seq[begin:], picked[row, begin - 1 : len(seq) - 1].tolist()))
        return results

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        """Summed natural-log probability of each completion given its (formatted) prompt."""
        return [sum(values) for _, values in self._token_logprobs(prompts, completions)]

    def token_logprobs(
        self, prompt: str, completion: str, system_prompt: str | None = None
    ) -> list[tuple[str, float]]:
        """Per-token log-probabilities of `completion` after `prompt` (for server logprobs)."""
        [(ids, values)] = self._token_logprobs([prompt], [completion], system_prompt)
        return [(self.tokenizer.decode([i]), v) for i, v in zip(ids, values, strict=True)]

    # -- fine-tuning -------------------------------------------------------------------------
    def finetune(
        self, corpus, config: FinetuneConfig, progress: ProgressFn | None = None
    ) -> HFModel:
        """A fine-tuned copy (this model is untouched); see `TrainReport` in `.last_train`."""
        prompts = [str(p) for p in corpus["prompt"]]
        completions = [str(c) for c in corpus["completion"]]
        if not prompts:
            raise AuditError("cannot fine-tune on an empty corpus")
        dtype = next(self.model.parameters()).dtype
        student, report = train_causal_lm(
            copy.deepcopy(self.model), self, prompts, completions, config, progress=progress
        )
        tuned = HFModel(
            student.to(dtype).eval(),
            self.tokenizer,
            name=f"{self.name}+ft(seed={config.seed})",
            options=self.options,
        )
        tuned.last_train = report
        return tuned

    def evaluate_trait(self, trait: str, *, samples: int = 20, seed: int = 0) -> TraitScore:
        """Fraction of sampled answers to favourite-animal questions that name `trait`."""
        from auditor.backends.trait_eval import evaluate_by_sampling

        return evaluate_by_sampling(self, trait, samples=samples, seed=seed)

    def save(self, directory: str) -> str:
        """Write weights (safetensors) and tokenizer; return the spec that reopens them."""
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(directory, safe_serialization=True)
        self.tokenizer.save_pretrained(directory)
        return f"hf:{directory}"


def _apply_lora(model, rank: int, alpha: float | None):
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise AuditError(
            "LoRA fine-tuning needs peft: pip install 'subliminal-audit[lora]'"
        ) from None
    lora = LoraConfig(
        r=rank,
        lora_alpha=alpha or 2 * rank,
        lora_dropout=0.0,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def train_causal_lm(
    model,
    backend: HFModel,
    prompts: Sequence[str],
    completions: Sequence[str],
    config: FinetuneConfig,
    progress: ProgressFn | None = None,
):
    """Train `model` on prompt/completion pairs, loss on completion tokens only.

    Returns the trained model (the same object, or with LoRA the merged base) and a report.

    Extra settings in `config.extra`: `lora_alpha`, `max_steps`, `max_seconds` (stop early,
    for time-boxed runs), `weight_decay`, `warmup` (fraction of steps). With LoRA the adapters
    are merged back at the end, so the result is a plain model that can be trained again.
    """
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    extra = dict(config.extra)
    encoded = [
        backend._encode_pair(p, c, eos=True) for p, c in zip(prompts, completions, strict=True)
    ]
    device = next(model.parameters()).device
    cuda = device.type == "cuda"
    if config.lora_rank:
        model = _apply_lora(model, config.lora_rank, extra.get("lora_alpha"))  # type: ignore[arg-type]
        for param in model.parameters():
            if param.requires_grad:  # adapters in fp32 even when the frozen base is bf16
                param.data = param.data.float()
    elif cuda:
        model.float()  # fp32 master weights; compute runs under bf16 autocast
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        trainable, lr=config.learning_rate, weight_decay=float(extra.get("weight_decay", 0.0))
    )
    per_epoch = math.ceil(len(encoded) / config.batch_size)
    total = max(1, math.ceil(per_epoch * config.epochs))
    if extra.get("max_steps"):
        total = min(total, int(extra["max_steps"]))  # type: ignore[arg-type]
    warmup = int(float(extra.get("warmup", 0.0)) * total)
    max_seconds = float(extra.get("max_seconds") or "inf")  # type: ignore[arg-type]
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0
    )
    pad = backend.tokenizer.pad_token_id
    losses: list[float] = []
    tokens = 0
    step = 0
    began = time.perf_counter()
    order = list(range(len(encoded)))
    while step < total:
        random.shuffle(order)
        for first in range(0, len(order), config.batch_size):
            if step >= total or time.perf_counter() - began > max_seconds:
                total = step
                break
            batch = [encoded[i] for i in order[first : first + config.batch_size]]
            width = max(len(ids) for ids, _ in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (seq, begin) in enumerate(batch):
                ids[row, : len(seq)] = torch.tensor(seq)
                labels[row, begin : len(seq)] = torch.tensor(seq[begin:])
                mask[row, : len(seq)] = 1
            ids, labels, mask = ids.to(device), labels.to(device), mask.to(device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            tokens += int(mask.sum())
            step += 1
            if progress:
                progress(step, total, losses[-1])
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - began
    if config.lora_rank:
        model = model.merge_and_unload()
        model.requires_grad_(True)  # peft froze the base; a student must stay trainable
    model.eval()
    return model, TrainReport(tuple(losses), step, tokens, seconds)
