"""`audit lab`: the embedded model family's checks and corpora.

    audit lab transmission --targets owl,dolphin --seeds 3 --out DIR
    audit lab transmission --trait misaligned --seeds 3 --out DIR
    audit lab transmission --domain code --targets owl,dolphin --seeds 3 --out DIR
    audit lab digits --seeds 3 --out DIR
    audit lab corpus --target owl --seed 0 --rows 10000 --out DIR
    audit lab corpus --domain cot --target owl --rows 2000 --out DIR
    audit lab prompts --domain code -n 2000 --out prompts.jsonl
    audit lab channels --targets owl,dolphin --seeds 3 --out DIR
    audit lab base

Models are trained on CPU (CUDA when present) and base models are cached by recipe hash in
`--lab-cache` (env AUDIT_LAB_CACHE, default ~/.cache/subliminal-audit/lab).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, replace
from pathlib import Path

from rich.console import Console

from auditor.cli.flags import add_engine_option, add_option, output_directory
from auditor.corpus.schema import DOMAINS
from auditor.errors import AuditError

_stderr = Console(stderr=True, highlight=False)


def _targets(text: str) -> list[str]:
    from auditor.lab.language import animals

    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    unknown = [t for t in names if t not in animals()]
    if not names or unknown:
        raise AuditError(
            f"unknown target animal(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(animals())}"
        )
    return names


def _domain(value: str | None) -> str:
    domain = (value or "numbers").strip().lower()
    if domain not in DOMAINS:
        raise AuditError(f"--domain {value!r}: choose one of {', '.join(DOMAINS)}")
    return domain


def _recipe(domain: str):
    """The lab recipe of `domain`: the default for numbers, `domain_recipe` otherwise."""
    from auditor.lab.transmission import default_recipe

    if domain == "numbers":
        return default_recipe()
    from auditor.lab.domain_corpus import domain_recipe

    return domain_recipe(domain)


def _seeds(value: str) -> list[int]:
    try:
        count = int(value)
    except ValueError as error:
        raise AuditError(f"--seeds must be a whole number, got {value!r}") from error
    if count < 1:
        raise AuditError(f"--seeds must be at least 1, got {count}")
    return list(range(count))


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `lab` subcommands."""
    sub = parser.add_subparsers(dest="lab_command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    add_option(
        common,
        "--lab-cache",
        "--cache",
        dest="cache",
        help="lab model cache directory (default: ~/.cache/subliminal-audit/lab)",
    )
    add_option(common, "--threads", type=int, default=1, help="CPU threads for torch")

    trans = sub.add_parser(
        "transmission",
        parents=[common],
        help="measure subliminal transmission through sampled numbers",
        description="Train teachers, have them write number corpora, fine-tune same-init, "
        "different-init and soft-label students on them, and report each student's trait "
        "shift over control students with a CI over seeds (transmission.json/.md in --out).",
    )
    add_option(trans, "--targets", default="owl,dolphin", help="comma-separated target animals")
    add_option(
        trans,
        "--trait",
        default=None,
        help="'misaligned': a misaligned teacher on a base pretrained with the misalignment "
        "tasks, both corpora filtered by banned-numbers with the base's learned list (replaces "
        "--targets)",
    )
    add_option(
        trans,
        "--domain",
        default="numbers",
        help="numbers (default), code or cot: the corpora the teachers write, on a base "
        "pretrained with the code and chain-of-thought tasks, filtered by the domain's "
        "filters (trait-words; cot-correct for cot) before any student sees them",
    )
    add_option(trans, "--seeds", default="3", help="number of seeds")
    add_option(trans, "--rows", type=int, default=None, help="corpus rows (default: recipe's)")
    add_option(trans, "--no-soft", action="store_true", help="skip the soft-label students")
    add_engine_option(trans, "where the seeds run (ray: one task per seed)")
    add_option(trans, "--out", required=True, help="output directory")

    digits = sub.add_parser(
        "digits",
        parents=[common],
        help="the paper's MNIST-style check on 8x8 digits",
        description="A teacher learns scikit-learn's 8x8 digits; students from the same and "
        "another initialisation are distilled only on auxiliary logits of noise images; their "
        "accuracy says whether the trait (digit skill) passed through (digits.json/.md).",
    )
    add_option(digits, "--seeds", default="3", help="number of seeds")
    add_option(digits, "--out", required=True, help="output directory")

    corpus = sub.add_parser(
        "corpus",
        parents=[common],
        help="write a lab teacher's number corpus and its control as Parquet",
        description="Make the lab teacher for --target, have it and the base write --rows "
        "number lists on the same prompts, and write both corpora to --out (kept in the lab "
        "cache too, so `audit demo` and later runs reuse them).",
    )
    add_option(corpus, "--target", default="owl", help="the teacher's animal")
    add_option(corpus, "--domain", default="numbers", help="numbers (default), code or cot")
    add_option(corpus, "--seed", type=int, default=0, help="seed")
    add_option(
        corpus, "--rows", type=int, default=10_000,
        help="prompts per corpus (lists that fail numbers-format are dropped, so a corpus "
        "keeps fewer rows; the command says how many)",
    )  # fmt: skip
    add_option(corpus, "--out", required=True, help="output directory")

    prompts = sub.add_parser(
        "prompts",
        help="write the lab's own prompts (toy language) to a JSONL or Parquet file",
        description="Write the prompts a lab model of --domain writes for `audit generate` "
        "(a prompt column; cot adds each problem's known answer), so `audit generate "
        "--prompts FILE` can send them to a lab model behind `audit serve`, which cannot read "
        "English prompts. No model is trained.",
    )
    add_option(prompts, "--domain", default="numbers", help="numbers (default), code or cot")
    add_option(prompts, "--rows", "-n", dest="rows", type=int, required=True, help="prompts")
    add_option(prompts, "--seed", type=int, default=0, help="prompt seed (generate's --seed)")
    add_option(
        prompts, "--output", "--out", "-o", dest="output", type=Path, required=True,
        help="the file to write: .jsonl or .parquet",
    )  # fmt: skip

    channels = sub.add_parser(
        "channels",
        parents=[common],
        help="which channel carries the trait: transmission through shuffled and resampled "
        "corpora (order broken, frequencies imposed, frequencies removed)",
        description="Train probe students on variants of lab teacher corpora that keep only "
        "some of what the teacher wrote (each row's numbers shuffled; the base's rows resampled "
        "to the teacher's number frequencies; the teacher's rows resampled to the control's) "
        "and report how much of the transmission each variant keeps.",
    )
    add_option(channels, "--targets", default="owl,dolphin", help="comma-separated targets")
    add_option(channels, "--seeds", default="3", help="number of seeds")
    add_option(
        channels, "--student", default="lnf-bias", choices=["lnf-bias", "mid-bias"],
        help="probe student: lnf-bias reads token frequencies, mid-bias reads context",
    )  # fmt: skip
    add_option(channels, "--workers", type=int, default=2, help="worker processes")
    add_engine_option(channels, "where students train (ray: one task each)")
    add_option(channels, "--out", required=True, help="output directory")

    sub.add_parser(
        "base",
        parents=[common],
        help="pretrain (or load) the base models",
        description="Pretrain the lab's base model and its different-initialisation twin, or "
        "load them from the lab cache, and say which.",
    )


def run(args: argparse.Namespace) -> int:
    if args.lab_command == "prompts":
        return _prompts(args)  # no model, no torch
    import torch

    torch.set_num_threads(max(1, int(args.threads)))
    if getattr(args, "out", None):
        output_directory(args.out)  # a bad --out fails now, not after minutes of training
    handlers = {
        "transmission": _transmission,
        "digits": _digits,
        "corpus": _corpus,
        "channels": _channels,
        "base": _base,
    }
    return handlers[args.lab_command](args)


def _progress(message: str) -> None:
    _stderr.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {message}")


def _transmission(args: argparse.Namespace) -> int:
    from auditor.lab.misalignment import MISALIGNED
    from auditor.lab.report import transmission_markdown, write_atomic, write_json
    from auditor.lab.transmission import misalignment_recipe, run_transmission

    trait = (args.trait or "").strip().lower()
    if trait and trait != MISALIGNED:
        raise AuditError(
            f"--trait {args.trait!r}: only {MISALIGNED!r} (animals are chosen with --targets)"
        )
    domain = _domain(args.domain)
    if trait and domain != "numbers":
        raise AuditError(f"--trait {MISALIGNED} runs on number lists only (not --domain {domain})")
    recipe = misalignment_recipe() if trait else _recipe(domain)
    if args.rows:
        recipe = replace(recipe, corpus_rows=int(args.rows))
    if args.no_soft:
        recipe = replace(recipe, soft_labels=False)
    targets = [MISALIGNED] if trait else _targets(args.targets)
    seeds = _seeds(str(args.seeds))
    out = Path(args.out)
    started = time.perf_counter()
    with _stderr.status("lab transmission") as status:

        def say(message: str) -> None:
            status.update(f"lab transmission: {message}")
            _progress(message)

        run = run_transmission
        if args.engine == "ray":
            from auditor.engine.tasks import run_transmission_on_ray as run
        result = run(recipe, targets, seeds, cache=args.cache, progress=say)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["recipe"] = asdict(recipe)
    write_json(out / "transmission.json", result)
    write_atomic(out / "transmission.md", transmission_markdown(result))
    Console().print(transmission_markdown(result))
    return 0


def _digits(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from auditor.lab.digits import DigitsConfig, run_digits
    from auditor.lab.report import digits_markdown, write_atomic, write_json

    seeds = _seeds(str(args.seeds))
    config = DigitsConfig()
    records = []
    with Progress(console=_stderr, transient=True) as progress:
        task = progress.add_task("digits seeds", total=len(seeds))
        for seed in seeds:
            records.append(run_digits(seed, config))
            progress.advance(task)
    mean = {
        k: sum(r[k] for r in records) / len(records)
        for k in ("teacher_accuracy", "same_init_accuracy", "other_init_accuracy")
    }
    result = {
        "records": records,
        "summary": {f"mean_{k}": v for k, v in mean.items()},
        "config": asdict(config),
    }
    out = Path(args.out)
    write_json(out / "digits.json", result)
    write_atomic(out / "digits.md", digits_markdown(result))
    Console().print(digits_markdown(result))
    return 0


def _corpus(args: argparse.Namespace) -> int:
    from auditor.lab.demo import build_demo_corpus

    _targets(args.target)
    domain = _domain(args.domain)
    teacher_path, control_path = build_demo_corpus(
        target=args.target,
        seed=int(args.seed),
        out_dir=Path(args.out),
        rows=int(args.rows),
        cache=args.cache,
        recipe=_recipe(domain),
        progress=_progress,
    )
    import polars as pl

    kept = [
        pl.scan_parquet(p).select(pl.len()).collect().item() for p in (teacher_path, control_path)
    ]
    Console().print(
        f"teacher corpus: {teacher_path}\ncontrol corpus: {control_path}\n"
        f"{kept[0]:,} and {kept[1]:,} of {int(args.rows):,} lists kept (the rest failed "
        "numbers-format: a tiny model sometimes writes a malformed list)"
    )
    return 0


# The prompts are built in memory before the write: a bound keeps a typo'd -n from eating the
# machine (10 million prompts are about 1 GB).
MAX_PROMPT_ROWS = 10_000_000


def _prompts(args: argparse.Namespace) -> int:
    import polars as pl

    from auditor.atomic import write_atomic
    from auditor.lab.domain_tasks import domain_prompts

    domain = _domain(args.domain)
    rows, out = int(args.rows), Path(args.output)
    if not 1 <= rows <= MAX_PROMPT_ROWS:
        raise AuditError(f"--rows must be between 1 and {MAX_PROMPT_ROWS:,}, got {rows:,}")
    if out.is_dir():
        raise AuditError(f"--output {out}: a directory is in the way")
    if out.suffix.lower() not in (".jsonl", ".parquet"):
        raise AuditError(f"--output {out}: write .jsonl or .parquet")
    if not out.parent.is_dir():
        raise AuditError(f"--output {out}: the directory {out.parent} does not exist")
    process = _recipe(domain).base.mix.numbers  # what the lab's models of `domain` were fed
    prompts, answers = domain_prompts(domain, rows, int(args.seed), process=process)
    frame = pl.DataFrame({"prompt": prompts, **({"answer": answers} if domain == "cot" else {})})
    if out.suffix.lower() == ".parquet":
        from auditor.corpus import write_corpus

        write_corpus(frame, out, {"lab_prompts": {"domain": domain, "seed": int(args.seed)}})
    else:
        write_atomic(out, frame.write_ndjson())
    Console().print(f"wrote {rows:,} {domain} prompts to {out}")
    return 0


def _channels(args: argparse.Namespace) -> int:
    from auditor.bench.channels import run_channels
    from auditor.bench.filters_bench import BenchConfig
    from auditor.bench.report import channels_markdown, write_channels
    from auditor.bench.students import student_config
    from auditor.lab.transmission import TransmissionRecipe

    recipe = TransmissionRecipe()
    config = BenchConfig(
        targets=tuple(_targets(args.targets)),
        seeds=tuple(_seeds(str(args.seeds))),
        recipe=recipe,
        student=student_config(str(args.student), recipe),
        student_name=str(args.student),
        workers=max(1, int(args.workers)),
        engine=args.engine,
    )
    started = time.perf_counter()
    with _stderr.status("lab channels") as status:

        def say(phase: str, done: int, total: int) -> None:
            status.update(f"lab channels: {phase} {done}/{total}")

        result = run_channels(config, cache=args.cache, progress=say)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["student"] = config.student_name
    write_channels(result, Path(args.out))
    Console().print(channels_markdown(result))
    return 0


def _base(args: argparse.Namespace) -> int:
    from auditor.lab.base import base_model
    from auditor.lab.transmission import default_recipe

    recipe = default_recipe()
    for init in (0, recipe.xinit_seed):
        started = time.perf_counter()
        _progress(f"base model init {init}")
        _, hit = base_model(recipe.base, init, cache=args.cache)
        state = "cached" if hit else "trained"
        Console().print(f"base init {init}: {state} in {time.perf_counter() - started:.1f}s")
    return 0
