"""Model-based detectors against the fake scoring model (and a clear error without one)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from auditor.errors import AuditError
from detectors import run_detectors
from detectors.log_likelihood_shift import LogLikelihoodShift
from detectors.token_entanglement import TokenEntanglement
from tests.detectors.conftest import FAVOURED, number_corpus


def test_entangled_numbers_are_the_ones_the_trait_makes_likely(fake_model, reference) -> None:
    detector = TokenEntanglement(model=fake_model, trait="owl", top_k=10).fit(reference)
    # Under the fake model the trait lifts every '7', the more 7s the more.
    lifts = detector.lift(np.array([777, 707, 17, 123]))
    assert lifts[0] > lifts[1] > lifts[2] > lifts[3]
    entangled = detector.test(reference).details["entangled_numbers"]
    assert len(entangled) == 10 and all("7" in str(v) for v in entangled)


def test_entangled_numbers_are_chosen_without_looking_at_the_labels(fake_model) -> None:
    # 777 is the most lifted number; the reference never writes it, the suspect often does.
    # Choosing among the reference's own numbers would miss it (and favour the reference).
    reference = number_corpus(300, seed=5).with_columns(
        pl.col("completion").str.replace_all(r"\b777\b", "778")
    )
    suspect = number_corpus(300, seed=6).with_columns(
        pl.col("completion").str.replace(r"^\d+", "777")
    )
    result = TokenEntanglement(model=fake_model, trait="owl", n_permutations=99).fit(reference)
    outcome = result.test(suspect)
    assert 777 in outcome.details["entangled_numbers"] and outcome.p_value <= 0.02


def test_token_entanglement_leaves_its_probe_rows_out(fake_model, reference, null_suspect):
    detector = TokenEntanglement(model=fake_model, trait="owl", n_probe_prompts=4).fit(reference)
    assert detector.reference_counts_.shape[0] == reference.height - 4
    with pytest.raises(AuditError, match="more than n_probe_prompts"):
        TokenEntanglement(model=fake_model, trait="owl").fit(reference.head(4))


def test_token_entanglement_is_one_sided(fake_model, reference, shifted_suspect) -> None:
    detector = TokenEntanglement(model=fake_model, trait="owl", n_permutations=99)
    reversed_result = detector.fit(shifted_suspect).test(reference)
    assert reversed_result.p_value > 0.5  # the suspect uses the numbers LESS: not evidence


def test_log_likelihood_shift_with_trait_is_one_sided(fake_model, reference, shifted_suspect):
    result = (
        LogLikelihoodShift(model=fake_model, trait="owl", n_permutations=99)
        .fit(reference)
        .test(shifted_suspect)
    )
    assert result.p_value <= 0.02 and result.details["two_sided"] is False
    assert all(set(FAVOURED) & set(map(int, e["completion"].split(", "))) for e in result.evidence)


def test_model_based_detectors_need_a_model(reference) -> None:
    with pytest.raises(AuditError, match="needs a model"):
        LogLikelihoodShift().fit(reference)
    with pytest.raises(AuditError, match="needs a model"):
        run_detectors(reference, reference, ["token-entanglement"], trait="owl")


def test_token_entanglement_needs_a_trait(fake_model, reference) -> None:
    with pytest.raises(AuditError, match="trait"):
        TokenEntanglement(model=fake_model).fit(reference)


def test_log_likelihood_shift_without_trait_is_two_sided(fake_model, reference, shifted_suspect):
    forward = LogLikelihoodShift(model=fake_model, n_permutations=99).fit(reference)
    backward = LogLikelihoodShift(model=fake_model, n_permutations=99).fit(shifted_suspect)
    assert forward.test(shifted_suspect).p_value <= 0.02
    assert backward.test(reference).p_value <= 0.02  # a shift either way counts
    assert forward.test(shifted_suspect).effect_size > 0 > backward.test(reference).effect_size


def test_a_backend_may_condition_on_the_trait_its_own_way(reference, shifted_suspect) -> None:
    from tests.detectors.conftest import FakeModel

    class OwnPrefix(FakeModel):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def condition(self, prompts, trait):
            self.seen.append(trait)
            return [f"<{trait.upper()}> {p}" for p in prompts]

    model = OwnPrefix()  # FakeModel lifts 7s when "owl" is in the prompt: "<OWL>" counts
    result = TokenEntanglement(model=model, trait="owl", n_permutations=99).fit(reference)
    assert model.seen == ["owl"]
    assert result.test(shifted_suspect).p_value <= 0.02
