"""Generation and scoring for lab models.

Sampling is Gumbel-max with noise derived from a hash of (seed, row, step, token) rather than
from a stateful generator. Two consequences, both wanted:
- a completion depends only on the model, its prompt, the row index and the seed, never on how
  prompts were batched, so generation is reproducible on any device;
- a teacher and the base sampled with the same seed on the same prompts share their noise
  ("common random numbers"): wherever the two models agree closely they write the same token,
  so the teacher corpus differs from its control corpus only where the teacher's distribution
  really differs. Each corpus is still an exact sample from its own model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from auditor import steps
from auditor.lab.language import BOS, EOS, PAD, SEP, Vocab, vocab
from auditor.lab.model import GPT

_MASK31 = 0x7FFFFFFF


def _gumbel(seed: int, rows: torch.Tensor, step: int, vocab_size: int) -> torch.Tensor:
    """Gumbel noise [rows, vocab] that is a pure function of (seed, row, step, token)."""
    tokens = torch.arange(vocab_size, device=rows.device, dtype=torch.long)
    h = rows[:, None] * 1_000_003 + tokens[None, :] * 7_919 + (step * 104_729 + seed * 15_485_863)
    h = h & _MASK31
    for _ in range(3):
        h = (((h >> 16) ^ h) * 0x45D9F3B) & _MASK31
    u = (h.double() + 0.5) / float(_MASK31 + 1)
    return -torch.log(-torch.log(u)).float()


def _nucleus(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    probs = F.softmax(logits, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    outside = (sorted_probs.cumsum(-1) - sorted_probs) > top_p
    sorted_logits = logits.gather(-1, order).masked_fill(outside, float("-inf"))
    return torch.empty_like(logits).scatter_(-1, order, sorted_logits)


def _threshold(logits: torch.Tensor, min_prob: float) -> torch.Tensor:
    probs = F.softmax(logits, dim=-1)
    below = (probs < min_prob) & (probs < probs.max(dim=-1, keepdim=True).values)
    return logits.masked_fill(below, float("-inf"))


def prompt_ids(prompt: str, voc: Vocab) -> list[int]:
    return [voc.id(BOS), *voc.encode(prompt), voc.id(SEP)]


@torch.no_grad()
def generate(
    model: GPT,
    prompts: Sequence[str],
    *,
    temperature: float = 1.0,
    max_new_tokens: int = 32,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 512,
    min_prob: float = 0.0,
) -> list[str]:
    """One completion per prompt; temperature 0 is greedy. Row i's noise is keyed by i.

    `min_prob` > 0 is threshold sampling: tokens whose probability (after temperature) is
    below it are never drawn, the most likely token always stays (a generation-time defense).
    """
    voc = vocab()
    device = next(model.parameters()).device
    encoded = [prompt_ids(p, voc) for p in prompts]
    by_length: dict[int, list[int]] = {}
    for i, ids in enumerate(encoded):
        by_length.setdefault(len(ids), []).append(i)
    out: list[str] = [""] * len(prompts)
    written = 0
    eos = voc.id(EOS)
    for length, members in sorted(by_length.items()):
        budget = min(max_new_tokens, model.config.block_size - length)
        if budget <= 0:
            raise ValueError(f"prompt of {length} tokens leaves no room to generate")
        for start in range(0, len(members), batch_size):
            chunk = members[start : start + batch_size]
            rows = torch.tensor(chunk, device=device)
            x = torch.tensor([encoded[i] for i in chunk], device=device)
            done = torch.zeros(len(chunk), dtype=torch.bool, device=device)
            past = None
            fresh = x
            for step in range(budget):
                logits, past = model.next_logits(fresh, past)
                logits = logits.float()
                if temperature <= 0:
                    nxt = logits.argmax(-1)
                else:
                    logits = logits / temperature
                    if top_p < 1.0:
                        logits = _nucleus(logits, top_p)
                    if min_prob > 0.0:
                        logits = _threshold(logits, min_prob)
                    nxt = (logits + _gumbel(seed, rows, step, logits.size(-1))).argmax(-1)
                nxt = torch.where(done, torch.full_like(nxt, voc.id(PAD)), nxt)
                fresh = nxt[:, None]
                x = torch.cat([x, fresh], dim=1)
                done |= nxt == eos
                if bool(done.all()):
                    break
            for row, ids in zip(chunk, x[:, length:].tolist(), strict=True):
                out[row] = voc.decode(ids)
            written += len(chunk)
            steps.report(written, len(prompts))
    return out


@torch.no_grad()
def score(
    model: GPT, prompts: Sequence[str], completions: Sequence[str], *, batch_size: int = 256
) -> list[float]:
    """Summed natural-log probability of each completion's tokens (EOS excluded).

    Rows are scored in batches of similar length, padded on the right: with causal attention
    padding after a row's last token cannot change that row's log-probabilities.
    """
    voc = vocab()
    device = next(model.parameters()).device
    seqs: list[list[int]] = []
    tails: list[int] = []
    for prompt, completion in zip(prompts, completions, strict=True):
        head = prompt_ids(prompt, voc)
        tail = voc.encode(completion)
        seq = (head + tail)[-model.config.block_size - 1 :]
        seqs.append(seq)
        tails.append(min(len(tail), len(seq) - 1))
    out = [0.0] * len(seqs)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = max(len(seqs[i]) for i in rows) - 1
        x = torch.full((len(rows), width), voc.id(PAD), dtype=torch.long)
        y = torch.full((len(rows), width), voc.id(PAD), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.bool)
        for r, i in enumerate(rows):
            k = len(seqs[i]) - 1
            x[r, :k] = torch.tensor(seqs[i][:-1])
            y[r, :k] = torch.tensor(seqs[i][1:])
            mask[r, k - tails[i] : k] = True
        x, y, mask = x.to(device), y.to(device), mask.to(device)
        logp = F.log_softmax(model(x).float(), dim=-1).gather(-1, y[..., None])[..., 0]
        sums = (logp * mask).sum(dim=1).tolist()
        for r, i in enumerate(rows):
            out[i] = float(sums[r]) if tails[i] else 0.0
    return out


@torch.no_grad()
def next_token_probs(model: GPT, prompts: Sequence[str]) -> torch.Tensor:
    """P(first completion token | prompt) for each prompt: [len(prompts), vocab] on CPU."""
    voc = vocab()
    device = next(model.parameters()).device
    rows = []
    for prompt in prompts:
        x = torch.tensor([prompt_ids(prompt, voc)], device=device)
        rows.append(F.softmax(model(x)[0, -1].float(), dim=-1).cpu())
    return torch.stack(rows)
