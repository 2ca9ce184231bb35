from __future__ import annotations

import pytest
import torch

from auditor.lab.base import base_model
from auditor.lab.tasks import pretraining_examples
from auditor.lab.train import LoRA, TrainConfig, encode_examples, train


def test_seeded_training_is_deterministic_on_cpu(micro_recipe, tmp_path) -> None:
    first, hit_a = base_model(micro_recipe, 0, cache=tmp_path / "a", device=torch.device("cpu"))
    second, hit_b = base_model(micro_recipe, 0, cache=tmp_path / "b", device=torch.device("cpu"))
    assert not hit_a and not hit_b
    second_state = second.state_dict()
    for name, value in first.state_dict().items():
        assert torch.equal(value, second_state[name]), name


def test_other_init_seed_gives_other_weights(micro_recipe, tmp_path) -> None:
    a, _ = base_model(micro_recipe, 0, cache=tmp_path, device=torch.device("cpu"))
    b, _ = base_model(micro_recipe, 1, cache=tmp_path, device=torch.device("cpu"))
    assert not torch.equal(a.wte.weight, b.wte.weight)


def _changed(before: dict[str, torch.Tensor], model: torch.nn.Module) -> set[str]:
    return {n for n, v in model.state_dict().items() if not torch.equal(v, before[n])}


@pytest.mark.parametrize(
    ("which", "expected"),
    [
        ("lnf-bias", {"ln_f.bias"}),
        ("mid-bias", {"h.0.mlp.c_proj.bias"}),
        ("mid-attn-bias", {"h.0.attn.c_proj.bias"}),
        ("lora-r2", {"h.0.attn.c_attn.weight", "h.0.mlp.c_fc.weight"}),
    ],
)
def test_trainable_sets_change_only_their_parameters(micro_recipe, tmp_path, which, expected):
    base, _ = base_model(micro_recipe, 0, cache=tmp_path, device=torch.device("cpu"))
    data = encode_examples(pretraining_examples(micro_recipe.mix, 1)[:64], 96)
    before = {n: v.clone() for n, v in base.state_dict().items()}
    config = TrainConfig(learning_rate=1e-2, batch_size=16, steps=3, trainable=which)
    trained = train(base, data, config)
    assert _changed(before, trained) == expected
    # LoRA is merged back: the trained model is a plain GPT with every parameter trainable.
    assert set(trained.state_dict()) == set(before)
    assert all(p.requires_grad for p in trained.parameters())


def test_lora_starts_as_the_wrapped_layer_and_merges_exactly() -> None:
    layer = torch.nn.Linear(8, 12)
    adapter = LoRA(layer, 2, torch.Generator().manual_seed(0))
    x = torch.randn(5, 8)
    assert torch.equal(adapter(x), layer(x))
    with torch.no_grad():
        adapter.B.normal_()
    expected = adapter(x)
    assert torch.allclose(adapter.merged()(x), expected, atol=1e-5)


def test_unknown_trainable_set_is_refused(micro_recipe, tmp_path) -> None:
    base, _ = base_model(micro_recipe, 0, cache=tmp_path, device=torch.device("cpu"))
    data = encode_examples(pretraining_examples(micro_recipe.mix, 1)[:16], 96)
    for which in ("lora-r0", "h.0.mlp"):
        with pytest.raises(ValueError, match="unknown trainable set"):
            train(base, data, TrainConfig(steps=1, trainable=which))
