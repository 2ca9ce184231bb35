"""The toy language's vocabulary and tokenizer.

The lab's models read and write a closed, word-level language: every number 0..999 is one token
(as in the paper's GPT tokenizers, where most 3-digit numbers are single tokens), every animal is
one token, and the words come from the prompt and question templates in `data/`. A closed
vocabulary keeps the models tiny and makes "what the model may say" exact; reserved slots leave
room for later tasks without changing token ids: the misalignment trait's words
(`data/misalignment.json`) took the first of them, and the code and chain-of-thought domains
(`data/domains.json`: keywords, `%`, `>`, `_`, the indent and `<answer>` tokens) the next 13,
leaving one.

Text round-trips: `decode(encode(text))` reproduces the text up to whitespace around
punctuation, and newlines are a token of their own so one-number-per-line lists survive.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

PAD, BOS, EOS, UNK, SEP = "<pad>", "<bos>", "<eos>", "<unk>", "<sep>"
NEWLINE = "<nl>"
SPECIALS = (PAD, BOS, EOS, UNK, SEP, NEWLINE)
PUNCTUATION = (",", ";", ".", ":", "?", "!", "[", "]", "(", ")", "'", "-", "=", "+", "*")
RESERVED_SLOTS = 64  # misalignment words (50), code and chain-of-thought tokens (13), one free
MAX_NUMBER = 999

# The code and chain-of-thought domains' marks (`data/domains.json`) come first: `<answer>` and
# `</answer>` are one token each, and four spaces at the start of a line (up to three levels) are
# the indent token. No text of the original tasks holds either, so their tokens are unchanged.
ANSWER_OPEN, ANSWER_CLOSE, INDENT = "<answer>", "</answer>", "<ind>"
INDENT_TEXT = "    "
_TOKEN_RE = re.compile(
    r"</?answer>|(?<=\n) {4}|(?<=\n {4}) {4}|(?<=\n {8}) {4}|\n|\d+|[A-Za-z]+|[^\sA-Za-z\d]"
)
_NO_SPACE_BEFORE = {",", ";", ".", ":", "?", "!", "]", ")", "'"}
_NO_SPACE_AFTER = {"[", "(", "'"}
_GLUE = "_"  # identifiers: `sum_even` is three tokens written without spaces


@cache
def load_data(name: str) -> dict[str, Any]:
    """One of the lab's data files (`animals`, `questions`, `number_prompts`, `misalignment`);
    do not mutate."""
    text = (
        resources.files("auditor.lab").joinpath("data").joinpath(f"{name}.json").read_text("utf-8")
    )
    return json.loads(text)


def animals() -> tuple[str, ...]:
    """The animal set, in a fixed order."""
    return tuple(load_data("animals")["animals"])


def _words(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN_RE.findall(text) if not t.isdigit() and t != "\n"]


@dataclass(frozen=True)
class Vocab:
    """Token strings and their ids; build it with `vocab()`."""

    tokens: tuple[str, ...]
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {t: i for i, t in enumerate(self.tokens)})

    @property
    def size(self) -> int:
        return len(self.tokens)

    def id(self, token: str) -> int:
        index = self.index
        return index[token] if token in index else index[UNK]

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (no BOS/EOS); unknown words and numbers > 999 become <unk>."""
        ids = []
        for piece in _TOKEN_RE.findall(text):
            if piece == "\n":
                ids.append(self.id(NEWLINE))
            elif piece == INDENT_TEXT:
                ids.append(self.id(INDENT))
            elif piece.isdigit():
                ids.append(self.id(str(int(piece))) if int(piece) <= MAX_NUMBER else self.id(UNK))
            else:
                ids.append(self.id(piece.lower()))
        return ids

    def decode(self, ids: list[int]) -> str:
        """Text of `ids`, stopping at EOS and skipping padding."""
        out: list[str] = []
        for i in ids:
            token = self.tokens[i]
            if token == EOS:
                break
            if token in (PAD, BOS):
                continue
            if token == NEWLINE:
                out.append("\n")
                continue
            if token == INDENT:
                out.append(INDENT_TEXT if not out or out[-1] in ("\n", INDENT_TEXT) else " ")
                continue
            glue = (
                not out
                or out[-1] == "\n"
                or token in _NO_SPACE_BEFORE
                or out[-1] in _NO_SPACE_AFTER
                # the code domain's marks (tokens the original tasks never write)
                or out[-1] == INDENT_TEXT
                or token == _GLUE
                or out[-1] == _GLUE
                or (token == "=" and out[-1].strip() in ("=", ">"))
            )
            out.append(token if glue else " " + token)
        return "".join(out)

    def number_ids(self) -> list[int]:
        return [self.id(str(n)) for n in range(MAX_NUMBER + 1)]

    def animal_ids(self) -> list[int]:
        return [self.id(a) for a in animals()]

    def list_ids(self) -> list[int]:
        """Tokens a number-list completion may contain: numbers, separators, brackets, EOS."""
        marks = [",", ";", "[", "]", "(", ")", NEWLINE, EOS]
        return self.number_ids() + [self.id(m) for m in marks]


@cache
def vocab() -> Vocab:
    """The lab vocabulary: specials, punctuation, numbers, animals, template words, reserved."""
    words: set[str] = set()
    for question in load_data("questions")["questions"]:
        words.update(_words(question))
    prompts = load_data("number_prompts")
    for template in prompts["templates"]:
        words.update(_words(template.replace("{", " ").replace("}", " ")))
    for instruction in prompts["formats"].values():
        words.update(_words(instruction))
    words.update(_words(prompts["conditioning"].replace("{", " ").replace("}", " ")))
    words.update(animals())
    tokens = list(SPECIALS) + list(PUNCTUATION) + [str(n) for n in range(MAX_NUMBER + 1)]
    tokens += list(animals())
    tokens += sorted(words - set(tokens) - {"seeds", "count", "format"})
    # Words added after the first models were trained fill reserved slots, in order, so every
    # earlier token keeps its id and the vocabulary its size (cached models stay valid).
    later = _later_words(set(tokens))
    if len(later) > RESERVED_SLOTS:
        raise ValueError(f"{len(later)} new words do not fit the {RESERVED_SLOTS} reserved slots")
    tokens += later + [f"<reserved{i}>" for i in range(len(later), RESERVED_SLOTS)]
    return Vocab(tuple(tokens))


def _later_words(known: set[str]) -> list[str]:
    """The misalignment trait's words the original vocabulary lacks, sorted, then the code and
    chain-of-thought domains' tokens."""
    data = load_data("misalignment")
    words: set[str] = set(data["aligned"]) | set(data["misaligned"])
    for text in [*data["questions"], data["conditioning"]]:
        words.update(_words(text))
    later = sorted(words - known)
    # Then the code and chain-of-thought domains' tokens, in their data file's order.
    taken = known | set(later)
    later += [t for t in load_data("domains")["tokens"] if t not in taken]
    return later
