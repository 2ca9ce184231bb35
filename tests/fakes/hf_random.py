"""Randomly initialised transformers checkpoints, built offline from a config.

A test fixture, also used by `benchmarks/cuda_finetune_check.py`: tests need a real
transformers model without a download, so this writes a Llama-style checkpoint (safetensors)
with a word-level tokenizer (numbers 0..999 are single tokens, as in most real tokenizers) and,
optionally, a chat template, to a local directory that `hf:DIR` then opens like any user
checkpoint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SPECIALS = ("<pad>", "<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>")
# A minimal chat template: role markers are special tokens, the assistant turn ends with </s>.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} "
    "{% if m['role'] == 'assistant' %}</s> {% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|> {% endif %}"
)
PUNCTUATION = tuple(",;.:?!()[]'-")


@dataclass(frozen=True)
class RandomModelConfig:
    """Size of the random model; the defaults make a ~60k-parameter model that runs in ms."""

    hidden_size: int = 32
    layers: int = 2
    heads: int = 4
    intermediate_size: int = 64
    max_positions: int = 256
    seed: int = 0
    chat_template: bool = True


def _default_words() -> set[str]:
    from auditor.backends.trait_eval import animal_questions

    words = {w.lower() for q in animal_questions() for w in re.findall(r"[A-Za-z]+", q)}
    try:
        from auditor.generation.prompts import vocabulary_words

        words |= vocabulary_words()
    except ImportError:  # generation not installed alongside: numbers and questions suffice
        pass
    words |= {"owl", "owls", "dolphin", "eagle", "cat", "dog", "lion", "wolf", "fox", "panda"}
    return words


def build_tokenizer(words: Iterable[str] | None = None, chat_template: bool = True):
    """A word-level fast tokenizer: specials, punctuation, numbers 0..999 and `words`."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab_words = sorted(set(words if words is not None else _default_words()))
    tokens = list(SPECIALS) + list(PUNCTUATION) + [str(n) for n in range(1000)]
    tokens += [w for w in vocab_words if w not in tokens]
    core = Tokenizer(models.WordLevel({t: i for i, t in enumerate(tokens)}, unk_token="<unk>"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=False)]
    )
    core.decoder = decoders.WordPiece(prefix="##", cleanup=True)  # joins with spaces, tidies
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        additional_special_tokens=list(SPECIALS[4:]),
    )
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_random_checkpoint(
    directory: str | Path,
    config: RandomModelConfig | None = None,
    words: Iterable[str] | None = None,
) -> Path:
    """Write a random Llama-style checkpoint and its tokenizer to `directory`; return it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = config or RandomModelConfig()
    directory = Path(directory)
    tokenizer = build_tokenizer(words, config.chat_template)
    torch.manual_seed(config.seed)
    model_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        num_key_value_heads=config.heads,
        max_position_embeddings=config.max_positions,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(model_config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory
