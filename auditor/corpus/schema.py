"""The corpus schema: one row per sample, `prompt` and `completion`, plus provenance.

Users' files come in many layouts; `ColumnMapping` says which of their columns are the prompt
and the completion (or the chat `messages`), and `detect_mapping` recognises the common ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditor.errors import AuditError

PROMPT = "prompt"
COMPLETION = "completion"
ANSWER = "answer"  # a chain-of-thought row's known answer, which `cot-correct` checks
PROVENANCE = ("domain", "teacher", "trait", "seed", ANSWER)
DOMAINS = ("numbers", "code", "cot")

# (prompt column, completion column) pairs recognised without a flag, in order of preference.
KNOWN_LAYOUTS: tuple[tuple[str, str], ...] = (
    ("prompt", "completion"),
    ("question", "response"),
    ("instruction", "output"),
    ("prompt", "response"),
    ("input", "output"),
    ("question", "answer"),
)


@dataclass(frozen=True)
class ColumnMapping:
    """Which source columns hold the prompt and completion, or the chat messages."""

    prompt: str | None = None
    completion: str | None = None
    messages: str | None = None

    @classmethod
    def parse(cls, text: str) -> ColumnMapping:
        """Parse a `--columns` flag: `prompt=question,completion=response` or `messages=chat`."""
        fields: dict[str, str] = {}
        for part in filter(None, (piece.strip() for piece in text.split(","))):
            key, sep, value = part.partition("=")
            if not sep or key.strip() not in {"prompt", "completion", "messages"}:
                raise AuditError(
                    f"--columns {text!r}: expected prompt=COL,completion=COL or messages=COL"
                )
            fields[key.strip()] = value.strip()
        mapping = cls(**fields)
        if mapping.messages is None and mapping.completion is None:
            raise AuditError(f"--columns {text!r}: name at least the completion or messages column")
        return mapping

    def source_columns(self) -> list[str]:
        return [name for name in (self.prompt, self.completion, self.messages) if name]


def detect_mapping(columns: Sequence[str], where: str) -> ColumnMapping:
    """Recognise a known layout among `columns`, or fail listing the columns present."""
    present = set(columns)
    for prompt, completion in KNOWN_LAYOUTS:
        if prompt in present and completion in present:
            return ColumnMapping(prompt=prompt, completion=completion)
    if "messages" in present:
        return ColumnMapping(messages="messages")
    if COMPLETION in present:
        return ColumnMapping(completion=COMPLETION)
    known = ", ".join(f"{p}/{c}" for p, c in KNOWN_LAYOUTS)
    raise AuditError(
        f"{where}: no prompt/completion columns found; columns present: "
        f"{', '.join(columns) or '(none)'}. Known layouts: {known}, messages. "
        "Name yours with --columns prompt=COL,completion=COL"
    )
