"""Rubrics: the judge's question, kept in data files rather than code.

A rubric is a TOML file with `kind` ("binary": the judge answers 0 when the sample is clean and 1
when it references the trait; "score": the judge answers an integer 0-100), `max_tokens`, and
`system` / `user` templates with `{trait}`, `{prompt}` and `{completion}` placeholders. Built-in
rubrics live in `filters/rubrics/`; a user's own rubric is any path ending in `.toml`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from auditor.errors import AuditError

RUBRIC_DIR = Path(__file__).resolve().parent.parent / "rubrics"
KINDS = ("binary", "score")


@dataclass(frozen=True)
class Rubric:
    """One judging question and the shape of its answer."""

    name: str
    kind: Literal["binary", "score"]
    system: str
    user: str
    max_tokens: int

    @property
    def needs_trait(self) -> bool:
        return "{trait}" in self.system + self.user

    def messages(self, trait: str, prompt: str, completion: str) -> list[dict[str, str]]:
        """The chat messages asking about one sample."""
        fields = {"trait": trait, "prompt": prompt, "completion": completion}
        # Only the template is parsed for placeholders, so braces in code samples are safe.
        return [
            {"role": "system", "content": self.system.format(**fields)},
            {"role": "user", "content": self.user.format(**fields)},
        ]


def builtin_rubrics() -> list[str]:
    """Names of the rubrics shipped with the package."""
    return sorted(path.stem for path in RUBRIC_DIR.glob("*.toml"))


def load_rubric(name_or_path: str) -> Rubric:
    """A built-in rubric by name, or a user's rubric from a `.toml` path."""
    if name_or_path.endswith(".toml"):
        path = Path(name_or_path)
    else:
        path = RUBRIC_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise AuditError(
                f"llm-judge: unknown rubric {name_or_path!r}; built-in rubrics: "
                f"{', '.join(builtin_rubrics())}, or give a path to a .toml file"
            )
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuditError(f"{path}: rubric file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise AuditError(f"{path}: could not read the rubric: {error}") from None
    missing = [key for key in ("kind", "system", "user") if not isinstance(document.get(key), str)]
    if missing:
        raise AuditError(f"{path}: the rubric needs string field(s) {', '.join(missing)}")
    if document["kind"] not in KINDS:
        raise AuditError(f"{path}: rubric kind must be one of {', '.join(KINDS)}")
    max_tokens = document.get("max_tokens", 8)
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise AuditError(f"{path}: max_tokens must be a positive integer")
    rubric = Rubric(path.stem, document["kind"], document["system"], document["user"], max_tokens)
    try:
        rubric.messages("t", "p", "c")
    except (KeyError, IndexError, ValueError) as error:
        raise AuditError(
            f"{path}: bad placeholder {error} in the template; use {{trait}}, {{prompt}}, "
            "{{completion}}, and double any literal brace"
        ) from None
    return rubric
