"""The shape of every request body `audit serve` accepts, checked before any model is touched.

Pydantic models in strict mode: a wrong type (`max_tokens: "abc"`), a value out of range, NaN or
Infinity is a 400 that names the field, never a 500 from deep inside a backend. Fields the
server does not use (`stop`, `user`, ...) are ignored as OpenAI's server ignores unknown ones;
the limits that depend on the server's settings (`n`, `max_tokens`, prompt length) are checked
by `Limits.check_*` on top of these static ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor.server.errors import ApiError

SEED_MAX = 2**31 - 1  # the lab's noise hash multiplies the seed in int64

Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
Temperature = Annotated[float, Field(ge=0.0, le=2.0)]
TopP = Annotated[float, Field(gt=0.0, le=1.0)]
ModelId = Annotated[str, Field(min_length=1, max_length=256)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False, frozen=True)


class Message(_Body):
    role: Literal["system", "developer", "user", "assistant"]
    content: str


class ChatRequest(_Body):
    model: ModelId
    messages: Annotated[list[Message], Field(min_length=1, max_length=64)]
    n: Annotated[int, Field(ge=1)] = 1
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Temperature = 1.0
    top_p: TopP = 1.0
    seed: Seed | None = None
    logprobs: bool = False
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    min_prob: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0  # `audit serve` extension
    stream: Literal[False] = False

    @property
    def wanted_tokens(self) -> int | None:
        return self.max_tokens or self.max_completion_tokens


class CompletionRequest(_Body):
    model: ModelId
    prompt: str
    echo: bool = False
    max_tokens: Annotated[int, Field(ge=0)] | None = None
    logprobs: Annotated[int, Field(ge=0, le=5)] | None = None
    temperature: Temperature = 1.0
    top_p: TopP = 1.0
    seed: Seed | None = None
    completion_start: Annotated[int, Field(ge=0)] = 0  # `audit serve` extension
    stream: Literal[False] = False


Auto = Literal["auto"]


class Hyperparameters(_Body):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)

    n_epochs: Annotated[int, Field(ge=1, le=100)] | Auto | None = None
    batch_size: Annotated[int, Field(ge=1, le=4096)] | Auto | None = None
    learning_rate_multiplier: Annotated[float, Field(gt=0.0, le=100.0)] | Auto | None = None


class JobRequest(_Body):
    model: ModelId
    training_file: Annotated[str, Field(min_length=1, max_length=128)]
    hyperparameters: Hyperparameters = Hyperparameters()
    seed: Seed | None = None
    suffix: Annotated[str, Field(max_length=64)] | None = None


B = TypeVar("B", bound=BaseModel)


def parse_body(kind: type[B], body: object) -> B:
    """`body` as a `kind`, or a 400 naming the first bad field."""
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    try:
        return kind.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        # Union members add tags such as 'constrained-int' to the location: not field names.
        names = [str(part) for part in first["loc"] if isinstance(part, int) or part.isidentifier()]
        field = ".".join(names) or "body"
        raise ApiError(400, f"field '{field}': {first['msg']}", param=field) from None


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server, and how much it may send."""

    max_n: int = 16
    max_tokens: int = 512
    max_prompt_chars: int = 16_000
    max_body_bytes: int = 1024 * 1024  # JSON routes
    max_upload_bytes: int = 32 * 1024 * 1024  # one uploaded file
    upload_quota_bytes: int = 256 * 1024 * 1024  # all uploaded files together
    socket_timeout: float = 15.0  # seconds a connection may stay silent
    workers: int = 32  # requests handled at once; more are refused with 503
    max_loaded_models: int = 4
    max_job_attempts: int = 3

    def check_chat(self, request: ChatRequest) -> None:
        if request.n > self.max_n:
            raise ApiError(400, f"field 'n': at most {self.max_n}", param="n")
        tokens = request.wanted_tokens
        if tokens is not None and tokens > self.max_tokens:
            raise ApiError(
                400, f"field 'max_tokens': at most {self.max_tokens}", param="max_tokens"
            )
        chars = sum(len(m.content) for m in request.messages)
        self._check_prompt(chars, "messages")

    def check_completion(self, request: CompletionRequest) -> None:
        if request.max_tokens is not None and request.max_tokens > self.max_tokens:
            raise ApiError(
                400, f"field 'max_tokens': at most {self.max_tokens}", param="max_tokens"
            )
        self._check_prompt(len(request.prompt), "prompt")

    def _check_prompt(self, chars: int, field: str) -> None:
        if chars > self.max_prompt_chars:
            raise ApiError(
                400, f"field '{field}': at most {self.max_prompt_chars} characters", param=field
            )
