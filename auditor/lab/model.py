"""The lab's tiny GPT: a decoder-only transformer in the shape of nanoGPT's model.py.

Ideas from Karpathy's nanoGPT (itself after GPT-2): pre-LayerNorm blocks of causal
self-attention and an MLP, learned position embeddings, and an output head tied to the token
embedding. Differences, and why:
- no dropout, so seeded training on CPU is bit-for-bit deterministic;
- a small `n_embd` against a ~1,200-token vocabulary by default: the softmax bottleneck forces
  tokens to share directions of the residual stream, which is how a trait ("owl") and number
  tokens become entangled, the mechanism subliminal transmission rides on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

KV = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class GPTConfig:
    """Shape of a lab model. `init_seed` picks the initialisation (the student's "family")."""

    vocab_size: int = 1230
    block_size: int = 96
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    init_seed: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.n_head = config.n_head

    def forward(self, x: torch.Tensor, past: KV | None = None) -> tuple[torch.Tensor, KV]:
        """Attend over `past` keys/values (generation's cache) and `x`; return both."""
        batch, length, channels = x.size()
        q, k, v = self.c_attn(x).split(channels, dim=2)
        shape = (batch, length, self.n_head, channels // self.n_head)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        # With a cache, generation feeds one new token, which may attend to everything before.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=past is None)
        y = y.transpose(1, 2).contiguous().view(batch, length, channels)
        return self.c_proj(y), (k, v)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, past: KV | None = None) -> tuple[torch.Tensor, KV]:
        attended, kv = self.attn(self.ln_1(x), past)
        x = x + attended
        return x + self.mlp(self.ln_2(x)), kv


class GPT(nn.Module):
    """Token ids [batch, time] -> next-token logits [batch, time, vocab]."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying, as in GPT-2
        generator = torch.Generator().manual_seed(config.init_seed)
        for name, param in self.named_parameters():
            self._init(name, param, generator)

    def _init(self, name: str, param: torch.Tensor, generator: torch.Generator) -> None:
        # GPT-2's scheme, drawn from our own generator so the init depends on init_seed alone.
        with torch.no_grad():
            if name.endswith("bias"):
                param.zero_()
            elif "ln" in name:
                param.fill_(1.0)
            else:
                std = 0.02 / math.sqrt(2 * self.config.n_layer) if "c_proj" in name else 0.02
                param.copy_(torch.randn(param.shape, generator=generator) * std)

    def forward(self, idx: torch.Tensor, where: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [batch, time, vocab], or [n, vocab] at the positions `where` marks.

        Training passes `where` (the completion positions): the head over a 1,200-token
        vocabulary is most of the model's compute, and prompt positions carry no loss.
        """
        hidden, _ = self.hidden(idx)
        return self.lm_head(hidden if where is None else hidden[where])

    def hidden(
        self, idx: torch.Tensor, past: list[KV] | None = None
    ) -> tuple[torch.Tensor, list[KV]]:
        """The final residual stream after `ln_f` (what the head reads), and the new cache.

        `past` holds each layer's keys and values for the tokens before `idx`.
        """
        start = 0 if past is None else past[0][0].size(2)
        end = start + idx.size(1)
        if end > self.config.block_size:
            raise ValueError(
                f"sequence of {end} tokens exceeds block size {self.config.block_size}"
            )
        pos = torch.arange(start, end, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        cache: list[KV] = []
        for i, block in enumerate(self.h):
            x, kv = block(x, None if past is None else past[i])
            cache.append(kv)
        return self.ln_f(x), cache

    def next_logits(
        self, idx: torch.Tensor, past: list[KV] | None = None
    ) -> tuple[torch.Tensor, list[KV]]:
        """Logits for the token after `idx` [batch, vocab] and the cache to continue from."""
        hidden, cache = self.hidden(idx, past)
        return self.lm_head(hidden[:, -1]), cache
