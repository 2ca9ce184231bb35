"""A benchmark pointed at a missing data folder stops with an error and leaves the committed
results alone, instead of overwriting them with an empty table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks import detector_leaderboard, realdata_filters, realdata_separability


@pytest.mark.parametrize(
    "main",
    [realdata_filters.main, realdata_separability.main, detector_leaderboard.main],
    ids=["realdata_filters", "realdata_separability", "detector_leaderboard"],
)
def test_missing_data_folder_is_an_error_and_results_stay(
    main: Callable[[list[str]], object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    out.mkdir()
    committed = out / "committed.md"
    committed.write_text("| the measured table |\n")
    with pytest.raises(SystemExit) as stop:
        main(["--realdata", str(tmp_path / "no-such-folder"), "--out", str(out)])
    assert stop.value.code == 2
    assert "no-such-folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["committed.md"]
    assert committed.read_text() == "| the measured table |\n"
