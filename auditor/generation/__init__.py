"""Teacher corpora from any backend: number prompts, trait system prompts, resumable runs."""

from auditor.generation.prompts import (
    NumberPrompt,
    number_prompt,
    number_prompts,
    trait_system_prompt,
)
from auditor.generation.run import GenerationConfig, checkpoint_path, generate_corpus

__all__ = [
    "GenerationConfig",
    "NumberPrompt",
    "checkpoint_path",
    "generate_corpus",
    "number_prompt",
    "number_prompts",
    "trait_system_prompt",
]
