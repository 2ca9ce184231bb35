"""What fine-tuning jobs read and leave behind: the uploaded training file, the saved student.

A training file is OpenAI's JSONL (chat `messages` or `prompt`/`completion` rows), checked on
upload so a bad file fails at once rather than mid-job. A lab student (no `save` of its own)
is kept as its weights in safetensors beside the job, and reopened on its base's architecture
after a restart instead of being trained again.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

from auditor.models import ModelBackend
from auditor.server.errors import ApiError

LAB_WEIGHTS = "model.safetensors"


def parse_training_file(content: bytes, file_id: str):
    """Rows of a chat or prompt/completion JSONL file as a DataFrame; ApiError when malformed."""
    import polars as pl

    prompts: list[str] = []
    completions: list[str] = []
    for number, line in enumerate(io.BytesIO(content), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise TypeError("a line must be a JSON object")
            if "messages" in row:
                messages = row["messages"]
                user = [m["content"] for m in messages if m["role"] == "user"]
                assistant = [m["content"] for m in messages if m["role"] == "assistant"]
                prompt, completion = user[-1], assistant[-1]
            else:
                prompt, completion = row["prompt"], row["completion"]
            if not isinstance(prompt, str) or not isinstance(completion, str):
                raise TypeError("prompt and completion must be strings")
        except RecursionError:
            raise ApiError(400, f"{file_id} line {number}: JSON nested too deeply") from None
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise ApiError(
                400, f"{file_id} line {number}: not a training example ({error})"
            ) from None
        prompts.append(prompt)
        completions.append(completion)
    if not prompts:
        raise ApiError(400, f"{file_id}: no training examples")
    return pl.DataFrame({"prompt": prompts, "completion": completions})


def save_lab_student(student: ModelBackend, directory: Path) -> None:
    """Write a lab student's weights as safetensors, so a restart reopens rather than retrains."""
    from auditor.backends.lab import LabModel

    if not isinstance(student, LabModel):
        return
    from safetensors.torch import save_model

    from auditor.atomic import commit, temp_path

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / LAB_WEIGHTS
    temp = temp_path(target)
    try:
        save_model(student.model, str(temp))  # handles the tied embedding weights
        commit(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def load_lab_student(base: ModelBackend, weights: Path) -> ModelBackend:
    """The student saved by `save_lab_student`, on the architecture of its base."""
    from safetensors.torch import load_model

    from auditor.backends.lab import LabModel

    if not isinstance(base, LabModel):
        raise ApiError(503, f"{weights}: saved lab weights but the base is not a lab model")
    model = copy.deepcopy(base.model)
    load_model(model, str(weights))
    return LabModel(model, f"{base.name}+ft", prefix=base.prefix, mix=base.mix)
