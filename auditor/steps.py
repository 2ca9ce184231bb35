"""How far a long loop has got, reported to whoever is listening, without passing a callback
through every layer in between.

A loop deep inside (a training run, a detector's permutations) calls `report(done, total)`;
the caller that shows progress wraps the work in `listening(update)`. Nobody listening costs
one context-variable read. Depends on nothing, so filters and detectors may use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

StepListener = Callable[[int, int], None]

_listener: ContextVar[StepListener | None] = ContextVar("step_listener", default=None)


def report(done: int, total: int) -> None:
    """Tell the listener, if any, that `done` of `total` steps are finished."""
    listener = _listener.get()
    if listener is not None:
        listener(done, total)


@contextmanager
def listening(listener: StepListener) -> Iterator[None]:
    """Send every `report` made inside the block to `listener`."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)
