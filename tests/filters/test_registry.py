"""The registry: spec parsing, parameter conversion, clear errors, entry-point discovery."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest

import auditor.registry
from auditor.errors import AuditError
from filters import registry
from filters.banned_numbers import BannedNumbers
from filters.base import RuleFilter
from filters.numbers_format import NumbersFormat
from filters.regex import RegexFilter
from filters.registry import available_filters, create_filter, parse_spec
from filters.trait_words import TraitWords


def test_builtin_rule_filters_are_registered() -> None:
    assert {"numbers-format", "banned-numbers", "trait-words", "regex"} <= set(available_filters())


@pytest.mark.parametrize(
    ("spec", "name", "params"),
    [
        ("numbers-format", "numbers-format", {}),
        ("numbers-format:", "numbers-format", {}),
        ("numbers-format:max_count=8", "numbers-format", {"max_count": "8"}),
        (" regex : pattern = a{1,3} , mode=keep", "regex", {"pattern": "a{1,3}", "mode": "keep"}),
        ("regex:pattern=[0-9]{2,}", "regex", {"pattern": "[0-9]{2,}"}),
        ("numbers-format:max-count=3", "numbers-format", {"max_count": "3"}),
    ],
)
def test_spec_parsing_keeps_commas_inside_values(spec: str, name: str, params: dict) -> None:
    assert parse_spec(spec) == (name, params)


def test_values_are_converted_to_the_field_types() -> None:
    numbers = create_filter("numbers-format:max_count=8,min_value=100,strip=false")
    assert numbers == NumbersFormat(max_count=8, min_value=100, strip=False)
    banned = create_filter("banned-numbers:numbers=7|13,builtin=no")
    assert banned == BannedNumbers(numbers=(7, 13), builtin=False)
    assert create_filter("regex:patterns=a|b{1,2}") == RegexFilter(patterns=("a", "b{1,2}"))


def test_mappings_and_context_fill_unset_parameters() -> None:
    assert create_filter({"name": "trait-words"}, trait="owl") == TraitWords(trait="owl")
    assert create_filter("trait-words:trait=lion", trait="owl") == TraitWords(trait="lion")
    # context only fills parameters the filter has
    assert create_filter("numbers-format", trait="owl") == NumbersFormat()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-such-filter", "unknown filter 'no-such-filter'; available: .*numbers-format"),
        ("numbers-format:colour=red", "unknown parameter.*colour; parameters: max_count"),
        ("numbers-format:max_count=ten", "'ten' is not a valid int"),
        ("numbers-format:strip=perhaps", "'perhaps' is not a valid bool"),
        ("numbers-format:max_count", "expected key=value"),
        ("numbers-format:max_count=0", "max_count must be at least 1"),
        ("regex:pattern=(a", "invalid regex"),
        ("trait-words", "name a trait"),
    ],
)
def test_bad_specs_raise_one_clear_audit_error(spec: str, message: str) -> None:
    with pytest.raises(AuditError, match=message):
        create_filter(spec)


def test_third_party_filters_are_discovered_through_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real (if tiny) installed distribution: a module and a dist-info with entry_points.txt.
    (tmp_path / "fake_audit_plugin.py").write_text(
        textwrap.dedent(
            """
            from dataclasses import dataclass
            from typing import ClassVar
            import polars as pl
            from filters.base import RuleFilter

            @dataclass(frozen=True)
            class ShortFilter(RuleFilter):
                name: ClassVar[str] = "too-short"
                min_chars: int = 3

                def expression(self):
                    short = pl.col("completion").str.len_chars() < self.min_chars
                    return pl.when(short).then(pl.lit("too short"))
            """
        )
    )
    dist_info = tmp_path / "fake_audit_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-audit-plugin\n")
    (dist_info / "entry_points.txt").write_text(
        "[subliminal_audit.filters]\n"
        "too-short = fake_audit_plugin:ShortFilter\n"
        "numbers-format = fake_audit_plugin:ShortFilter\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    # as in a fresh process: nothing loaded yet
    monkeypatch.setattr(registry.FILTERS, "_classes", dict(registry.FILTERS._classes))
    monkeypatch.setattr(registry.FILTERS, "_loaded", False)

    assert "too-short" in available_filters()
    plugin = create_filter("too-short:min_chars=5")
    assert plugin.min_chars == 5 and plugin.name == "too-short"
    # A plugin cannot shadow a built-in of the same name.
    assert available_filters()["numbers-format"] is NumbersFormat


def test_a_second_filter_under_a_taken_name_is_refused() -> None:
    with pytest.raises(TypeError, match="filter name 'regex' is already taken"):

        @registry.register
        @dataclass(frozen=True)
        class Impostor(RuleFilter):
            name: ClassVar[str] = "regex"

            def expression(self) -> pl.Expr:
                return pl.lit(None)

    assert available_filters()["regex"] is RegexFilter


def test_entry_points_are_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    scans: list[str] = []

    def entry_points(group: str) -> list:
        scans.append(group)
        return []

    monkeypatch.setattr(auditor.registry, "entry_points", entry_points)
    monkeypatch.setattr(registry.FILTERS, "_loaded", False)
    available_filters()
    create_filter("numbers-format")
    available_filters()
    assert scans == ["subliminal_audit.filters"]
