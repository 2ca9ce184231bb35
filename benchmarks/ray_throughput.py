"""The measured basis for running at scale: local engine vs Ray, and the judge vs its ceiling.

Two measurements on this machine, each through `auditor.filtering.run_filters`, the code
`audit filter --engine local|ray` runs:

- the rule filters (the default numbers pipeline with trait-words) over a generated 1M-row
  number corpus (`benchmarks/number_corpus.py`), Parquet in and kept/removed Parquet out, on the
  local engine and on a local Ray with `--cpus` CPUs; Ray's first run (workers starting) and a
  warm second run, and a check that both engines kept and removed the same rows;
- the `llm-judge` filter against the scripted chat server on 127.0.0.1 answering after a set
  latency, at a set concurrency: its rows/s against the ceiling concurrency / latency, on both
  engines (on Ray the limit is one permit pool for the whole cluster).

From these, the plan for a 100M-row corpus (`docs/scale.md` explains it): rule-filter hours
for a number of Ray workers, judge hours at a real server's concurrency and latency, and the
judge's tokens for pricing (prompt tokens counted as characters / 4 of the rendered rubric).

    .venv/bin/python benchmarks/ray_throughput.py                 # ~4 minutes on 2 cores
    .venv/bin/python benchmarks/ray_throughput.py --rows 200000 --judge-rows 300   # a quick look

Writes benchmarks/results/ray_throughput.{json,md} and prints the table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from auditor.atomic import write_atomic  # noqa: E402
from auditor.corpus import ReadOptions, open_corpus  # noqa: E402
from auditor.filtering import run_filters  # noqa: E402
from benchmarks.number_corpus import make_number_corpus  # noqa: E402
from filters.config import default_filters  # noqa: E402
from filters.llm_judge import LLMJudge  # noqa: E402
from tests.fakes.chat_server import FakeChatServer, completion  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PLAN_ROWS = 100_000_000


def _filter_pass(engine: str, source: Path, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    corpus = open_corpus(source, ReadOptions())
    started = time.perf_counter()
    run = run_filters(
        corpus,
        default_filters("numbers", trait="owl"),
        kept_path=out / "kept.parquet",
        removed_path=out / "removed.parquet",
        quiet=True,
        engine=engine,
    )
    seconds = time.perf_counter() - started
    return {
        "engine": run.engine.to_dict(),
        "seconds": round(seconds, 2),
        "rows": run.rows,
        "kept": run.kept_rows,
        "rows_per_s": round(run.rows / seconds),
        "stats": [s.to_dict() for s in run.stats],
    }


def _same_files(a: Path, b: Path) -> bool:
    return all(
        pl.read_parquet(a / name).equals(pl.read_parquet(b / name))
        for name in ("kept.parquet", "removed.parquet")
    )


def _judge_pass(
    engine: str, source: Path, cache: Path, base_url: str, concurrency: int
) -> dict[str, Any]:
    judge = LLMJudge(
        rubric="code",
        trait="owl",
        model="judge-model",
        base_url=base_url,
        api_key="bench",
        cache_dir=str(cache),
        concurrency=concurrency,
        max_retries=0,
        timeout=30.0,
    )
    corpus = open_corpus(source, ReadOptions(batch_rows=max(64, concurrency * 8)))
    started = time.perf_counter()
    run = run_filters(corpus, [judge], quiet=True, engine=engine)
    seconds = time.perf_counter() - started
    extra = run.stats[0].extra
    return {
        "engine": run.engine.to_dict(),
        "seconds": round(seconds, 2),
        "rows": run.rows,
        "requests": extra["usage"]["requests"],
        "rows_per_s": round(run.rows / seconds, 1),
    }


def _prompt_chars(source: Path) -> float:
    """Mean characters of the rendered rubric messages per row (for the token estimate)."""
    judge = LLMJudge(rubric="code", trait="owl", model="m", base_url="http://127.0.0.1:1/v1")
    frame = pl.read_parquet(source).head(1000)
    rubric = judge._rubric
    sizes = [
        sum(len(m["content"]) for m in rubric.messages("owl", p, c))
        for p, c in frame.select("prompt", "completion").iter_rows()
    ]
    return sum(sizes) / len(sizes)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import ray

    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "ray_version": ray.__version__,
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "numbers.parquet"
        make_number_corpus(args.rows, seed=0).write_parquet(source, row_group_size=65_536)
        local = _filter_pass("local", source, work / "local")
        ray.init(
            num_cpus=args.cpus,
            object_store_memory=args.object_store_mb * 2**20,
            include_dashboard=False,
            log_to_driver=False,
        )
        cold = _filter_pass("ray", source, work / "ray-cold")
        warm = _filter_pass("ray", source, work / "ray")
        same = _same_files(work / "local", work / "ray") and local["stats"] == warm["stats"]
        result["filters"] = {
            "rows": args.rows,
            "local": {k: v for k, v in local.items() if k != "stats"},
            "ray_first": {k: v for k, v in cold.items() if k != "stats"},
            "ray": {k: v for k, v in warm.items() if k != "stats"},
            "same_output": same,
            "overhead_ratio": round(local["rows_per_s"] / warm["rows_per_s"], 2),
        }

        judge_source = work / "judge.parquet"
        make_number_corpus(args.judge_rows, seed=1).with_columns(
            pl.format("{} #{}", pl.col("completion"), pl.int_range(0, pl.len()))
        ).write_parquet(judge_source)
        judge_runs = []
        # The set latency at each concurrency, then no latency: what the client itself (and the
        # scripted server, on the same cores) can do per worker, the other bound on the rate.
        settings = [(args.latency_ms, c) for c in args.concurrency] + [(0.0, max(args.concurrency))]
        for latency_ms, concurrency in settings:
            answer = completion("0", probs={"0": 0.999, "1": 0.001}, delay=latency_ms / 1000)
            with FakeChatServer(lambda body, index, answer=answer: answer) as server:
                for engine in ("local", "ray"):
                    cache = work / f"judge-{engine}-{concurrency}-{latency_ms}"
                    run = _judge_pass(engine, judge_source, cache, server.base_url, concurrency)
                    ceiling = concurrency / (latency_ms / 1000) if latency_ms else None
                    run.update(
                        concurrency=concurrency,
                        latency_ms=latency_ms,
                        ceiling_rows_per_s=round(ceiling, 1) if ceiling else None,
                        share_of_ceiling=round(run["rows_per_s"] / ceiling, 3) if ceiling else None,
                    )
                    judge_runs.append(run)
        result["judge"] = {
            "rows": args.judge_rows,
            "runs": judge_runs,
            "prompt_chars_per_row": round(_prompt_chars(judge_source), 1),
        }
        ray.shutdown()
    result["plan"] = plan(result, args)
    return result


def plan(result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """100M rows from the measured rates: the rule filters' rows/s per worker; the judge's
    rows/s is the smaller of the ceiling (concurrency / latency) and what the workers' clients
    can send (the no-latency rate per worker, measured with the server on the same cores)."""
    filters = result["filters"]
    workers = filters["ray"]["engine"]["workers"]
    per_worker = filters["ray"]["rows_per_s"] / workers
    unbound = [r for r in result["judge"]["runs"] if r["latency_ms"] == 0]
    client_per_worker = max(r["rows_per_s"] / r["engine"]["workers"] for r in unbound)
    ceiling = args.plan_concurrency / (args.plan_latency_ms / 1000)
    tokens = result["judge"]["prompt_chars_per_row"] / 4 + 1
    judge_hours = {}
    for w in args.plan_workers:
        rate = min(ceiling, client_per_worker * w)
        judge_hours[str(w)] = round(PLAN_ROWS / rate / 3600, 1)
    return {
        "rows": PLAN_ROWS,
        "rule_filter_rows_per_s_per_worker": round(per_worker),
        "rule_filter_hours": {
            str(w): round(PLAN_ROWS / (per_worker * w) / 3600, 3) for w in args.plan_workers
        },
        "judge": {
            "concurrency": args.plan_concurrency,
            "latency_ms": args.plan_latency_ms,
            "ceiling_rows_per_s": round(ceiling, 1),
            "client_rows_per_s_per_worker": round(client_per_worker, 1),
            "workers_to_reach_ceiling": math.ceil(ceiling / client_per_worker),
            "hours": judge_hours,
            "tokens_per_row_estimate": round(tokens, 1),
            "million_tokens": round(PLAN_ROWS * tokens / 1e6),
        },
    }


def _markdown(result: dict[str, Any], command: str) -> str:
    f, j, p = result["filters"], result["judge"], result["plan"]
    lines = [
        "# Local engine vs Ray, and the judge vs its ceiling",
        "",
        f"`{command}` on {result['machine']['cpus']} CPUs, Ray {result['ray_version']}.",
        "",
        f"## Rule filters, {f['rows']:,} rows (default numbers pipeline + trait-words)",
        "",
        "| engine | workers | seconds | rows/s |",
        "|---|---|---|---|",
    ]
    for label, key in (("local", "local"), ("ray, first run", "ray_first"), ("ray, warm", "ray")):
        run = f[key]
        lines.append(
            f"| {label} | {run['engine']['workers']} | {run['seconds']} | {run['rows_per_s']:,} |"
        )
    lines += [
        "",
        f"Same kept and removed rows and statistics on both engines: {f['same_output']}. "
        f"Overhead ratio (local rows/s ÷ warm Ray rows/s): {f['overhead_ratio']}.",
        "",
        f"## The judge, {j['rows']:,} rows against a server answering after a set latency",
        "",
        "| engine | concurrency | latency ms | rows/s | ceiling rows/s | share |",
        "|---|---|---|---|---|---|",
    ]
    for run in j["runs"]:
        ceiling = run["ceiling_rows_per_s"]
        share = f"{run['share_of_ceiling']:.0%}" if ceiling else "-"
        lines.append(
            f"| {run['engine']['name']} | {run['concurrency']} | {run['latency_ms']:g} | "
            f"{run['rows_per_s']} | {ceiling or 'none'} | {share} |"
        )
    judge = p["judge"]
    lines += [
        "",
        f"## Plan for {p['rows']:,} rows",
        "",
        f"- Rule filters: {p['rule_filter_rows_per_s_per_worker']:,} rows/s per Ray worker "
        "(warm run ÷ workers): "
        + ", ".join(f"{w} workers {h} h" for w, h in p["rule_filter_hours"].items())
        + ".",
        f"- Judge at concurrency {judge['concurrency']} and {judge['latency_ms']:g} ms latency: "
        f"ceiling {judge['ceiling_rows_per_s']} rows/s; the client sends "
        f"{judge['client_rows_per_s_per_worker']} rows/s per worker with no latency, so "
        f"the ceiling takes {judge['workers_to_reach_ceiling']} worker(s): "
        + ", ".join(f"{w} workers {h} h" for w, h in judge["hours"].items())
        + ".",
        f"- Judge tokens: about {judge['tokens_per_row_estimate']} prompt tokens per row "
        f"(rubric characters ÷ 4), {judge['million_tokens']:,}M tokens in all; multiply by "
        "your price per million tokens.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--object-store-mb", type=int, default=500)
    parser.add_argument("--judge-rows", type=int, default=2_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--plan-workers", type=int, nargs="+", default=[2, 16, 64])
    parser.add_argument("--plan-concurrency", type=int, default=256)
    parser.add_argument("--plan-latency-ms", type=float, default=1000.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    command = "python benchmarks/ray_throughput.py " + " ".join(sys.argv[1:])
    result = measure(args)
    result["command"] = command.strip()
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "ray_throughput.json", json.dumps(result, indent=2) + "\n")
    write_atomic(args.out / "ray_throughput.md", _markdown(result, command.strip()))
    print(_markdown(result, command.strip()))


if __name__ == "__main__":
    main()
