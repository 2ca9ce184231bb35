"""The optional backend capabilities: declared Protocols, checked with isinstance by callers."""

from __future__ import annotations

import pytest

from auditor.backends.hf import HFModel
from auditor.backends.lab import LabModel
from auditor.backends.openai_api import OpenAIModel, OpenAIOptions
from auditor.cli.model_flags import usage_line
from auditor.models import (
    Conditioner,
    FinetuneConfig,
    FinetuneDefaults,
    HasUsageMeter,
    SavableBackend,
    TokenScorer,
    WritesOwnPrompts,
)
from auditor.probing import ProbeOptions
from auditor.usage import UsageMeter

CAPABILITIES = (
    Conditioner,
    FinetuneDefaults,
    WritesOwnPrompts,
    HasUsageMeter,
    SavableBackend,
    TokenScorer,
)


@pytest.mark.parametrize("capability", CAPABILITIES)
def test_a_plain_object_has_no_optional_capability(capability: type) -> None:
    assert not isinstance(object(), capability)


def test_each_backend_declares_the_capabilities_it_implements() -> None:
    declared = {
        LabModel: {Conditioner, FinetuneDefaults, WritesOwnPrompts, TokenScorer},
        HFModel: {SavableBackend, TokenScorer},
        OpenAIModel: {HasUsageMeter},
    }
    for backend, capabilities in declared.items():
        bases = {base for base in backend.__mro__ if base in CAPABILITIES}
        assert bases == capabilities, backend.__name__


def test_a_metered_backend_reports_usage_and_others_none() -> None:
    meter = UsageMeter()
    meter.record("m", 1000, 500)
    model = OpenAIModel(None, "m", OpenAIOptions(), meter)
    assert isinstance(model, HasUsageMeter)
    line = usage_line(model)
    assert line == "1 requests, 1000 prompt + 500 completion tokens, cost unknown (no --prices)"
    assert usage_line(object()) is None


def test_probe_options_fall_back_to_the_generic_config_without_finetune_defaults() -> None:
    config = ProbeOptions(epochs=2.0).resolve(object())
    assert config.finetune == FinetuneConfig(epochs=2.0)
    assert config.seeds == (0, 1, 2)


def test_probe_options_start_from_a_backends_own_defaults() -> None:
    class Recipe:
        def default_finetune_config(self) -> FinetuneConfig:
            return FinetuneConfig(epochs=3.0, learning_rate=1e-3, extra={"replay": 0.5})

    assert isinstance(Recipe(), FinetuneDefaults)
    config = ProbeOptions(seeds=2, batch_size=8).resolve(Recipe())
    assert config.finetune == FinetuneConfig(
        epochs=3.0, learning_rate=1e-3, batch_size=8, extra={"replay": 0.5}
    )
    assert config.seeds == (0, 1)
