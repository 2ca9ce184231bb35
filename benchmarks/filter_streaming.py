"""Filter a Parquet file larger than the address space the filtering process is allowed.

`measure_streaming` writes the file, then filters it in a subprocess under RLIMIT_AS
(`open_corpus(...).batches()` -> `FilterPipeline.run` -> `AtomicParquetWriter`) and reports the
child's peak RSS: the proof that a corpus larger than memory filters in bounded memory. Part of
`benchmarks/filter_throughput.py`; this file is also the child (`python THIS SOURCE KEPT REMOVED
LIMIT_MB`).
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.corpus import AtomicParquetWriter, open_corpus  # noqa: E402
from auditor.corpus.reader import DEFAULT_BATCH_ROWS  # noqa: E402
from benchmarks.number_corpus import make_number_corpus  # noqa: E402
from filters import FilterPipeline, create_filter  # noqa: E402

STREAM_FILTERS = ("numbers-format", "banned-numbers", "trait-words:trait=owl")


def write_big_parquet(path: Path, target_mb: int, seed: int) -> dict:
    """Repeat a generated chunk, uncompressed, until the file holds `target_mb` of data."""
    chunk = make_number_corpus(250_000, seed).drop("source_row").to_arrow()
    rows = 0
    # No compression or dictionary: the bytes on disk are the bytes a reader must hold.
    with pq.ParquetWriter(path, chunk.schema, compression="none", use_dictionary=False) as writer:
        while rows * chunk.nbytes / chunk.num_rows < target_mb * 2**20:
            writer.write_table(chunk, row_group_size=DEFAULT_BATCH_ROWS)
            rows += chunk.num_rows
    return {
        "rows": rows,
        "file_mb": round(path.stat().st_size / 2**20, 1),
        "in_memory_mb": round(rows * chunk.nbytes / chunk.num_rows / 2**20, 1),
    }


def _vm_peak_mb() -> float | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux
        return None
    found = re.search(r"VmPeak:\s+(\d+) kB", status)
    return round(int(found.group(1)) / 1024, 1) if found else None


def stream_child(source: str, kept: str, removed: str, limit_mb: int) -> None:
    """Run in the subprocess: filter `source` under an address-space limit, report as JSON."""
    limit = limit_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    started = time.perf_counter()
    pipeline = FilterPipeline([create_filter(spec) for spec in STREAM_FILTERS])
    corpus = open_corpus(source)
    rows = 0
    with AtomicParquetWriter(kept) as kept_out, AtomicParquetWriter(removed) as removed_out:
        for result in pipeline.run(corpus.batches()):
            rows += result.kept.height + result.removed.height
            kept_out.write(result.kept)
            removed_out.write(result.removed)
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": round(time.perf_counter() - started, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "peak_address_space_mb": _vm_peak_mb(),
                "kept": kept_out.rows_written,
                "removed": removed_out.rows_written,
            }
        )
    )


def measure_streaming(target_mb: int, limit_mb: int, seed: int, workdir: Path | None) -> dict:
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        source = Path(tmp) / "big.parquet"
        started = time.perf_counter()
        written = write_big_parquet(source, target_mb, seed)
        written["write_seconds"] = round(time.perf_counter() - started, 1)
        command = [
            sys.executable,
            __file__,
            str(source),
            str(Path(tmp) / "kept.parquet"),
            str(Path(tmp) / "removed.parquet"),
            str(limit_mb),
        ]
        # RLIMIT_AS counts reserved address space, which glibc's per-thread arenas and Arrow's
        # mimalloc reserve generously without touching it; these keep the reservation honest.
        env = {**os.environ, "MALLOC_ARENA_MAX": "2", "ARROW_DEFAULT_MEMORY_POOL": "system"}
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"streaming child failed:\n{done.stderr[-3000:]}")
        child = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "filters": list(STREAM_FILTERS),
        "address_space_limit_mb": limit_mb,
        "source": written,
        **child,
        "rows_per_s": round(child["rows"] / child["seconds"]),
    }


if __name__ == "__main__":
    stream_child(*sys.argv[1:4], limit_mb=int(sys.argv[4]))
