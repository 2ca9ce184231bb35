from __future__ import annotations

import torch

from auditor.lab.base import base_model


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
