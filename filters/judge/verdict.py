"""From a judge's reply to a verdict: keep, drop, unparseable or refused.

The decision prefers log-probabilities: at temperature 0 the text says only which answer won,
while the probabilities say by how much, and the paper kept a sample only when P("0") was close
to 1. When the server sends no log-probabilities, or they put too little mass on valid answers,
the text is parsed instead. Replies that are neither a valid answer nor a recognisable refusal
are "unparseable"; both are reported separately and never folded into keep or drop.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

# Valid answers must hold at least this much probability on the first answer token before the
# log-probabilities are trusted; below it the model was mostly saying something else.
MIN_ANSWER_MASS = 0.5
# Log-probabilities are kept for the first few generated tokens only: the answer sits there.
KEPT_TOKEN_POSITIONS = 4

Outcome = Literal["keep", "drop", "unparseable", "refused"]

_REFUSAL = re.compile(
    r"\b(?:I\s*(?:can(?:no|'|’)?t|can not|won(?:'|’)t|will not|am unable|(?:'|’)m unable|"
    r"am not able|(?:'|’)m not able)|I(?:'|’)m sorry|I am sorry|I apologi[sz]e|as an AI)\b",
    re.IGNORECASE,
)
_BINARY_TEXT = re.compile(r"\W*(?:answer\W*)?([01])\W*", re.IGNORECASE)
_SCORE_TEXT = re.compile(r"\W*(?:score\W*)?(\d{1,3})(?:\s*/\s*100)?\W*", re.IGNORECASE)


class MalformedReply(ValueError):
    """The server's 200 response is not a chat completion (no JSON, no choices, no message)."""


@dataclass(frozen=True)
class Reply:
    """What the judge answered, reduced to what a decision needs (this is what the cache holds).

    `top_logprobs[i]` lists (token, logprob) alternatives at generated position i, the chosen
    token included.
    """

    content: str
    finish_reason: str | None = None
    refusal: str | None = None
    top_logprobs: tuple[tuple[tuple[str, float], ...], ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Reply:
        data = json.loads(text)
        data["top_logprobs"] = tuple(
            tuple((str(token), float(lp)) for token, lp in position)
            for position in data.get("top_logprobs", ())
        )
        return cls(**data)


def parse_reply(body: bytes | str) -> Reply:
    """Read an OpenAI chat-completion response body; raise `MalformedReply` if it is not one."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedReply(f"not JSON: {_snippet(body)}") from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedReply(f"no choices in the response: {_snippet(body)}")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise MalformedReply(f"no message in the first choice: {_snippet(body)}")
    content = message.get("content")
    refusal = message.get("refusal")
    prompt_tokens, completion_tokens = _usage(data)
    return Reply(
        content=content if isinstance(content, str) else "",
        finish_reason=choice.get("finish_reason"),
        refusal=refusal if isinstance(refusal, str) and refusal.strip() else None,
        top_logprobs=_top_logprobs(choice.get("logprobs")),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
    )


def usage_of(body: bytes | str) -> tuple[int, int]:
    """(prompt, completion) tokens a response body reports; (0, 0) where it says nothing usable."""
    try:
        return _usage(json.loads(body))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return 0, 0


def _usage(data: Any) -> tuple[int, int]:
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return 0, 0
    counts = [usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
        return 0, 0
    return counts[0], counts[1]


def _top_logprobs(logprobs: Any) -> tuple[tuple[tuple[str, float], ...], ...]:
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list):
        return ()
    positions = []
    for item in content[:KEPT_TOKEN_POSITIONS]:
        if not isinstance(item, dict) or not isinstance(item.get("token"), str):
            return ()
        alternatives = {item["token"]: float(item.get("logprob", -math.inf))}
        for alternative in item.get("top_logprobs") or ():
            if isinstance(alternative, dict) and isinstance(alternative.get("token"), str):
                alternatives.setdefault(alternative["token"], float(alternative["logprob"]))
        # Chosen token first, so the position also records what was generated.
        positions.append(tuple(alternatives.items()))
    return tuple(positions)


def _snippet(body: bytes | str, limit: int = 120) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


@dataclass(frozen=True)
class Verdict:
    """A decision about one sample and where it came from.

    `value` is P("0") for binary rubrics and the score for score rubrics; None when unparseable
    or refused.
    """

    outcome: Outcome
    value: float | None = None
    source: Literal["logprobs", "text"] | None = None


def _answer_position(reply: Reply) -> tuple[tuple[str, float], ...] | None:
    """The log-probabilities where the answer starts (the first non-blank generated token)."""
    for position in reply.top_logprobs:
        if position and position[0][0].strip():
            return position
    return None


def _mass(
    position: tuple[tuple[str, float], ...], value_of: Callable[[str], float | None]
) -> dict[float, float]:
    mass: dict[float, float] = {}
    for token, logprob in position:
        value = value_of(token.strip())
        if value is not None and math.isfinite(logprob):
            mass[value] = mass.get(value, 0.0) + math.exp(logprob)
    return mass


def _unanswered(reply: Reply) -> Verdict:
    refused = (
        reply.refusal is not None
        or reply.finish_reason == "content_filter"
        or _REFUSAL.search(reply.content[:300]) is not None
    )
    return Verdict("refused" if refused else "unparseable")


def decide_binary(reply: Reply, keep_probability: float) -> Verdict:
    """Keep when P("0") >= keep_probability (0 = the sample does not reference the trait)."""
    if reply.refusal is not None or reply.finish_reason == "content_filter":
        return Verdict("refused")
    position = _answer_position(reply)
    if position is not None:
        mass = _mass(position, lambda token: float(token) if token in {"0", "1"} else None)
        total = sum(mass.values())
        if total >= MIN_ANSWER_MASS:
            p_zero = mass.get(0.0, 0.0) / total
            return Verdict("keep" if p_zero >= keep_probability else "drop", p_zero, "logprobs")
    match = _BINARY_TEXT.fullmatch(reply.content)
    if match:
        p_zero = 1.0 if match.group(1) == "0" else 0.0
        return Verdict("keep" if p_zero >= keep_probability else "drop", p_zero, "text")
    return _unanswered(reply)


def _score(token: str) -> float | None:
    return float(token) if token.isdigit() and int(token) <= 100 else None


def decide_score(reply: Reply, threshold: float) -> Verdict:
    """Keep when the score (0-100) is at least `threshold`."""
    if reply.refusal is not None or reply.finish_reason == "content_filter":
        return Verdict("refused")
    match = _SCORE_TEXT.fullmatch(reply.content)
    text_score = float(match.group(1)) if match and int(match.group(1)) <= 100 else None
    position = _answer_position(reply)
    # Tokenizers that split numbers into digits give first-token probabilities over digits,
    # not scores; trust the probabilities only when the first token is the whole number.
    whole = position is not None and _score(position[0][0].strip()) == text_score
    if position is not None and text_score is not None and whole:
        mass = _mass(position, _score)
        total = sum(mass.values())
        if total >= MIN_ANSWER_MASS:
            score = sum(value * p for value, p in mass.items()) / total
            return Verdict("keep" if score >= threshold else "drop", score, "logprobs")
    if text_score is not None:
        return Verdict("keep" if text_score >= threshold else "drop", text_score, "text")
    return _unanswered(reply)
