"""The on-disk cache of pretrained lab base models, keyed by a hash of their recipe.

A base model is determined by its architecture, its pretraining data and its training config
(and by this code), so those, hashed, name its cache entry: `<cache>/<hash>/model.safetensors`
beside `config.json` (the recipe, library versions and how long it took). The cache directory
is `AUDIT_LAB_CACHE`, else `~/.cache/subliminal-audit/lab`. An entry that cannot be read back
(a truncated or damaged file) is rebuilt with a warning, never a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from auditor.lab.model import GPT, GPTConfig

CACHE_ENV = "AUDIT_LAB_CACHE"
FORMAT_VERSION = 1  # bump when a change to the lab's code changes what a recipe trains


def cache_dir(override: str | Path | None = None) -> Path:
    """The cache directory: `override`, else $AUDIT_LAB_CACHE, else the user cache."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path.home() / ".cache" / "subliminal-audit" / "lab"


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def recipe_key(recipe: dict[str, Any]) -> str:
    """A short stable hash of a recipe (dataclasses allowed inside)."""
    payload = json.dumps({"format": FORMAT_VERSION, **_plain(recipe)}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def versions() -> dict[str, str]:
    return {"torch": torch.__version__, "python": platform.python_version()}


def _load(entry: Path, config: GPTConfig) -> GPT:
    model = GPT(config)
    safetensors.torch.load_model(model, str(entry / "model.safetensors"))
    return model


def cached_model(
    recipe: dict[str, Any],
    config: GPTConfig,
    build: Callable[[], GPT],
    *,
    directory: str | Path | None = None,
) -> tuple[GPT, bool]:
    """(the model for `recipe`, whether it came from the cache); builds and stores on a miss."""
    entry = cache_dir(directory) / recipe_key({"model": config, **recipe})
    weights = entry / "model.safetensors"
    if entry.exists() and not weights.exists():
        shutil.rmtree(entry, ignore_errors=True)
    if weights.exists():
        try:
            return _load(entry, config), True
        except Exception as error:
            warnings.warn(
                f"lab cache entry {entry} is damaged ({error}); rebuilding it", stacklevel=2
            )
            shutil.rmtree(entry, ignore_errors=True)
    started = time.perf_counter()
    model = build()
    seconds = time.perf_counter() - started
    partial = entry.with_name(entry.name + f".partial-{os.getpid()}")
    partial.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_model(model, str(partial / "model.safetensors"))
    meta = {
        "model": _plain(config),
        "recipe": _plain(recipe),
        "versions": versions(),
        "build_seconds": round(seconds, 2),
    }
    (partial / "config.json").write_text(json.dumps(meta, indent=2, sort_keys=True), "utf-8")
    try:
        os.replace(partial, entry)
    except OSError:  # another process stored the same entry first; theirs is as good
        shutil.rmtree(partial, ignore_errors=True)
    return model, False
