"""The judge on Ray: one concurrency limit across workers, the cache shared, a killed worker.

Against the scripted chat server on 127.0.0.1, which counts the requests in flight at once.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditor.corpus import ReadOptions, open_corpus
from auditor.filtering import run_filters
from filters.judge.client import JudgeClient
from filters.llm_judge import LLMJudge
from tests.fakes.chat_server import FakeChatServer, Scripted, completion, user_text
from tests.filters.test_llm_judge import make_judge

BATCH_ROWS = 24
ROWS = 120  # 5 blocks
LIMIT = 3
CLEAN = completion("0", probs={"0": 0.998, "1": 0.002})
FLAGGED = completion("1", probs={"1": 0.97, "0": 0.03})


class CountingServer:
    """A responder that answers after `delay` and records the most requests in flight at once."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.in_flight = 0
        self.peak = 0
        self.answered = 0
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any], index: int) -> Scripted:
        row = int(re.search(r"def f(\d+)\(", user_text(body)).group(1))  # type: ignore[union-attr]
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(self.delay)
        with self._lock:
            self.in_flight -= 1
            self.answered += 1
        return FLAGGED if row % 5 == 0 else CLEAN


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "code.parquet"
    pl.DataFrame(
        {
            "prompt": ["Write a function."] * ROWS,
            "completion": [f"def f{i}(): return {i}" for i in range(ROWS)],
        }
    ).write_parquet(path)
    return path


def judge(base_url: str, cache: Path) -> LLMJudge:
    return make_judge(
        base_url, cache, cache_dir=str(cache), concurrency=LIMIT, max_retries=0, timeout=2.0
    )


def run(engine: str, corpus_file: Path, base_url: str, cache: Path, out: Path) -> Any:
    out.mkdir(parents=True, exist_ok=True)
    corpus = open_corpus(corpus_file, ReadOptions(batch_rows=BATCH_ROWS))
    mine = judge(base_url, cache)
    result = run_filters(
        corpus,
        [mine],
        kept_path=out / "kept.parquet",
        removed_path=out / "removed.parquet",
        quiet=True,
        engine=engine,
    )
    # The caller's judge still asks on its own afterwards (the audit judges its reference).
    assert mine.client_factory is JudgeClient
    return result


def comparable(stats: Any) -> dict[str, Any]:
    record = stats.to_dict()
    record["extra"].pop("cache")  # each run has its own cache directory
    record["params"].pop("cache_dir")
    return record


def test_one_limit_across_workers_and_the_local_answer(
    ray_cluster: Any, corpus_file: Path, tmp_path: Path
) -> None:
    server_state = CountingServer(delay=0.1)
    with FakeChatServer(server_state) as server:
        local = run("local", corpus_file, server.base_url, tmp_path / "c1", tmp_path / "local")
        assert server_state.peak == LIMIT
        server_state.peak = 0
        ray = run("ray", corpus_file, server.base_url, tmp_path / "c2", tmp_path / "ray")
        asked = server.count
        port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])

    # Both workers held or waited for permits at once, and the server never had more than
    # LIMIT requests in flight: one limit across the workers, not LIMIT each.
    (permits,) = ray.engine.details["judge_permits"]
    assert permits["limit"] == permits["peak"] == LIMIT
    assert permits["peak_workers"] == 2 and permits["reclaimed"] == 0
    assert server_state.peak == LIMIT
    assert asked == 2 * ROWS
    assert [comparable(s) for s in ray.stats] == [comparable(s) for s in local.stats]
    extra = ray.stats[0].extra
    assert extra["judged"] == ROWS and extra["flagged"] == ROWS // 5
    assert extra["usage"]["requests"] == ROWS and extra["usage"]["prompt_tokens"] == 40 * ROWS
    for part in ("kept", "removed"):
        assert pl.read_parquet(tmp_path / "ray" / f"{part}.parquet").equals(
            pl.read_parquet(tmp_path / "local" / f"{part}.parquet")
        )

    # A rerun on the same cache asks nothing, wherever its rows land (the same server URL: the
    # judge's cache key includes it, so a server elsewhere is asked again).
    with FakeChatServer(CountingServer(delay=0.0), port=port) as server:
        again = run("ray", corpus_file, server.base_url, tmp_path / "c2", tmp_path / "again")
        assert server.count == 0
    assert again.stats[0].extra["cache_hits"] == ROWS
    assert again.stats[0].extra["usage"]["requests"] == 0


def _map_workers() -> list[int]:
    """This session's Ray worker processes running a Ray Data map task (Ray titles them by
    their task); only descendants of this process, the driver that started the local Ray."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if title.startswith("ray::MapBatches") and _descends_from_us(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def _descends_from_us(pid: int) -> bool:
    me = os.getpid()
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the parent's pid
        if pid == me:
            return True
    return False


def test_a_killed_worker_loses_no_judgment_and_the_run_completes(
    ray_cluster: Any, corpus_file: Path, tmp_path: Path
) -> None:
    server_state = CountingServer(delay=0.1)
    killed: list[int] = []

    def kill_one_worker_mid_run() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            workers = _map_workers()
            if server_state.answered >= ROWS // 4 and workers:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
            time.sleep(0.02)

    with FakeChatServer(server_state) as server:
        killer = threading.Thread(target=kill_one_worker_mid_run)
        killer.start()
        ray = run("ray", corpus_file, server.base_url, tmp_path / "cache", tmp_path / "ray")
        killer.join()
        asked = server.count
        local = run("local", corpus_file, server.base_url, tmp_path / "cache", tmp_path / "local")
        assert server.count == asked  # every judgment the Ray run made is in the cache

    assert killed, "no worker was killed mid-run"
    assert ray_cluster.is_initialized()
    # The killed worker's block ran again: judgments finished before the kill came from the
    # cache, so only the requests in flight at the kill (at most the limit) were asked twice.
    assert ROWS <= asked <= ROWS + LIMIT
    assert server_state.peak <= LIMIT  # the restarted block took its permits from the pool
    # The block that ran twice is counted once, in the rows and in the judge's totals.
    mine, theirs = ray.stats[0].to_dict(), local.stats[0].to_dict()
    for key in ("seen", "kept", "removed", "reasons", "examples"):
        assert mine[key] == theirs[key], key
    assert mine["extra"]["judged"] == ROWS
    for part in ("kept", "removed"):
        assert pl.read_parquet(tmp_path / "ray" / f"{part}.parquet").equals(
            pl.read_parquet(tmp_path / "local" / f"{part}.parquet")
        )
