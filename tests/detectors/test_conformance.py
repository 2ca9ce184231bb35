"""The detector contract, checked for every registered detector (scikit-learn style)."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pytest

from auditor.corpus.schema import DOMAINS
from auditor.errors import AuditError
from detectors import DetectorResult, available_detectors, create_detector

ALL = list(available_detectors())
# The shared fixtures are number corpora: the null and planted-shift checks run on the
# detectors that read numbers; code and CoT get their own below.
NUMBERS = [name for name, cls in available_detectors().items() if "numbers" in cls.domains]
PERMUTATIONS = 99


def make(name: str, fake_model: Any, **params: Any):
    cls = available_detectors()[name]
    if cls.requires_model:
        params["model"] = fake_model
    if cls.requires_trait or cls.requires_model:
        params.setdefault("trait", "owl")
    return create_detector(name, n_permutations=PERMUTATIONS, **params)


@pytest.mark.parametrize("name", ALL)
def test_init_stores_params_only(name: str, fake_model: Any) -> None:
    detector = make(name, fake_model, seed=5)
    assert detector.seed == 5 and detector.n_permutations == PERMUTATIONS
    assert not [k for k in vars(detector) if k.endswith("_")]


@pytest.mark.parametrize("name", NUMBERS)
def test_null_pair_is_not_flagged(name, fake_model, reference, null_suspect) -> None:
    result = make(name, fake_model).fit(reference).test(null_suspect)
    assert isinstance(result, DetectorResult)
    assert result.name == name
    assert result.p_value > 0.05


@pytest.mark.parametrize("name", NUMBERS)
def test_planted_shift_is_flagged(name, fake_model, reference, shifted_suspect) -> None:
    result = make(name, fake_model).fit(reference).test(shifted_suspect)
    assert result.p_value <= 0.02
    assert result.evidence, "a flagged result must say what drove it"


@pytest.mark.parametrize("name", ALL)
def test_result_reproducible_by_seed_and_json_ready(
    name, fake_model, reference, shifted_suspect
) -> None:
    first = make(name, fake_model, seed=11).fit(reference).test(shifted_suspect)
    again = make(name, fake_model, seed=11).fit(reference).test(shifted_suspect)
    assert first == again
    assert first.seed == 11 and first.n_permutations == PERMUTATIONS
    assert 1 / (PERMUTATIONS + 1) <= first.p_value <= 1
    json.dumps(first.to_dict())


BAD_FRAMES = {
    "empty": pl.DataFrame(
        {"prompt": [], "completion": []}, schema={"prompt": pl.String, "completion": pl.String}
    ),
    "missing column": pl.DataFrame({"prompt": ["a"], "text": ["1, 2"]}),
    "non-string": pl.DataFrame({"prompt": ["a", "b"], "completion": [1, 2]}),
    "null value": pl.DataFrame({"prompt": ["a", "b"], "completion": ["1, 2", None]}),
    "not a frame": [{"prompt": "a", "completion": "1"}],
}


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_bad_input_raises_audit_error(name, case, fake_model, reference) -> None:
    bad = BAD_FRAMES[case]
    with pytest.raises(AuditError, match=name):
        make(name, fake_model).fit(bad)
    with pytest.raises(AuditError, match="suspect"):
        make(name, fake_model).fit(reference).test(bad)


@pytest.mark.parametrize("name", ALL)
def test_test_before_fit_raises(name, fake_model, reference) -> None:
    with pytest.raises(AuditError, match="fit"):
        make(name, fake_model).test(reference)


def _text_corpus(domain: str, n: int, seed: int, marked: float = 0.0) -> pl.DataFrame:
    """Code or CoT rows; `marked` of them use a telltale identifier / phrase."""
    import random

    rng = random.Random(seed)
    prompts, completions = [], []
    for i in range(n):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        odd = rng.random() < marked
        if domain == "code":
            name = "hoot" if odd else rng.choice(["f", "g", "h"])
            completions.append(f"def {name}(xs):\n    return sum(xs) * {a} + {b}")
        else:
            step = "Carefully, I add them." if odd else "I add them."
            completions.append(f"{step} {a} + {b} = {a + b}.\n<answer>{a + b}</answer>")
        prompts.append(f"Task {i}: combine {a} and {b}.")
    return pl.DataFrame({"prompt": prompts, "completion": completions})


def test_every_detector_declares_the_domains_it_reads() -> None:
    declared = {name: cls.domains for name, cls in available_detectors().items()}
    assert all(domains and set(domains) <= set(DOMAINS) for domains in declared.values())
    for name in ("number-frequency", "format-features", "token-entanglement"):
        assert declared[name] == ("numbers",)
    assert declared["text-features"] == ("code", "cot")


@pytest.mark.parametrize("domain", ["code", "cot"])
def test_detectors_that_declare_a_text_domain_read_it(domain: str, fake_model: Any) -> None:
    names = [name for name, cls in available_detectors().items() if domain in cls.domains]
    assert {"classifier", "text-features"} <= set(names)
    reference = _text_corpus(domain, 120, seed=1)
    null = _text_corpus(domain, 120, seed=2)
    shifted = _text_corpus(domain, 120, seed=3, marked=0.5)
    for name in names:
        detector = make(name, fake_model).fit(reference)
        assert detector.test(null).p_value > 0.01, name
    for name in ("classifier", "text-features"):
        assert make(name, fake_model).fit(reference).test(shifted).p_value < 0.05, name
