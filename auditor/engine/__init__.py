"""Where the work runs: here (`local`, the default) or on a Ray cluster (`ray`).

The local engine is plain Python in this process and never imports Ray; `ray` is an optional
extra (`pip install 'subliminal-audit[ray]'`), imported only when a run asks for it. The Ray
modules of this package (`cluster`, `ray_filtering`, `judge_limit`, `tasks`) import it at the
top, so importing them is what asking for Ray means; `blocks` (where a corpus is cut) does not.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from auditor.errors import AuditError

ENGINES = ("local", "ray")
ENV_ENGINE = "AUDIT_ENGINE"


@dataclass(frozen=True)
class EngineInfo:
    """Which engine ran a pass, for the JSON report: `{"name": "ray", "workers": 2, ...}`."""

    name: str = "local"
    workers: int = 1
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {"name": out["name"], "workers": out["workers"], **out["details"]}


LOCAL = EngineInfo()


def engine_name(value: str | None) -> str:
    """The engine asked for (a flag, else `AUDIT_ENGINE`, else local), checked."""
    name = (value or os.environ.get(ENV_ENGINE) or "local").strip().lower()
    if name not in ENGINES:
        raise AuditError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")
    return name
