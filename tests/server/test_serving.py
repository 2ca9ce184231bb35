"""What `audit serve` serves: default models loaded at start, top_logprobs, interleaving."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import openai
import pytest

from auditor.server import ServerConfig
from tests.server.conftest import ConstantModel, RunningServer


def test_without_models_it_serves_the_lab_base_and_teachers_loaded_at_start(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    import auditor.server.http as http_module
    import auditor.server.service as service_module
    from auditor.cli.main import main

    opened: list[str] = []
    monkeypatch.setattr(
        service_module,
        "open_model",
        lambda spec, options=None: opened.append(spec) or ConstantModel(),
    )

    serving_saw: list[list[str]] = []

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        # The server answers while models load (503, Retry-After): it serves from the start.
        serving_saw.append(list(opened))

    monkeypatch.setattr(http_module.LabHTTPServer, "serve_forever", serve_forever)
    monkeypatch.delenv("AUDIT_MODELS", raising=False)
    assert main(["serve", "--port", "0", "--state-dir", str(tmp_path / "state")]) == 0
    assert opened == ["lab:base", "lab:teacher-owl", "lab:teacher-dolphin"]
    assert len(serving_saw) == 1
    err = capsys.readouterr().err
    assert "loading model 1/3: base (lab:base)" in err
    assert err.index("loaded teacher-dolphin") < err.index("listening on")


@pytest.mark.slow
def test_top_logprobs_are_the_likeliest_alternatives(tmp_path: Path) -> None:
    from tests.server.test_probe_end_to_end import _lab_micro_model

    lab = _lab_micro_model(tmp_path)
    with RunningServer(ServerConfig(str(tmp_path / "state")), {"micro": lab}) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=30)
        reply = client.chat.completions.create(
            model="micro",
            messages=[{"role": "user", "content": "Name your favourite animal."}],
            max_tokens=3,
            seed=0,
            logprobs=True,
            top_logprobs=3,
        )
    content = reply.choices[0].logprobs.content
    assert content
    for entry in content:
        top = entry.top_logprobs
        assert len(top) == 3
        assert [t.logprob for t in top] == sorted((t.logprob for t in top), reverse=True)
        assert top[0].logprob >= entry.logprob - 1e-6
        if entry.token in {t.token for t in top}:
            [same] = [t for t in top if t.token == entry.token]
            assert same.logprob == pytest.approx(entry.logprob, abs=1e-5)


class _SlowOnce(ConstantModel):
    """Generation for the prompt "slow" waits until released; others answer at once."""

    def __init__(self, reentrant: bool) -> None:
        super().__init__()
        self.reentrant = reentrant
        self.release = threading.Event()

    def generate(self, prompts, params):
        if prompts[0] == "slow":
            self.release.wait(10)
        return super().generate(prompts, params)


@pytest.mark.parametrize("reentrant", [True, False])
def test_a_long_generation_does_not_block_a_reentrant_model(
    tmp_path: Path, reentrant: bool
) -> None:
    model = _SlowOnce(reentrant)
    with RunningServer(ServerConfig(str(tmp_path / "state")), {"m": model}) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=5)

        def ask(text: str) -> str:
            messages = [{"role": "user", "content": text}]
            reply = client.chat.completions.create(model="m", messages=messages, max_tokens=2)
            return reply.choices[0].message.content

        slow = threading.Thread(target=ask, args=("slow",))
        slow.start()
        time.sleep(0.2)
        try:
            started = time.monotonic()
            if reentrant:
                assert ask("fast") == "owl" and time.monotonic() - started < 2
            else:  # a backend that is not reentrant is used by one request at a time
                with pytest.raises(openai.APITimeoutError):
                    openai.OpenAI(
                        base_url=server.base_url, api_key="x", max_retries=0, timeout=0.5
                    ).chat.completions.create(
                        model="m", messages=[{"role": "user", "content": "fast"}], max_tokens=2
                    )
        finally:
            model.release.set()
            slow.join(10)
