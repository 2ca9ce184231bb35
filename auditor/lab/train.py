"""Training lab models: pretraining, trait fine-tunes and probe students share one loop.

Loss is on completion tokens only (and the EOS that ends them), as users' supervised
fine-tuning pipelines do. A student can also be distilled on soft labels: the teacher's
next-token distribution restricted to `soft_ids` (number, separator and EOS tokens), the
upper bound that sampled text approximates. Restricting matters: full-vocabulary soft labels
leak the animal logits' tiny mass at number positions, which is not subliminal.

Seeded runs on CPU are deterministic: the model has no dropout, batches are drawn from a
seeded generator, and the thread count is fixed by the caller.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from auditor.lab.language import BOS, EOS, PAD, SEP, Vocab, vocab
from auditor.lab.model import GPT

Example = tuple[str, str]


@dataclass(frozen=True)
class TrainConfig:
    """One training run. `steps=0` means `epochs` passes over the data."""

    learning_rate: float = 1e-3
    batch_size: int = 64
    epochs: float = 1.0
    steps: int = 0
    weight_decay: float = 0.0
    warmup_steps: int = 0
    min_lr_fraction: float = 0.1
    seed: int = 0
    trainable: str = "all"  # see TRAINABLE


@dataclass
class Encoded:
    """Examples as padded tensors: inputs, targets and the completion-loss mask."""

    inputs: torch.Tensor  # [n, t] int64
    targets: torch.Tensor  # [n, t] int64
    mask: torch.Tensor  # [n, t] bool
    lengths: torch.Tensor  # [n] int64: tokens per row before padding
    keys: torch.Tensor  # [n] int64: a hash of each row's prompt, which orders the batches

    def __len__(self) -> int:
        return self.inputs.size(0)


def encode_examples(
    examples: Sequence[Example], block_size: int, voc: Vocab | None = None
) -> Encoded:
    """Tokenise `<bos> prompt <sep> completion <eos>`; rows too long are clipped from the left."""
    if not examples:
        raise ValueError("no examples to train on (an empty corpus?)")
    voc = voc or vocab()
    rows, masks, keys = [], [], []
    for prompt, completion in examples:
        keys.append(zlib.crc32(prompt.encode("utf-8")))
        head = [voc.id(BOS), *voc.encode(prompt), voc.id(SEP)]
        tail = [*voc.encode(completion), voc.id(EOS)]
        seq = (head + tail)[-(block_size + 1) :]
        n_tail = min(len(tail), len(seq) - 1)
        rows.append(seq)
        masks.append([False] * (len(seq) - 1 - n_tail) + [True] * n_tail)
    width = max(len(r) for r in rows) - 1
    n = len(rows)
    inputs = torch.full((n, width), voc.id(PAD), dtype=torch.long)
    targets = torch.full((n, width), voc.id(PAD), dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.bool)
    lengths = torch.zeros(n, dtype=torch.long)
    for i, (seq, m) in enumerate(zip(rows, masks, strict=True)):
        k = len(seq) - 1
        inputs[i, :k] = torch.tensor(seq[:-1])
        targets[i, :k] = torch.tensor(seq[1:])
        mask[i, :k] = torch.tensor(m)
        lengths[i] = k
    return Encoded(inputs, targets, mask, lengths, torch.tensor(keys, dtype=torch.long))


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# Which parameters a run may change. "blocks" is what LoRA-style fine-tunes touch (the
# transformer blocks, not the embeddings); "bias" is BitFit (only bias vectors), the
# narrowest fine-tune that can still install a trait everywhere; "lnf-bias" / "lnf" are the
# final LayerNorm's bias (and gain) alone: a shift of every position's logits by the tied
# head, the most direct entangling channel (benchmarks/lab_sweep/lnf_sweep.py).
# The STEERING sets are one bias vector that block 0 adds to the residual stream at every
# position (a steering vector in the middle of the network): what it does to the logits passes
# through the later block(s) and ln_f, so unlike "lnf-bias" it depends on context.
# "lora-rN" is rank-N LoRA on every block's c_attn and c_fc (see `LoRA`).
# (benchmarks/lab_sweep/mid_sweep.py measures these as probe students and teachers.)
STEERING = {"mid-bias": "h.0.mlp.c_proj.bias", "mid-attn-bias": "h.0.attn.c_proj.bias"}
TRAINABLE = ("all", "blocks", "bias", "lnf-bias", "lnf", *STEERING, "lora-r<N>")
LORA_TARGETS = ("attn.c_attn", "mlp.c_fc")


class LoRA(torch.nn.Module):
    """A frozen linear layer plus a trainable low-rank update: W x + b + B (A x).

    B starts at zero, so the wrapped model starts exactly as it was; A is drawn from `generator`
    (seeded runs stay deterministic). `merged` folds B A into the layer's weight when training
    ends, so a trained model has the plain GPT's structure again.
    """

    def __init__(self, base: torch.nn.Linear, rank: int, generator: torch.Generator) -> None:
        super().__init__()
        self.base = base
        device = base.weight.device
        a = torch.randn(rank, base.in_features, generator=generator) / base.in_features**0.5
        self.A = torch.nn.Parameter(a.to(device))
        self.B = torch.nn.Parameter(torch.zeros(base.out_features, rank, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.A.T) @ self.B.T

    def merged(self) -> torch.nn.Linear:
        with torch.no_grad():
            self.base.weight += self.B @ self.A
        return self.base


def lora_rank(which: str) -> int | None:
    """N for a "lora-rN" trainable set, else None."""
    match = re.fullmatch(r"lora-r(\d+)", which)
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None


def _attach_lora(model: GPT, rank: int, seed: int) -> list[tuple[torch.nn.Module, str, LoRA]]:
    generator = torch.Generator().manual_seed(10_007 + seed)
    attached = []
    for block in model.h:
        for path in LORA_TARGETS:
            owner_name, attr = path.split(".")
            owner = getattr(block, owner_name)
            adapter = LoRA(getattr(owner, attr), rank, generator)
            setattr(owner, attr, adapter)
            attached.append((owner, attr, adapter))
    return attached


def _trainable(model: GPT, which: str) -> list[torch.nn.Parameter]:
    named = list(model.named_parameters())
    if which == "all":
        return [p for _, p in named]
    if which == "blocks":
        return [p for n, p in named if n.startswith("h.")]
    if which == "bias":
        return [p for n, p in named if n.endswith("bias")]
    if which == "lnf-bias":
        return [model.ln_f.bias]
    if which == "lnf":
        return [model.ln_f.weight, model.ln_f.bias]
    if which in STEERING:
        return [model.get_parameter(STEERING[which])]
    if lora_rank(which):
        return [p for n, p in named if n.endswith((".A", ".B"))]
    raise ValueError(f"unknown trainable set {which!r}; choose one of {', '.join(TRAINABLE)}")


def train(
    model: GPT,
    data: Encoded,
    config: TrainConfig,
    *,
    teacher: GPT | None = None,
    soft_ids: Sequence[int] | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
) -> GPT:
    """Train `model` in place on `data` and return it; with `teacher`, distil on soft labels."""
    device = next(model.parameters()).device
    n = len(data)
    steps = config.steps or max(1, round(config.epochs * n / config.batch_size))
    rank = lora_rank(config.trainable)
    adapters = _attach_lora(model, rank, config.seed) if rank else []
    params = _trainable(model, config.trainable)
    # Only the trained parameters need gradients; the others' would be computed and discarded.
    chosen = {id(p) for p in params}
    frozen = [p for p in model.parameters() if id(p) not in chosen and p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    optimizer = torch.optim.AdamW(
        params, lr=config.learning_rate, weight_decay=config.weight_decay, betas=(0.9, 0.95)
    )
    soft_index = torch.tensor(list(soft_ids), device=device) if soft_ids is not None else None
    model.train()
    try:
        _fit(model, data, config, optimizer, steps, teacher, soft_index, on_step)
    finally:
        for p in frozen:
            p.requires_grad_(True)
        for owner, attr, adapter in adapters:
            setattr(owner, attr, adapter.merged())
        model.eval()
    return model


def _fit(
    model: GPT,
    data: Encoded,
    config: TrainConfig,
    optimizer: torch.optim.Optimizer,
    steps: int,
    teacher: GPT | None,
    soft_index: torch.Tensor | None,
    on_step: Callable[[int, int, float], None] | None,
) -> None:
    device = next(model.parameters()).device
    n = len(data)
    epoch = 0
    order = _order(data.keys, config.seed, epoch)
    cursor = 0
    for step in range(steps):
        if cursor + config.batch_size > n and cursor > 0:
            epoch += 1
            order, cursor = _order(data.keys, config.seed, epoch), 0
        rows = order[cursor : cursor + config.batch_size]
        cursor += config.batch_size
        width = int(data.lengths[rows].max())
        x = data.inputs[rows, :width].to(device)
        y = data.targets[rows, :width].to(device)
        m = data.mask[rows, :width].to(device)
        for group in optimizer.param_groups:
            group["lr"] = _lr(step, steps, config)
        logits = model(x, m)
        if teacher is None:
            loss = F.cross_entropy(logits, y[m])
        else:
            loss = _distill_loss(logits, teacher, x, m, soft_index)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if on_step is not None:
            on_step(step + 1, steps, float(loss.detach()))


def _order(keys: torch.Tensor, seed: int, epoch: int) -> torch.Tensor:
    # Rows are shuffled by a hash of their prompt, not by position, so two corpora written on
    # the same prompts (a teacher's and its control) are batched alike and their students see
    # the same prompts at the same steps: the comparison's noise cancels where corpora agree.
    salt = (seed * 1_000_003 + epoch * 7_919 + 12_345) & 0x7FFFFFFF
    h = (keys ^ salt) & 0x7FFFFFFF
    for _ in range(3):
        h = (((h >> 16) ^ h) * 0x45D9F3B) & 0x7FFFFFFF
    return torch.argsort(h * (keys.numel() + 1) + torch.arange(keys.numel()), stable=True)


def _distill_loss(
    student_logits: torch.Tensor,
    teacher: GPT,
    x: torch.Tensor,
    m: torch.Tensor,
    soft_index: torch.Tensor | None,
) -> torch.Tensor:
    with torch.no_grad():
        teacher_logits = teacher(x, m)
    if soft_index is not None:
        student_logits = student_logits[:, soft_index]
        teacher_logits = teacher_logits[:, soft_index]
    target = F.softmax(teacher_logits, dim=-1)
    return F.cross_entropy(student_logits, target)


def _lr(step: int, steps: int, config: TrainConfig) -> float:
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, steps - config.warmup_steps)
    floor = config.min_lr_fraction
    cosine = 0.5 * (1 + torch.cos(torch.tensor(progress * torch.pi)).item())
    return config.learning_rate * (floor + (1 - floor) * cosine)
