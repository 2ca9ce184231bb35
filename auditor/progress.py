"""Progress bars for long work, on stderr so `--json` stdout stays clean.

`make_progress` is a bar for row counts (filtering). `Phases` shows a run's phases one after
another, each under its own label, with a bar of steps and a time estimate fed by whatever loop
inside reports them (`auditor.steps`: training steps, permutations, rows generated); when a phase
ends its label is printed with its time, so no work ever runs under another phase's label.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from auditor import steps

stderr_console = Console(stderr=True, highlight=False)


def make_progress(disable: bool = False) -> Progress:
    """A rich progress display for row counts; `disable` silences it (e.g. under --quiet)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console,
        transient=True,
        disable=disable,
    )


class Phases:
    """One display for a run's phases; `with phases.phase(label) as say:` runs one."""

    def __init__(self, disable: bool = False) -> None:
        self.disable = disable
        self._progress = make_progress(disable)

    def __enter__(self) -> Phases:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._progress.stop()

    @contextmanager
    def phase(self, label: str) -> Iterator[Callable[[str], None]]:
        """Run one phase under `label`; the block may call `say(detail)` to name its current
        step (the bar restarts for it), and reported steps fill the bar."""
        task = self._progress.add_task(label, total=None)
        started = time.perf_counter()

        def update(done: int, total: int) -> None:
            self._progress.update(task, completed=done, total=total)

        def say(detail: str) -> None:
            self._progress.reset(task, total=None, description=f"{label}: {detail}")

        with steps.listening(update):
            try:
                yield say
            finally:
                self._progress.remove_task(task)
        if not self.disable:
            seconds = time.perf_counter() - started
            stderr_console.print(f"[dim]{label}: {seconds:.1f} s[/]")
