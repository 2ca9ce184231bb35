from __future__ import annotations

import pytest
import torch

from auditor.lab.base import base_model
from auditor.lab.cache import cache_dir


def test_second_call_hits_the_cache_with_identical_weights(micro_recipe, tmp_path) -> None:
    built, hit = base_model(micro_recipe, 0, cache=tmp_path)
    loaded, hit_again = base_model(micro_recipe, 0, cache=tmp_path)
    assert (hit, hit_again) == (False, True)
    assert torch.equal(built.wte.weight, loaded.wte.weight)
    entry = next(tmp_path.iterdir())
    assert (entry / "config.json").exists() and (entry / "model.safetensors").exists()


def test_damaged_cache_file_is_rebuilt_with_a_warning(micro_recipe, tmp_path) -> None:
    built, _ = base_model(micro_recipe, 0, cache=tmp_path)
    weights = next(tmp_path.iterdir()) / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.warns(UserWarning, match="damaged"):
        rebuilt, hit = base_model(micro_recipe, 0, cache=tmp_path)
    assert not hit
    assert torch.equal(built.wte.weight, rebuilt.wte.weight)
    assert base_model(micro_recipe, 0, cache=tmp_path)[1]


def test_cache_dir_comes_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AUDIT_LAB_CACHE", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "flag") == tmp_path / "flag"
