"""The exit codes every `audit` command returns (documented in the README and `audit --help`)."""

from __future__ import annotations

from auditor.verdict import FAIL, INCONCLUSIVE, PASS

EXIT_PASS = 0  # the audit passed (or the command succeeded)
EXIT_FAIL = 1  # the verdict failed a threshold
EXIT_USAGE = 2  # a usage or input error: one line on stderr
EXIT_INCONCLUSIVE = 3  # nothing tested the corpus for a hidden trait: see the next steps

_BY_OUTCOME = {PASS: EXIT_PASS, FAIL: EXIT_FAIL, INCONCLUSIVE: EXIT_INCONCLUSIVE}

HELP = (
    "exit codes: 0 pass, 1 the verdict failed, 2 usage or input error, "
    "3 inconclusive (only filters ran: add --reference, --base-model or --student, "
    "or pass --filters-only)"
)


def for_verdict(outcome: str) -> int:
    """The exit code of a verdict outcome (pass, fail, inconclusive)."""
    return _BY_OUTCOME[outcome]
