"""HTTP for the lab server: OpenAI-shaped routes over `LabService`, stdlib only.

`ThreadingHTTPServer` is enough for a local lab server (requests to one model are serialised
anyway) and adds no dependency. Routes: GET /v1/models[/ID], POST /v1/chat/completions,
POST /v1/completions, POST/GET /v1/files, POST/GET /v1/fine_tuning/jobs[/ID[/events]].
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from auditor.models import ModelBackend
from auditor.server.service import ApiError, LabService, ServerConfig

MAX_BODY_BYTES = 512 * 1024 * 1024


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


class Handler(BaseHTTPRequestHandler):
    """Routes one request to the service; errors become OpenAI-style error bodies."""

    service: LabService  # set on the subclass made by `make_server`
    quiet: bool = True
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        if not self.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ApiError(413, "request body too large")
        return self.rfile.read(length) if length else b""

    def _json(self) -> dict:
        try:
            body = json.loads(self._body() or b"{}")
        except json.JSONDecodeError as error:
            raise ApiError(400, f"request body is not JSON: {error}")
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        parts = path.split("/")[1:]  # "", "v1", ... -> ["v1", ...]
        try:
            if parts[:1] != ["v1"]:
                raise ApiError(404, f"no route {method} {path}", "not_found_error")
            self._send(200, self._route(method, parts[1:]))
        except ApiError as error:
            self._send(error.status, {"error": {"message": error.message, "type": error.kind}})
        except Exception as error:  # a bug: answer 500 so clients retry, and log it
            sys.stderr.write(f"audit serve: internal error on {method} {path}: {error!r}\n")
            self._send(500, {"error": {"message": repr(error), "type": "server_error"}})

    def _route(self, method: str, parts: list[str]) -> dict:
        service = self.service
        match method, parts:
            case "GET", ["models"]:
                return {"object": "list", "data": [_model(m) for m in service.model_ids()]}
            case "GET", ["models", *rest] if rest:
                model_id = "/".join(rest)  # ids such as hf:/path contain slashes
                if model_id not in service.model_ids():
                    raise ApiError(404, f"model {model_id!r} not found", "not_found_error")
                return _model(model_id)
            case "POST", ["chat", "completions"]:
                return service.chat_completion(self._json())
            case "POST", ["completions"]:
                return service.completion(self._json())
            case "POST", ["files"]:
                fields = parse_multipart(self.headers.get("Content-Type", ""), self._body())
                if "file" not in fields:
                    raise ApiError(400, "multipart field 'file' is required")
                filename, content = fields["file"]
                purpose = fields.get("purpose", (None, b"fine-tune"))[1].decode()
                return service.upload(filename or "upload.jsonl", purpose, content)
            case "GET", ["files"]:
                return {"object": "list", "data": [f.to_api() for f in service.store.list_files()]}
            case "GET", ["files", file_id]:
                record = service.store.get_file(file_id)
                if record is None:
                    raise ApiError(404, f"file {file_id!r} not found", "not_found_error")
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
        raise ApiError(404, f"no route {method} /v1/{'/'.join(parts)}", "not_found_error")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")


def make_server(
    config: ServerConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    quiet: bool = True,
    models: Mapping[str, ModelBackend] | None = None,
) -> tuple[ThreadingHTTPServer, LabService]:
    """A bound, not yet serving, server and its started service (port 0 picks a free one).

    `models` adds already-open backends by id, beside the specs in `config.models`.
    """
    service = LabService(config, models)
    handler = type("BoundHandler", (Handler,), {"service": service, "quiet": quiet})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    service.start()
    return server, service
