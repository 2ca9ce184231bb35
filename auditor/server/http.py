"""HTTP for the lab server: OpenAI-shaped routes over `LabService`, stdlib only.

Routes: GET /health (no key needed), GET /v1/models[/ID], POST /v1/chat/completions,
POST /v1/completions, POST/GET /v1/files[/ID], POST/GET /v1/fine_tuning/jobs[/ID[/events]].

Hardened as an inference server must be, since anything that can reach the port can use it:
- a bearer key (`--api-key`) on every route but /health, checked before any body is read;
- a fixed pool of worker threads; a connection beyond what the pool and its short queue hold
  is answered 503 at once, so stalled clients cannot pile up threads;
- a socket timeout, so a client that sends half a request (or nothing) is dropped;
- `Content-Length` must be one plain non-negative integer; chunked bodies are refused; a JSON
  body may be `Limits.max_body_bytes`, an upload `max_upload_bytes` within a quota;
- after any error the connection is closed, so an unread body is never parsed as a request;
- every answer, errors and unknown methods included, is JSON without NaN or Infinity.
"""

from __future__ import annotations

import hmac
import json
import socket
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, HTTPServer

from auditor import jsonsafe
from auditor.models import ModelBackend
from auditor.server.errors import ApiError, not_found
from auditor.server.schema import Limits
from auditor.server.service import LabService, ServerConfig

PUBLIC_ROUTES = {("GET", "/health")}
LOADING_RETRY_AFTER_S = 5  # what a client is told to wait while the models load
MULTIPART_SLACK = 64 * 1024  # form framing around an uploaded file
_QUEUED_PER_WORKER = 2  # connections that may wait for a worker, per worker


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a multipart body: name -> (filename or None, raw bytes)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ApiError(400, "expected a multipart/form-data body")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


def _model(model_id: str) -> dict:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "audit-lab"}


def _reject_constant(name: str) -> float:
    raise ApiError(400, f"request body is not JSON: {name} is not a JSON number")


class Handler(BaseHTTPRequestHandler):
    """Routes one request to the service; errors become OpenAI-style error bodies."""

    service: LabService  # set on the subclass made by `make_server`
    api_key: str | None = None
    quiet: bool = True
    protocol_version = "HTTP/1.1"
    server_version = "audit-serve"
    timeout = Limits().socket_timeout  # StreamRequestHandler applies it to the socket
    # Headers and body go out in two writes: with Nagle's algorithm on, the body waits for the
    # client's delayed ACK (about 40 ms a request on Linux).
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return self.server_version  # no Python version for a scanner to match

    def log_message(self, format: str, *args: object) -> None:
        if not self.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    # -- answers -------------------------------------------------------------------------------
    def _send(self, status: int, payload: dict, headers: Mapping[str, str] | None = None) -> None:
        data = jsonsafe.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_error(self, error: ApiError) -> None:
        # Whatever of the request is unread (a body too large, a body not wanted) must not be
        # read as the next request: close after every error.
        self.close_connection = True
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        self._send(error.status, error.body(), headers)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own errors (bad request line, unknown method) as JSON too."""
        kind = "not_found_error" if code == 404 else "invalid_request_error"
        self._send_error(ApiError(code, message or self.responses.get(code, ("error",))[0], kind))

    # -- the request ---------------------------------------------------------------------------
    def _content_length(self) -> int:
        if self.headers.get("Transfer-Encoding") is not None:
            raise ApiError(411, "chunked bodies are not supported: send a Content-Length")
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return 0
        if len(set(values)) != 1 or not values[0].isascii() or not values[0].isdigit():
            raise ApiError(400, "Content-Length must be one non-negative integer")
        return int(values[0])

    def _body(self, limit: int) -> bytes:
        length = self._content_length()
        if length > limit:
            raise ApiError(413, f"request body too large (at most {limit} bytes)")
        self._unread = 0
        data = self.rfile.read(length) if length else b""
        if len(data) != length:
            raise ApiError(400, "the request body ended before its Content-Length")
        return data

    def _json(self) -> object:
        body = self._body(self.service.limits.max_body_bytes)
        try:
            return json.loads(body or b"{}", parse_constant=_reject_constant)
        except RecursionError:
            raise ApiError(400, "request body is nested too deeply") from None
        except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
            raise ApiError(400, f"request body is not JSON: {error}") from None

    def _authorised(self) -> bool:
        if self.api_key is None:
            return True
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        given = token.strip().encode() if scheme.lower() == "bearer" else b""
        return hmac.compare_digest(given, self.api_key.encode())

    def handle_expect_100(self) -> bool:
        """`Expect: 100-continue`: invite the body only from a client with the key."""
        if not self._authorised():
            self._send_error(ApiError(401, "a valid API key is required", "authentication_error"))
            return False
        return super().handle_expect_100()

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        self._unread = 1  # nonzero until the body has been read (or found absent)
        try:
            if (method, path) not in PUBLIC_ROUTES and not self._authorised():
                raise ApiError(
                    401,
                    "a valid API key is required (Authorization: Bearer KEY)",
                    "authentication_error",
                )
            parts = path.split("/")[1:]  # "", "v1", ... -> ["v1", ...]
            loading = self.service.loading
            if loading is not None:
                # Models still loading (a cold lab cache trains here): say so at once.
                self.close_connection = True
                body = {"status": "loading", "detail": loading}
                if (method, path) != ("GET", "/health"):
                    body = ApiError(503, f"audit serve is {loading}", "server_error").body()
                self._send(503, body, {"Retry-After": str(LOADING_RETRY_AFTER_S)})
                return
            if (method, path) == ("GET", "/health"):
                payload: dict = {"status": "ok"}
            elif parts[:1] != ["v1"]:
                raise ApiError(404, f"no route {method} {path[:200]}", "not_found_error")
            else:
                payload = self._route(method, parts[1:])
            if self._unread and self._content_length():
                self.close_connection = True  # a body nobody read: do not parse it as a request
            self._send(200, payload)
        except ApiError as error:
            self._send_error(error)
        except (TimeoutError, ConnectionError):
            self.close_connection = True  # the client stalled or left: nothing to answer
        except Exception as error:  # a bug: answer 500 so clients retry, and log it
            sys.stderr.write(f"audit serve: internal error on {method} {path}: {error!r}\n")
            self._send_error(
                ApiError(500, f"internal error: {type(error).__name__}", "server_error")
            )

    def _route(self, method: str, parts: list[str]) -> dict:
        service = self.service
        match method, parts:
            case "GET", ["models"]:
                return {"object": "list", "data": [_model(m) for m in service.model_ids()]}
            case "GET", ["models", *rest] if rest:
                model_id = "/".join(rest)  # ft: ids contain colons, aliases may contain slashes
                if model_id not in service.model_ids():
                    raise not_found(f"model {model_id[:100]!r}")
                return _model(model_id)
            case "POST", ["chat", "completions"]:
                return service.chat_completion(self._json())
            case "POST", ["completions"]:
                return service.completion(self._json())
            case "POST", ["files"]:
                service.check_upload_size(0)  # the quota used up: refuse before reading
                body = self._body(service.limits.max_upload_bytes + MULTIPART_SLACK)
                fields = parse_multipart(self.headers.get("Content-Type", ""), body)
                if "file" not in fields:
                    raise ApiError(400, "multipart field 'file' is required", param="file")
                filename, content = fields["file"]
                purpose = fields.get("purpose", (None, b"fine-tune"))[1].decode("utf-8", "replace")
                return service.upload(filename or "upload.jsonl", purpose, content)
            case "GET", ["files"]:
                return {"object": "list", "data": [f.to_api() for f in service.store.list_files()]}
            case "GET", ["files", file_id]:
                record = service.store.get_file(file_id)
                if record is None:
                    raise not_found(f"file {file_id[:100]!r}")
                return record.to_api()
            case "POST", ["fine_tuning", "jobs"]:
                return service.create_job(self._json())
            case "GET", ["fine_tuning", "jobs"]:
                jobs = [job.to_api() for job in reversed(service.store.list_jobs())]
                return {"object": "list", "data": jobs, "has_more": False}
            case "GET", ["fine_tuning", "jobs", job_id]:
                return service.get_job(job_id)
            case "GET", ["fine_tuning", "jobs", job_id, "events"]:
                return service.job_events(job_id)
        if method not in ("GET", "POST"):
            raise ApiError(405, f"method {method} not allowed")
        raise ApiError(404, f"no route {method} /v1/{'/'.join(parts)[:200]}", "not_found_error")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")


_BUSY_BODY = json.dumps(ApiError(503, "the server is busy", "server_error").body()).encode()
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


class LabHTTPServer(HTTPServer):
    """An HTTP server with a fixed pool of worker threads and a bounded wait for one."""

    # The kernel's queue of connections not yet accepted: the standard library's 5 drops
    # handshakes under a burst, and a dropped one waits seconds for its retransmission.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[Handler], limits: Limits) -> None:
        workers = max(1, limits.workers)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="audit-serve")
        self._slots = threading.BoundedSemaphore(workers * (1 + _QUEUED_PER_WORKER))
        super().__init__(address, handler)  # closes itself (server_close) if it cannot bind

    def process_request(self, request: socket.socket, client_address: object) -> None:
        if not self._slots.acquire(blocking=False):
            try:  # every worker busy and the queue full: say so now rather than pile up
                request.settimeout(1.0)
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        self._pool.submit(self._handle, request, client_address)

    def _handle(self, request: socket.socket, client_address: object) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def handle_error(self, request: object, client_address: object) -> None:
        sys.stderr.write(f"audit serve: connection from {client_address} failed\n")

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


def make_server(
    config: ServerConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    quiet: bool = True,
    models: Mapping[str, ModelBackend] | None = None,
    api_key: str | None = None,
) -> tuple[LabHTTPServer, LabService]:
    """A bound, not yet serving, server and its started service (port 0 picks a free one).

    `models` adds already-open backends by id, beside the aliases in `config.models`;
    `api_key` set, every route but /health needs `Authorization: Bearer API_KEY`.
    """
    service = LabService(config, models)
    attributes = {
        "service": service,
        "quiet": quiet,
        "api_key": api_key or None,
        "timeout": config.limits.socket_timeout,
    }
    handler = type("BoundHandler", (Handler,), attributes)
    server = LabHTTPServer((host, port), handler, config.limits)
    service.start()
    return server, service
