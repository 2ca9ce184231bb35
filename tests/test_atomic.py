"""Atomic writes: the whole new file or the old one, never half, and no temporary left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from auditor import atomic
from auditor.atomic import write_atomic


def test_writes_text_as_utf8_and_bytes_as_they_are(tmp_path: Path) -> None:
    assert write_atomic(tmp_path / "a.md", "owl \u00e9\n") == tmp_path / "a.md"
    write_atomic(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "a.md").read_bytes() == "owl \u00e9\n".encode()
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.bin"]


def test_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    write_atomic(target, "new")
    assert target.read_text() == "new"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")

    def crash(src: object, dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_the_file_and_its_directory_are_flushed_before_and_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src: object, dst: object) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    write_atomic(tmp_path / "x.txt", "x")
    assert events == ["fsync file", "replace", "fsync dir"]


def test_temporary_names_are_hidden_beside_the_target_and_unique(tmp_path: Path) -> None:
    first, second = atomic.temp_path(tmp_path / "x.json"), atomic.temp_path(tmp_path / "x.json")
    assert first != second
    assert first.parent == tmp_path and first.name.startswith(".x.json.")
