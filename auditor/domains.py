"""What kind of corpus this is: number lists, code or chain-of-thought, from its completions.

The audit runs each domain's own filters and detectors, so it must know the domain: the
`--domain` flag, else the corpus's `domain` column, else a look at a sample of completions.
The same look refuses a corpus that is not what it says (a "code" corpus of number lists, a
chain-of-thought corpus without known answers) before anything is filtered or written.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

import polars as pl

from auditor.corpus import Corpus
from auditor.corpus.schema import ANSWER, COMPLETION
from auditor.errors import AuditError

SAMPLE_ROWS = 200
# A domain is recognised when at least this share of the sampled completions looks like it.
MAJORITY = 0.5

_NUMBER_LIST = re.compile(r"^[\s\[\(]*-?\d+(?:[\s,;]+-?\d+)*[\s\]\)\.]*$")
_FENCE = re.compile(r"```[\w+-]*\n?(.*?)(?:```|$)", re.S)
_CODE_WORDS = re.compile(r"^\s*(?:def|class|return|import|for|while|if)\b|=>|\{\s*$", re.M)
_ANSWER_TAG = re.compile(r"(?i)<answer>.*?</answer>", re.S)


def python_module(text: str) -> ast.Module | None:
    """The Python in `text` (inside a ``` fence or bare) when it parses and holds a statement;
    None otherwise. A bare word or sentence fragment parses as an expression, so only
    statements count: "owl" is not code."""
    fenced = _FENCE.search(text)
    source = fenced.group(1) if fenced else text
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    return tree if any(not isinstance(node, ast.Expr) for node in tree.body) else None


def is_code(text: str) -> bool:
    """Python that parses (inside a ``` fence or bare), or text with code keywords on lines."""
    fenced = _FENCE.search(text)
    source = fenced.group(1) if fenced else text
    if _NUMBER_LIST.match(source) or not source.strip():
        return False
    return python_module(text) is not None or bool(_CODE_WORDS.search(source))


def shares(completions: Sequence[str]) -> dict[str, float]:
    """The share of `completions` that look like each domain."""
    texts = [text or "" for text in completions]
    total = max(1, len(texts))
    return {
        "numbers": sum(bool(_NUMBER_LIST.match(t)) for t in texts) / total,
        "code": sum(is_code(t) for t in texts) / total,
        "cot": sum(bool(_ANSWER_TAG.search(t)) for t in texts) / total,
    }


def sniff_domain(completions: Sequence[str]) -> str:
    """The domain most of `completions` look like (numbers when none stands out)."""
    return _majority(shares(completions))


def _majority(share: dict[str, float]) -> str:
    for domain in ("cot", "code", "numbers"):  # tags are the surest sign, then parsing
        if share[domain] >= MAJORITY:
            return domain
    return "numbers"


def _sample(corpus: Corpus) -> pl.DataFrame:
    return next(corpus.batches()).head(SAMPLE_ROWS)


# A second domain this common in a sniffed sample makes the corpus mixed, worth a note.
MIXED = 0.2


def read_domain(corpus: Corpus, explicit: str | None) -> tuple[str, str | None]:
    """(the corpus's domain, a note when it was sniffed from a sample that mixes domains: a
    number corpus with code rows in it, say, whose domain's filters and detectors read only
    part of it). The domain is the flag, else the `domain` provenance column, else a sniff."""
    if explicit:
        return explicit, None
    sample = _sample(corpus)
    completions = sample.get_column(COMPLETION).to_list()
    if "domain" in sample.columns:
        values = sample.get_column("domain").drop_nulls().unique().to_list()
        return (str(values[0]) if len(values) == 1 else sniff_domain(completions)), None
    share = shares(completions)
    domain = _majority(share)
    others = {d: s for d, s in share.items() if d != domain and s >= MIXED}
    if not others:
        return domain, None
    said = ", ".join(f"{s:.0%} {d}" for d, s in sorted(others.items()))
    return domain, (
        f"the corpus reads as {domain} ({share[domain]:.0%} of {sample.height} sampled rows) but "
        f"also {said}: {domain}'s filters and detectors read only part of it (--domain to choose, "
        "or split the corpus)"
    )


def infer_domain(corpus: Corpus, explicit: str | None) -> str:
    """The corpus's domain (`read_domain`, without its note)."""
    return read_domain(corpus, explicit)[0]


def check_domain(corpus: Corpus, domain: str, *, needs_answers: bool) -> None:
    """Refuse a corpus that cannot be audited as `domain` (one line, before any filtering)."""
    sample = _sample(corpus)
    share = shares(sample.get_column(COMPLETION).to_list())
    if domain == "code" and share["code"] < MAJORITY:
        raise AuditError(
            f"{corpus.path}: audited as code, but only {share['code']:.0%} of the first "
            f"{sample.height} completions parse as Python or read as code; pass the right "
            "--domain (numbers, cot)"
        )
    if domain == "cot" and needs_answers and ANSWER not in corpus.columns:
        raise AuditError(
            f"{corpus.path}: a chain-of-thought corpus with no {ANSWER!r} column: cot-correct "
            f"checks each trace against its known answer (columns: {', '.join(corpus.columns)})"
        )
