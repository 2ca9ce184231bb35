"""Open any model from a spec string: `lab:NAME`, `hf:PATH` or `openai:MODEL`.

`openai:` with no name takes the model from `AUDIT_MODEL`.
One entry point so every command takes `--teacher`/`--student` the same way and nothing
downstream imports a backend module. Backends import lazily: opening a lab model never loads
the openai client, and the transformers stack loads only for `hf:`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.errors import AuditError
from auditor.models import ModelBackend
from auditor.usage import Budget

SCHEMES = ("lab", "hf", "openai")


@dataclass(frozen=True)
class BackendOptions:
    """Settings a spec string can't carry: device for `hf:`, server and key for `openai:`."""

    device: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    state_dir: str | None = None
    concurrency: int = 8
    questions: str | None = None
    prices: dict = field(default_factory=dict)
    budget: Budget | None = None  # None: from the environment (`Budget.from_env`)


def parse_spec(spec: str) -> tuple[str, str]:
    """Split `scheme:rest`, refusing unknown schemes and empty names."""
    scheme, sep, rest = spec.partition(":")
    if not sep or scheme not in SCHEMES:
        raise AuditError(
            f"model spec {spec!r}: expected lab:NAME, hf:PATH or openai:MODEL "
            f"(known schemes: {', '.join(SCHEMES)})"
        )
    if not rest.strip() and scheme != "openai":  # `openai:` alone means $AUDIT_MODEL
        raise AuditError(f"model spec {spec!r}: the name after '{scheme}:' is empty")
    return scheme, rest.strip()


def open_model(spec: str, options: BackendOptions | None = None) -> ModelBackend:
    """The model a spec names; `AuditError` for unknown schemes and non-local `hf:` names."""
    options = options or BackendOptions()
    scheme, name = parse_spec(spec)
    if scheme == "lab":
        try:
            from auditor.backends.lab import open_lab_model
        except ImportError as error:
            raise AuditError(f"{spec}: the lab backend is not available ({error})") from None
        return open_lab_model(name)
    if scheme == "hf":
        from auditor.backends.hf import HFOptions, open_hf_model

        return open_hf_model(name, HFOptions(device=options.device))
    from auditor.backends.openai_api import OpenAIOptions, open_openai_model

    return open_openai_model(
        name or None,
        OpenAIOptions.from_env(
            base_url=options.base_url,
            api_key=options.api_key,
            state_dir=options.state_dir,
            concurrency=options.concurrency,
            questions=options.questions,
            prices=options.prices,
            budget=options.budget,
        ),
    )


__all__ = ["SCHEMES", "BackendOptions", "open_model", "parse_spec"]
