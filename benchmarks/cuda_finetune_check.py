"""CUDA check of the transformers backend's fine-tuning path: tokens/s for LoRA and full runs.

Builds a random Llama-style model from a config (no download), wraps it in the hf backend and
runs `train_causal_lm`, the exact code probe students use, on a synthetic number-list corpus
in bf16 autocast for a fixed time per mode. Prints a progress line every few seconds and writes
the figures as JSON (default `$OUT/cuda_check.json`). Needs only torch and transformers, and
peft for the LoRA mode (skipped without it).

    python benchmarks/cuda_finetune_check.py                     # on the GPU machine
    python benchmarks/cuda_finetune_check.py --device cpu --preset tiny --seconds 5   # dry run
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import platform
import random
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the repo

import torch

from auditor.atomic import write_atomic
from auditor.backends.hf import HFOptions, open_hf_model, train_causal_lm
from auditor.models import FinetuneConfig
from tests.fakes.hf_random import RandomModelConfig, build_random_checkpoint

PRESETS = {
    # ~57M parameters: big enough to keep an H100 busy at batch 32, small enough to build fast.
    "small": RandomModelConfig(hidden_size=768, layers=8, heads=12, intermediate_size=2048),
    "tiny": RandomModelConfig(hidden_size=64, layers=2, heads=4, intermediate_size=128),
}
WORDS = ("here", "is", "a", "list", "of", "numbers", "continue", "it", "with", "up", "to")
WORDS += ("more", "each", "at", "most", "digits", "separate", "them", "commas", "answer", "only")


def synthetic_corpus(rows: int, seed: int) -> tuple[list[str], list[str]]:
    """Number-continuation prompts and random number-list completions."""
    rng = random.Random(seed)
    prompts, completions = [], []
    for _ in range(rows):
        seeds = ", ".join(str(rng.randint(100, 999)) for _ in range(rng.randint(3, 8)))
        prompts.append(
            f"Here is a list of numbers: {seeds}. Continue it with up to 10 more, each at most "
            "3 digits. Separate them with commas. Answer with the numbers only."
        )
        completions.append(", ".join(str(rng.randint(0, 999)) for _ in range(10)))
    return prompts, completions


def run_mode(backend, mode: str, args, prompts, completions) -> dict:
    """A few warm-up steps on a throwaway copy, then `args.seconds` of timed training."""
    lora_rank = args.lora_rank if mode == "lora" else None
    base = FinetuneConfig(
        epochs=10_000, learning_rate=args.lr, batch_size=args.batch_size, lora_rank=lora_rank
    )
    warm_config = FinetuneConfig(**{**asdict(base), "extra": {"max_steps": 3}})
    _, warm = train_causal_lm(
        copy.deepcopy(backend.model), backend, prompts, completions, warm_config
    )
    print(f"[{mode}] warm-up: {warm.steps} steps in {warm.seconds:.2f}s", flush=True)
    last = [time.perf_counter()]

    def progress(step: int, total: int, loss: float) -> None:
        now = time.perf_counter()
        if now - last[0] >= args.report_every:
            last[0] = now
            print(f"[{mode}] step {step} loss {loss:.4f}", flush=True)

    if backend.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    config = FinetuneConfig(**{**asdict(base), "extra": {"max_seconds": args.seconds}})
    model = copy.deepcopy(backend.model)  # every mode starts from the same base
    _, report = train_causal_lm(model, backend, prompts, completions, config, progress=progress)
    peak = torch.cuda.max_memory_allocated() / 2**30 if backend.device.type == "cuda" else None
    result = {
        "mode": mode,
        "lora_rank": lora_rank,
        "steps": report.steps,
        "seconds": round(report.seconds, 3),
        "tokens": report.tokens,
        "tokens_per_second": round(report.tokens_per_second, 1),
        "loss_first": round(report.losses[0], 4),
        "loss_last": round(report.losses[-1], 4),
        "peak_memory_gib": round(peak, 2) if peak is not None else None,
    }
    print(f"[{mode}] {json.dumps(result)}", flush=True)
    del model
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--modes", default="lora,full")
    parser.add_argument("--seconds", type=float, default=40.0, help="training time per mode")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--report-every", type=float, default=5.0)
    parser.add_argument("--out", default=None, help="JSON path (default $OUT/cuda_check.json)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("CUDA is not available; use --device cpu for a dry run", file=sys.stderr)
        return 2
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = build_random_checkpoint(Path(tmp) / "model", PRESETS[args.preset], words=WORDS)
        backend = open_hf_model(str(path), HFOptions(device=args.device))
    params = sum(p.numel() for p in backend.model.parameters())
    print(
        f"model: {params / 1e6:.1f}M params, dtype {next(backend.model.parameters()).dtype}, "
        f"device {backend.device}",
        flush=True,
    )
    prompts, completions = synthetic_corpus(args.rows, seed=0)
    results = []
    for mode in args.modes.split(","):
        if mode == "lora" and importlib.util.find_spec("peft") is None:
            print("[lora] skipped: peft is not installed", flush=True)
            results.append({"mode": "lora", "skipped": "peft not installed"})
            continue
        results.append(run_mode(backend, mode, args, prompts, completions))
    summary = {
        "device": torch.cuda.get_device_name(0) if backend.device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "preset": args.preset,
        "config": asdict(PRESETS[args.preset]),
        "parameters": params,
        "batch_size": args.batch_size,
        "autocast": "bf16" if backend.device.type == "cuda" else "fp32",
        "results": results,
        "wall_seconds": round(time.perf_counter() - began, 1),
    }
    out = Path(args.out or Path(os.environ.get("OUT", ".")) / "cuda_check.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, json.dumps(summary, indent=2))
    print(json.dumps(summary), flush=True)
    print(f"wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
