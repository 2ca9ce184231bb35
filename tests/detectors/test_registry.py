"""Registry: built-ins by name, plugins via entry points, clear errors, run_detectors routing."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

import auditor.registry
import detectors.registry as registry
from auditor.errors import AuditError
from detectors import (
    Detector,
    available_detectors,
    create_detector,
    default_detectors,
    register,
    run_detectors,
)


def test_builtins_are_registered() -> None:
    names = set(available_detectors())
    assert {"number-frequency", "format-features", "classifier"} <= names
    assert {"log-likelihood-shift", "token-entanglement"} <= names


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(AuditError, match=r"available: .*number-frequency"):
        create_detector("no-such-detector")


def test_bad_parameter_is_an_audit_error() -> None:
    with pytest.raises(AuditError, match="bad parameters"):
        create_detector("number-frequency", colour="blue")


def test_duplicate_name_is_refused() -> None:
    with pytest.raises(TypeError, match="already taken"):

        @register
        class Impostor(Detector):
            name = "number-frequency"

            def fit(self, reference):
                return self

            def test(self, suspect):
                raise NotImplementedError


def test_entry_point_plugins_are_discovered(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = EntryPoint(
        name="plugin-frequency",
        value="detectors.number_frequency:NumberFrequency",
        group=registry.ENTRY_POINT_GROUP,
    )
    monkeypatch.setattr(auditor.registry, "entry_points", lambda group: [plugin])
    monkeypatch.setattr(registry.DETECTORS, "_loaded", False)
    monkeypatch.setattr(registry.DETECTORS, "_classes", dict(registry.DETECTORS._classes))
    assert "plugin-frequency" in available_detectors()


def test_default_detectors_skip_what_cannot_run(fake_model) -> None:
    assert "log-likelihood-shift" not in default_detectors()
    assert "log-likelihood-shift" in default_detectors(model=fake_model)
    assert "token-entanglement" not in default_detectors(model=fake_model)
    assert "token-entanglement" in default_detectors(model=fake_model, trait="owl")


def test_run_detectors_routes_shared_params(reference, shifted_suspect) -> None:
    results = run_detectors(
        shifted_suspect,
        reference,
        ["number-frequency", "format-features"],
        n_permutations=19,
        seed=4,
        trait="owl",  # trait is not a parameter of these two: it is simply not passed
    )
    assert [r.name for r in results] == ["number-frequency", "format-features"]
    assert all(r.n_permutations == 19 and r.seed == 4 for r in results)
