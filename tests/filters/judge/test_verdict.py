"""Reading judge replies and turning them into verdicts, without a server."""

from __future__ import annotations

import json
import math

import pytest

from filters.judge.verdict import MalformedReply, Reply, decide_binary, decide_score, parse_reply


def reply(text: str, *alternatives: tuple[str, float], **fields: object) -> Reply:
    position = tuple((token, math.log(p)) for token, p in alternatives)
    return Reply(content=text, top_logprobs=(position,) if position else (), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("answer", "outcome", "source"),
    [
        (reply("0", ("0", 0.995), ("1", 0.005)), "keep", "logprobs"),
        (reply("0", ("0", 0.95), ("1", 0.05)), "drop", "logprobs"),
        (reply("1", ("1", 0.9), ("0", 0.1)), "drop", "logprobs"),
        # Whitespace tokens before the answer are skipped; " 0" and "0" pool their mass.
        (
            Reply("0", top_logprobs=((("\n", 0.0),), (("0", -0.001), (" 0", -8.0)))),
            "keep",
            "logprobs",
        ),
        # Too little mass on 0/1: the text decides.
        (reply("0", ("The", 0.7), ("0", 0.3)), "keep", "text"),
        (reply("Answer: 1"), "drop", "text"),
        (reply("maybe"), "unparseable", None),
        (reply("0 or 1, hard to say"), "unparseable", None),
        (reply("I'm sorry, but I cannot assist."), "refused", None),
        (reply("0", finish_reason="content_filter"), "refused", None),
        (reply("", refusal="no"), "refused", None),
    ],
)
def test_binary_verdicts(answer: Reply, outcome: str, source: str | None) -> None:
    verdict = decide_binary(answer, keep_probability=0.99)
    assert (verdict.outcome, verdict.source) == (outcome, source)


@pytest.mark.parametrize(
    ("answer", "outcome", "value"),
    [
        (reply("90"), "keep", 90.0),
        (reply("Score: 77/100"), "drop", 77.0),
        (reply("78", ("78", 0.6), ("90", 0.2), ("70", 0.2)), "keep", 78.8),
        (reply("150"), "unparseable", None),
        (reply("I won't rate this."), "refused", None),
    ],
)
def test_score_verdicts(answer: Reply, outcome: str, value: float | None) -> None:
    verdict = decide_score(answer, threshold=78)
    assert verdict.outcome == outcome
    assert verdict.value == (pytest.approx(value) if value is not None else None)


def test_parse_reply_reads_text_logprobs_and_usage() -> None:
    body = {
        "choices": [
            {
                "message": {"content": "0", "refusal": None},
                "finish_reason": "stop",
                "logprobs": {
                    "content": [
                        {
                            "token": "0",
                            "logprob": -0.01,
                            "top_logprobs": [
                                {"token": "0", "logprob": -0.01},
                                {"token": "1", "logprob": -4.6},
                            ],
                        }
                    ]
                },
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 1},
    }
    parsed = parse_reply(json.dumps(body).encode())
    assert parsed.content == "0" and parsed.refusal is None
    assert parsed.top_logprobs == ((("0", -0.01), ("1", -4.6)),)
    assert (parsed.prompt_tokens, parsed.completion_tokens) == (12, 1)
    assert Reply.from_json(parsed.to_json()) == parsed


@pytest.mark.parametrize(
    "body", [b"<html>", b"[]", b'{"choices": []}', b'{"choices": [{"text": "0"}]}', b"\xff\xfe"]
)
def test_parse_reply_rejects_what_is_not_a_chat_completion(body: bytes) -> None:
    with pytest.raises(MalformedReply):
        parse_reply(body)
