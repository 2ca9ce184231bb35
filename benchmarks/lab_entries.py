"""What each row of the lab leaderboard runs: a detector and, if it needs one, how the lab base
model is wired to it.

Model-free detectors run as themselves. Model-based ones run on the lab base as
`audit detect --base-model lab:base --trait T` opens it ("as-wired"): `LabModel.condition` gives
them the lab's own trait prefix ("You love the owl. ..."). Row scores are cached (`ScoreCache`):
the leaderboard tests each corpus row in many pairs, and the lab scores one row per forward
pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from detectors import available_detectors


class ScoreCache:
    """A model backend whose `score` remembers every (prompt, completion) it has scored: the
    leaderboard tests each row in many pairs, and the lab scores one row per forward pass."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name = model.name
        self._scores: dict[tuple[str, str], float] = {}

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        keys = list(zip(prompts, completions, strict=True))
        missing = [k for k in dict.fromkeys(keys) if k not in self._scores]
        if missing:
            values = self.model.score([p for p, _ in missing], [c for _, c in missing])
            self._scores.update(zip(missing, values, strict=True))
        return [self._scores[k] for k in keys]

    def __getattr__(self, name: str) -> Any:
        # Everything else (e.g. a backend's own `condition`) is the wrapped model's.
        if name == "model":  # not yet set (e.g. while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.model, name)


@dataclass(frozen=True)
class Entry:
    """A leaderboard row: a registered detector and, for a model-based one, how it is wired.

    `model`: "as-wired" is the lab base exactly as `audit detect --base-model lab:base` opens
    it (the only wiring; the field leaves room for others). `trait`: whether
    the pair's trait is passed. `max_size`: the largest N it runs at (log-likelihood-shift
    scores every row with a forward pass per row: ~120k rows x 3 prompts at N = 10k).
    """

    label: str
    detector: str
    model: str | None = None
    trait: bool = False
    max_size: int | None = None


MODEL_ENTRIES = (
    Entry("log-likelihood-shift", "log-likelihood-shift", "as-wired", True, 1000),
    Entry("log-likelihood-shift, no trait", "log-likelihood-shift", "as-wired", False, 1000),
    Entry("token-entanglement", "token-entanglement", "as-wired", True),
)


def default_entries(detectors: Sequence[str] | None = None, domain: str = "numbers") -> list[Entry]:
    """Every model-free detector as itself, then the model-based wirings (`MODEL_ENTRIES`),
    of the detectors that read `domain`; `detectors` keeps only entries of those names."""
    reads = {n for n, c in available_detectors().items() if domain in c.domains}
    free = [Entry(n, n) for n, c in available_detectors().items() if not c.requires_model]
    known = {e.detector for e in MODEL_ENTRIES}
    extra = [
        Entry(n, n, "as-wired", c.requires_trait)
        for n, c in available_detectors().items()
        if c.requires_model and n not in known
    ]
    entries = [*free, *MODEL_ENTRIES, *extra]
    entries = [e for e in entries if e.detector in reads]
    return [e for e in entries if detectors is None or e.detector in detectors]
