"""Teacher corpora from any backend: number, code and chain-of-thought prompts, trait system
prompts, resumable runs."""

from auditor.generation.prompts import (
    NumberPrompt,
    number_prompt,
    number_prompts,
    trait_system_prompt,
)
from auditor.generation.questions import prompt_tasks, question_tasks
from auditor.generation.run import (
    DOMAINS,
    GenerationConfig,
    checkpoint_path,
    domain_system_prompt,
    generate_corpus,
    task_bank,
)
from auditor.generation.tasks import Task, code_task, code_tasks, word_problem

__all__ = [
    "DOMAINS",
    "GenerationConfig",
    "NumberPrompt",
    "Task",
    "checkpoint_path",
    "code_task",
    "code_tasks",
    "domain_system_prompt",
    "generate_corpus",
    "number_prompt",
    "number_prompts",
    "prompt_tasks",
    "question_tasks",
    "task_bank",
    "trait_system_prompt",
    "word_problem",
]
