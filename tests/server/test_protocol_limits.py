"""`audit serve` as an attacker and a careless client see it: keys, limits, framing, JSON.

Every network exchange is on 127.0.0.1 with short timeouts, so a server that hangs fails the
test instead of hanging the suite.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.server import ServerConfig
from auditor.server.schema import Limits
from tests.server.conftest import ConstantModel, RunningServer

KEY = "sk-test-key"
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def _strict_json(data: bytes) -> object:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in a response")

    return json.loads(data, parse_constant=refuse)


def _call(
    port: int,
    method: str,
    path: str,
    body: object = None,
    key: str | None = KEY,
    headers: dict | None = None,
) -> tuple[int, dict, http.client.HTTPResponse]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sent = {"Authorization": f"Bearer {key}"} if key else {}
    sent.update(headers or {})
    payload = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    if payload is not None:
        sent.setdefault("Content-Type", "application/json")
    connection.request(method, path, body=payload, headers=sent)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    assert response.getheader("Content-Type") == "application/json", data[:200]
    return response.status, _strict_json(data), response


def _raw(port: int, data: bytes, wait: float = 3.0) -> bytes:
    """Send `data` and read until the server closes the connection (or `wait` seconds pass)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        received = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                return received
            received += chunk
    return received + b"<still open>"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    limits = Limits(socket_timeout=0.5, workers=4, max_body_bytes=64 * 1024)
    config = ServerConfig(state_dir=str(tmp_path / "state"), limits=limits)
    with RunningServer(config, {"m": ConstantModel()}, api_key=KEY) as running:
        yield running


# -- 1. authentication -------------------------------------------------------------------------
def test_every_route_but_health_needs_the_key(server: RunningServer) -> None:
    for key in (None, "wrong"):
        for method, path, body in [
            ("GET", "/v1/models", None),
            ("POST", "/v1/chat/completions", CHAT),
            ("GET", "/v1/fine_tuning/jobs", None),
            ("GET", "/v1/files", None),
        ]:
            status, answer, response = _call(server.port, method, path, body, key=key)
            assert status == 401, (method, path, key)
            assert answer["error"]["type"] == "authentication_error"
            assert response.getheader("WWW-Authenticate") == "Bearer"
    assert _call(server.port, "GET", "/health", key=None)[:2] == (200, {"status": "ok"})
    assert _call(server.port, "GET", "/v1/models")[0] == 200
    assert server.service._preloaded["m"].calls == 0  # nothing ran for the refused requests


def test_while_models_load_requests_get_503_with_retry_after_not_a_hang(
    server: RunningServer,
) -> None:
    server.service.loading = "loading model 1/2: teacher"
    status, answer, response = _call(server.port, "GET", "/health", key=None)
    assert (status, answer) == (503, {"status": "loading", "detail": "loading model 1/2: teacher"})
    assert response.getheader("Retry-After") == "5"
    status, answer, response = _call(server.port, "POST", "/v1/chat/completions", CHAT)
    assert status == 503 and "loading model 1/2" in answer["error"]["message"]
    assert response.getheader("Retry-After") == "5"
    # The key is still checked first: loading says nothing to a client without it.
    assert _call(server.port, "GET", "/v1/models", key="wrong")[0] == 401
    assert server.service._preloaded["m"].calls == 0
    server.service.loading = None
    assert _call(server.port, "GET", "/health", key=None)[:2] == (200, {"status": "ok"})
    assert _call(server.port, "POST", "/v1/chat/completions", CHAT)[0] == 200


def test_loading_ends_even_when_a_model_fails_to_open(tmp_path: Path) -> None:
    from auditor.errors import AuditError
    from auditor.server import LabService

    config = ServerConfig(state_dir=str(tmp_path / "state"), models={"x": "lab:teacher-unicorn"})
    service = LabService(config)
    seen: list[str] = []
    with pytest.raises(AuditError, match="unknown lab model"):
        service.load_all(lambda line: seen.append(f"{line} | {service.loading}"))
    assert seen == ["loading model 1/1: x (lab:teacher-unicorn) | loading model 1/1: x"]
    assert service.loading is None


def test_a_client_without_the_key_is_not_invited_to_send_its_body(
    server: RunningServer,
) -> None:
    head = (
        "POST /v1/files HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n"
    )
    reply = _raw(server.port, head.encode())
    assert reply.startswith(b"HTTP/1.1 401 ") and b"100 Continue" not in reply
    assert not reply.endswith(b"<still open>")


def test_the_cli_refuses_to_bind_beyond_loopback_without_a_key(capsys, monkeypatch) -> None:
    from auditor.cli.main import main
    from auditor.cli.serve_cmd import is_loopback

    monkeypatch.delenv("AUDIT_API_KEY", raising=False)
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "without --api-key" in capsys.readouterr().err


# -- 2. only what was advertised ---------------------------------------------------------------
def test_unadvertised_models_are_one_plain_not_found_and_nothing_is_opened(
    server: RunningServer, monkeypatch
) -> None:
    import auditor.server.service as service_module

    def no_opening(*args: object, **kwargs: object) -> None:
        raise AssertionError("a request made the server open a model")

    monkeypatch.setattr(service_module, "open_model", no_opening)
    answers = set()
    for model in ["hf:/etc", "hf:/no/such/dir", "lab:base", "lab:teacher-owl", "ft:m:x", "../m"]:
        status, answer, _ = _call(
            server.port, "POST", "/v1/chat/completions", {**CHAT, "model": model}
        )
        assert status == 404, model
        answers.add(answer["error"]["message"].replace(repr(model), "ID"))
    assert answers == {"model ID not found"}  # the same words whatever exists on disk


def test_unknown_ids_do_not_grow_the_server(server: RunningServer) -> None:
    for number in range(300):
        _call(server.port, "POST", "/v1/chat/completions", {**CHAT, "model": f"x{number}"})
    assert set(server.service._locks) <= {"m"}
    assert server.service.loaded_ids() == []


def test_opened_models_are_a_bounded_cache(tmp_path: Path, monkeypatch) -> None:
    import auditor.server.service as service_module

    monkeypatch.setattr(
        service_module, "open_model", lambda spec, options=None: ConstantModel(spec)
    )
    config = ServerConfig(
        state_dir=str(tmp_path / "state"),
        models={
            f"m{i}": f"lab:teacher-{animal}" for i, animal in enumerate(["owl", "fox", "bear"])
        },
        limits=Limits(max_loaded_models=2),
    )
    with RunningServer(config, api_key=KEY) as running:
        for alias in ["m0", "m1", "m2", "m0"]:
            status, answer, _ = _call(
                running.port, "POST", "/v1/chat/completions", {**CHAT, "model": alias}
            )
            assert status == 200, answer
        assert running.service.loaded_ids() == ["m2", "m0"]


# -- 3. limits ---------------------------------------------------------------------------------
def test_stalled_connections_are_dropped_and_hold_no_more_than_the_pool(
    server: RunningServer,
) -> None:
    before = threading.active_count()
    stalled = []
    for _ in range(60):  # headers begun, never finished
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        stalled.append(sock)
    time.sleep(0.2)
    assert threading.active_count() - before <= 4 + 1  # the pool (4), not one per connection
    deadline = time.monotonic() + 8
    for sock in stalled:  # each one is closed by the server: a timeout, or 503 when queued full
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        assert data == b"" or b" 503 " in data.split(b"\r\n")[0]
        sock.close()
    assert _call(server.port, "GET", "/v1/models")[0] == 200  # and it still serves


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "5, 6", "+7", "٣"])
def test_a_bad_content_length_is_a_400_and_a_closed_connection(
    server: RunningServer, length: str
) -> None:
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
    started = time.monotonic()
    reply = _raw(server.port, f"{head}Content-Length: {length}\r\n\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 400 ") and not reply.endswith(b"<still open>")
    assert time.monotonic() - started < 2


def test_chunked_bodies_are_refused_not_misread(server: RunningServer) -> None:
    body = json.dumps(CHAT).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode() + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    reply = _raw(server.port, request)
    assert reply.startswith(b"HTTP/1.1 411 ") and reply.count(b"HTTP/1.1") == 1


def test_a_request_hidden_in_a_refused_body_is_never_run(server: RunningServer) -> None:
    hidden = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Length: {len(json.dumps(CHAT))}\r\n\r\n{json.dumps(CHAT)}"
    ).encode()
    outer = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Length: {10 * 1024 * 1024}\r\n\r\n"
    ).encode()
    reply = _raw(server.port, outer + hidden)
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert reply.count(b"HTTP/1.1 ") == 1 and not reply.endswith(b"<still open>")
    assert server.service._preloaded["m"].calls == 0
    # Without a key the body is not even looked at: a 401, then the connection is closed.
    anonymous = outer.replace(f"Authorization: Bearer {KEY}\r\n".encode(), b"")
    reply = _raw(server.port, anonymous + hidden)
    assert reply.startswith(b"HTTP/1.1 401 ") and reply.count(b"HTTP/1.1 ") == 1
    assert server.service._preloaded["m"].calls == 0


def test_a_big_body_is_refused_before_it_is_read(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
        sock.sendall(
            (
                f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
            ).encode()
            + b"x" * 1024
        )
        reply = b""
        while chunk := sock.recv(65536):  # the server answers and closes; 3 s at most
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"at most 65536 bytes" in reply


@pytest.mark.parametrize(
    ("change", "field"),
    [({"n": 10_000}, "n"), ({"max_tokens": 100_000}, "max_tokens")],
)
def test_caps_are_checked_before_the_model_lock(
    server: RunningServer, change: dict, field: str
) -> None:
    lock = server.service._lock("m")
    with lock:  # a long generation holds the model: a capped request must not wait for it
        started = time.monotonic()
        status, answer, _ = _call(server.port, "POST", "/v1/chat/completions", {**CHAT, **change})
        assert time.monotonic() - started < 2
    assert status == 400 and answer["error"]["param"] == field


def test_a_long_prompt_is_refused(tmp_path: Path) -> None:
    config = ServerConfig(str(tmp_path / "state"), limits=Limits(max_prompt_chars=100))
    with RunningServer(config, {"m": ConstantModel()}) as running:
        long = {**CHAT, "messages": [{"role": "user", "content": "x" * 101}]}
        status, answer, _ = _call(running.port, "POST", "/v1/chat/completions", long, key=None)
    assert status == 400 and "at most 100 characters" in answer["error"]["message"]


def _upload(port: int, content: bytes, purpose: str = "fine-tune") -> tuple[int, dict]:
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n{purpose}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.jsonl"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    status, answer, _ = _call(port, "POST", "/v1/files", body, headers=headers)
    return status, answer


def test_uploads_need_the_fine_tune_purpose_and_fit_a_quota(tmp_path: Path) -> None:
    row = b'{"prompt": "a", "completion": "b"}\n'
    limits = Limits(max_upload_bytes=4096, upload_quota_bytes=len(row) * 3)
    config = ServerConfig(str(tmp_path / "state"), limits=limits)
    with RunningServer(config, {"m": ConstantModel()}, api_key=KEY) as running:
        assert _upload(running.port, row, purpose="assistants")[0] == 400
        assert [_upload(running.port, row)[0] for _ in range(4)] == [200, 200, 200, 413]
        assert _upload(running.port, row * 200)[0] == 413  # one file over the per-file limit
        assert len(running.service.store.list_files()) == 3
    nested = b'{"prompt": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    config = ServerConfig(str(tmp_path / "state2"))
    with RunningServer(config, {"m": ConstantModel()}, api_key=KEY) as running:
        status, answer = _upload(running.port, nested)
        assert status == 400 and "line 1" in answer["error"]["message"]


# -- 4. the request schema ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_tokens": "abc"}, "max_tokens"),
        ({"temperature": "hot"}, "temperature"),
        ({"messages": ["hi"]}, "messages.0"),
        ({"messages": [{"content": "hi"}]}, "messages.0.role"),
        ({"seed": 2**80}, "seed"),
        ({"n": True}, "n"),
        ({"top_p": 0}, "top_p"),
        ({"stream": True}, "stream"),
        ({"model": 5}, "model"),
    ],
)
def test_bad_chat_fields_are_400s_that_name_the_field(
    server: RunningServer, change: dict, field: str
) -> None:
    status, answer, _ = _call(server.port, "POST", "/v1/chat/completions", {**CHAT, **change})
    assert status == 400, answer
    assert answer["error"]["param"] == field and f"'{field}'" in answer["error"]["message"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(server: RunningServer, constant: str) -> None:
    body = json.dumps(CHAT)[:-1] + f', "temperature": {constant}}}'
    status, answer, _ = _call(server.port, "POST", "/v1/chat/completions", body.encode())
    assert status == 400 and constant in answer["error"]["message"]
    job = (
        '{"model": "m", "training_file": "file-x", '
        f'"hyperparameters": {{"learning_rate_multiplier": {constant}}}}}'
    )
    status, answer, _ = _call(server.port, "POST", "/v1/fine_tuning/jobs", job.encode())
    assert status == 400 and server.service.store.list_jobs() == []


@pytest.mark.parametrize(
    ("hyper", "field"),
    [
        ([1, 2], "hyperparameters"),
        ({"n_epochs": "three"}, "hyperparameters.n_epochs"),
        ({"batch_size": 0}, "hyperparameters.batch_size"),
        ({"learning_rate_multiplier": 1e308 * 10}, "hyperparameters.learning_rate_multiplier"),
        ({"colour": "red"}, "hyperparameters.colour"),
    ],
)
def test_bad_hyperparameters_are_400s(server: RunningServer, hyper: object, field: str) -> None:
    upload = server.service.upload("c.jsonl", "fine-tune", b'{"prompt": "a", "completion": "b"}\n')
    body = {"model": "m", "training_file": upload["id"], "hyperparameters": hyper}
    if hyper == {"learning_rate_multiplier": float("inf")}:
        raw = json.dumps(body, allow_nan=True).replace("Infinity", "1e999").encode()
    else:
        raw = json.dumps(body).encode()
    status, answer, _ = _call(server.port, "POST", "/v1/fine_tuning/jobs", raw)
    assert status == 400 and answer["error"]["param"] == field, answer
    assert server.service.store.list_jobs() == []


def test_a_deeply_nested_body_is_a_400(server: RunningServer) -> None:
    nested = b"[" * 30_000 + b"]" * 30_000
    status, answer, _ = _call(server.port, "POST", "/v1/chat/completions", nested)
    assert status == 400 and "nested too deeply" in answer["error"]["message"]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "FOO"])
def test_every_method_gets_a_json_answer(server: RunningServer, method: str) -> None:
    status, answer, _ = _call(server.port, method, "/v1/models")
    assert status in (405, 501) and "error" in answer


def test_a_malformed_request_line_gets_a_json_answer(server: RunningServer) -> None:
    for line in [b"GARBAGE", b"GET /v1/models HTTP/1.x", b"GET /v1/models HTTP/1.1 x"]:
        reply = _raw(server.port, line + b"\r\n\r\n")
        # A line the server cannot read as HTTP/1.x is answered the HTTP/0.9 way: body only.
        body = reply.partition(b"\r\n\r\n")[2] if reply.startswith(b"HTTP/") else reply
        assert "Bad request" in _strict_json(body)["error"]["message"], reply


@pytest.mark.parametrize("value", [float("nan"), float("-inf")])
def test_responses_never_contain_nan(tmp_path: Path, value: float) -> None:
    config = ServerConfig(str(tmp_path / "state"))
    with RunningServer(config, {"m": ConstantModel("owl owl", logprob=value)}) as running:
        body = {**CHAT, "logprobs": True}
        status, answer, _ = _call(running.port, "POST", "/v1/chat/completions", body, key=None)
        assert status == 200
        assert [e["logprob"] for e in answer["choices"][0]["logprobs"]["content"]] == [-9999.0] * 2
        echo = {"model": "m", "prompt": "a b", "echo": True, "max_tokens": 0, "logprobs": 0}
        status, answer, _ = _call(running.port, "POST", "/v1/completions", echo, key=None)
        assert status == 200 and answer["choices"][0]["logprobs"]["token_logprobs"][1] == -9999.0
