"""Opening models from spec strings, and the OpenAI backend's settings from the environment."""

from __future__ import annotations

import pytest

from auditor.backends import BackendOptions, open_model, parse_spec
from auditor.backends.openai_api import OpenAIModel
from auditor.backends.openai_finetune import corpus_to_chat_jsonl
from auditor.cli.serve_cmd import _aliases
from auditor.errors import AuditError


@pytest.mark.parametrize("spec", ["gpt-4", "vllm:x", "lab:", "hf:  ", ":x"])
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(AuditError, match="model spec"):
        parse_spec(spec)


def test_openai_spec_reads_server_key_and_model_from_env(monkeypatch) -> None:
    monkeypatch.setenv("AUDIT_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("AUDIT_MODEL", "teacher")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    model = open_model("openai:")
    assert isinstance(model, OpenAIModel) and model.model == "teacher"
    assert str(model.client.base_url).startswith("http://127.0.0.1:9/v1")
    assert model.client.api_key == "sk-test"
    flagged = open_model("openai:m", BackendOptions(base_url="http://127.0.0.1:8/v1", api_key="k"))
    assert str(flagged.client.base_url).startswith("http://127.0.0.1:8/v1")
    assert flagged.client.api_key == "k"


def test_openai_without_key_or_server_is_a_clear_error(monkeypatch) -> None:
    for name in ("AUDIT_BASE_URL", "AUDIT_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AuditError, match="no API key"):
        open_model("openai:gpt-4.1-nano")


def test_corpus_becomes_chat_jsonl() -> None:
    import polars as pl

    data = corpus_to_chat_jsonl(pl.DataFrame({"prompt": ["q"], "completion": ["1, 2"]}))
    assert data == (
        b'{"messages": [{"role": "user", "content": "q"}, '
        b'{"role": "assistant", "content": "1, 2"}]}\n'
    )


def test_serve_model_aliases() -> None:
    assert _aliases(["t=lab:teacher-owl,lab:base", " s = hf:/m "]) == {
        "t": "lab:teacher-owl",
        "lab:base": "lab:base",
        "s": "hf:/m",
    }
