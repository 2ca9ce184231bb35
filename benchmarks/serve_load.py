"""Load check for `audit serve`: parallel clients against a lab teacher, then two attacks.

Starts `python -m auditor serve` from the code in `--code` (so the same script measures an
older checkout: `git archive 8f30262 | tar -x -C /tmp/serve-before`), on 127.0.0.1 only, and
measures:
- N parallel clients, each sending chat completions one after another over keep-alive
  connections: latency percentiles and requests per second;
- 200 connections that send half a request and stall: the server's threads and memory, and
  whether a normal request is still answered meanwhile;
- one 50 MB body: the server's peak memory while it arrives, the status and the time to it.

    python benchmarks/serve_load.py --code . --label after --api-key k \\
        --out benchmarks/results/serve_load_after.json

Every connection has a timeout and the server is killed at the end, whatever happened.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)/v1")
# A lab number-continuation prompt (`auditor.lab.tasks.number_prompts(1, 0)`): 16 choices of
# it take the teacher about 0.1 s on one CPU core, long enough for requests to contend.
PROMPT = (
    "Check this sequence: 147, 544, 592, 779, 622. Generate up to 9 additional numbers. "
    "Separate them with commas."
)


def _proc_status(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            fields[key] = int(value.split()[0])
    return {"rss_mb": round(fields["VmRSS"] / 1024, 1), "threads": fields["Threads"]}


class Server:
    def __init__(self, code: Path, model: str, api_key: str | None, state: Path) -> None:
        command = [sys.executable, "-m", "auditor", "serve", "--port", "0"]
        command += ["--state-dir", str(state), "--models", f"teacher={model}"]
        if api_key:
            command += ["--api-key", api_key]
        self.log = state.parent / "serve.log"
        env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
        env.pop("AUDIT_API_KEY", None)
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen(command, stderr=stderr, env=env, cwd=code)
        deadline = time.monotonic() + 600
        while not (found := LISTENING.search(self.log.read_text())):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start: {self.log.read_text()}")
            time.sleep(0.1)
        self.port = int(found.group(1))

    def status(self) -> dict[str, int]:
        return _proc_status(self.process.pid)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(30)


def _headers(api_key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def _chat(connection: http.client.HTTPConnection, body: bytes, headers: dict) -> int:
    connection.request("POST", "/v1/chat/completions", body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def load(port: int, api_key: str | None, clients: int, per_client: int, body: dict) -> dict:
    payload = json.dumps(body).encode()
    headers = _headers(api_key)
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def client(_: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for _ in range(per_client):
            started = time.perf_counter()
            try:
                status = _chat(connection, payload, headers)
            except OSError:
                status = -1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            with lock:
                latencies.append(time.perf_counter() - started)
                statuses.append(status)
        connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)

    return {
        "clients": clients,
        "requests": len(latencies),
        "ok": statuses.count(200),
        "wall_s": round(wall, 2),
        "req_per_s": round(len(latencies) / wall, 2),
        "latency_s": {
            "p50": pct(0.5),
            "p90": pct(0.9),
            "p99": pct(0.99),
            "max": round(ordered[-1], 4),
            "mean": round(statistics.fmean(ordered), 4),
        },
    }


def one_request(port: int, api_key: str | None, body: dict, timeout: float) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        status = _chat(connection, json.dumps(body).encode(), _headers(api_key))
    except OSError as error:
        status = f"{type(error).__name__}"
    finally:
        connection.close()
    return {"status": status, "seconds": round(time.perf_counter() - started, 3)}


def stalled_attack(server: Server, api_key: str | None, body: dict, count: int = 200) -> dict:
    before = server.status()
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n")
        sockets.append(sock)
    time.sleep(2.0)
    during = server.status()
    probe = one_request(server.port, api_key, body, timeout=10)
    for sock in sockets:
        sock.close()
    time.sleep(1.0)
    return {
        "connections": count,
        "before": before,
        "during": during,
        "request_during_attack": probe,
        "after": server.status(),
    }


def big_body_attack(server: Server, api_key: str | None, megabytes: int = 50) -> dict:
    filler = "owl " * (megabytes * 2**20 // 4)
    payload = json.dumps(
        {"model": "teacher", "messages": [{"role": "user", "content": filler}], "max_tokens": 4}
    ).encode()
    before = server.status()
    peak = dict(before)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                now = server.status()
            except (OSError, KeyError):
                return
            peak["rss_mb"] = max(peak["rss_mb"], now["rss_mb"])
            peak["threads"] = max(peak["threads"], now["threads"])
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + (f"Authorization: Bearer {api_key}\r\n" if api_key else "")
        + f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    status: object = None
    with socket.create_connection(("127.0.0.1", server.port), timeout=180) as sock:
        try:
            sock.sendall(head + payload)
        except OSError as error:  # the server refused and closed before the body was in
            status = f"sending stopped ({type(error).__name__})"
        try:
            reply = sock.recv(4096)
            status = int(reply.split(b" ", 2)[1]) if reply else status or "closed"
        except OSError as error:
            status = status or f"{type(error).__name__}"
    seconds = time.perf_counter() - started
    time.sleep(0.5)
    done.set()
    sampler.join(5)
    return {
        "body_mb": round(len(payload) / 2**20, 1),
        "status": status,
        "seconds_to_answer": round(seconds, 2),
        "before": before,
        "peak": peak,
        "after": server.status(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=Path("."), help="checkout to serve from")
    parser.add_argument("--label", required=True)
    parser.add_argument("--model", default="lab:teacher-owl")
    parser.add_argument("--api-key", default=None, help="send this key (servers that take one)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--per-client", type=int, default=10)
    parser.add_argument("--n", type=int, default=16, help="choices per request")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    body = {
        "model": "teacher",
        "messages": [{"role": "user", "content": PROMPT}],
        "n": args.n,
        "max_tokens": args.max_tokens,
        "seed": 1,
    }
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(args.code.resolve(), args.model, args.api_key, Path(tmp) / "state")
        try:
            for _ in range(3):  # warm: the model opened, code paths loaded
                one_request(server.port, args.api_key, body, timeout=600)
            result = {
                "label": args.label,
                "code": str(args.code),
                "model": args.model,
                "request": {"n": args.n, "max_tokens": args.max_tokens},
                "cpus": os.cpu_count(),
                "single_client": load(server.port, args.api_key, 1, 10, body),
                "parallel": load(server.port, args.api_key, args.clients, args.per_client, body),
                "stalled_connections": stalled_attack(server, args.api_key, body),
                "big_body": big_body_attack(server, args.api_key),
            }
        finally:
            server.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
