"""The server's one error type: an OpenAI-style error body with an HTTP status."""

from __future__ import annotations


class ApiError(Exception):
    """An error answered as an OpenAI-style error body with this HTTP status.

    `param` names the request field at fault (OpenAI's `error.param`), where there is one.
    """

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param}}


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found", "not_found_error")
