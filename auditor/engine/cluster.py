"""Connect to Ray: the cluster at `RAY_ADDRESS` when set, else a Ray started on this machine.

Importing Ray happens here and only here, so a missing extra is one clear message, and an
address that does not answer fails in seconds with its name instead of hanging in Ray's own
connection retries.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from auditor.engine import EngineInfo
from auditor.errors import AuditError

EXTRA_HINT = "pip install 'subliminal-audit[ray]'"
CONNECT_TIMEOUT_S = 5.0


def import_ray() -> Any:
    """The `ray` module, or one error naming the extra to install."""
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise AuditError(
            f"--engine ray needs the ray extra, which is not installed ({error}): {EXTRA_HINT}"
        ) from None
    return ray


def ensure_ray() -> Any:
    """Ray, connected: reuse a running connection, else `RAY_ADDRESS`, else start one here."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    address = os.environ.get("RAY_ADDRESS", "").strip()
    if address and address not in {"auto", "local"}:
        _check_reachable(address)
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"RAY_ADDRESS={address}" if address else "a local Ray"
        raise AuditError(f"--engine ray: cannot start or reach {where}: {error}") from None
    return ray


def _check_reachable(address: str) -> None:
    """Fail fast, naming the address, when nothing listens at `RAY_ADDRESS`."""
    target = address.removeprefix("ray://").split("/", 1)[0]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise AuditError(
            f"RAY_ADDRESS={address!r} is not an address: expected HOST:PORT or ray://HOST:PORT"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        raise AuditError(
            f"--engine ray: the Ray cluster at RAY_ADDRESS={address} does not answer "
            f"({error}); start it (`ray start --head`) or unset RAY_ADDRESS to run a local Ray"
        ) from None


def cluster_info(ray: Any, **details: Any) -> EngineInfo:
    """The engine record for reports: workers are the cluster's CPU slots."""
    resources = ray.cluster_resources()
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    return EngineInfo(
        name="ray",
        workers=int(resources.get("CPU", 0)),
        details={
            "nodes": len(nodes),
            "gpus": int(resources.get("GPU", 0)),
            "address": os.environ.get("RAY_ADDRESS") or "local",
            "ray_version": ray.__version__,
            **details,
        },
    )
