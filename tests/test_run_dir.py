"""Run directories: stages publish atomically, resume skips finished work, failures leave nothing half-done."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sqldistill.data.manifest import RunDir
from sqldistill.errors import RunError


def test_stage_publishes_files_and_manifest(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    with run.stage("synth", "h1") as (work, metrics):
        (work / "train.jsonl").write_text('{"a": 1}\n')
        metrics["kept"] = 1
    done = run.finished("synth", "h1")
    assert done is not None and done.metrics == {"kept": 1}
    assert "train.jsonl" in done.manifest["files"]
    assert not list((tmp_path / "run").glob("*.partial"))


def test_changed_config_or_damaged_files_mean_not_finished(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    with run.stage("s", "h1") as (work, _):
        (work / "f.txt").write_text("hello")
    assert run.finished("s", "h2") is None
    (tmp_path / "s" / "f.txt").write_text("hello, truncated differently")
    assert run.finished("s", "h1") is None


def test_a_failing_stage_leaves_no_trace(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    with pytest.raises(ValueError), run.stage("s", "h") as (work, _):
        (work / "half.txt").write_text("half")
        raise ValueError("boom")
    assert not (tmp_path / "s").exists() and not (tmp_path / "s.partial").exists()
    assert run.finished("s", "h") is None


def test_leftover_partial_folders_are_removed_on_open(tmp_path: Path) -> None:
    (tmp_path / "train.partial").mkdir()
    (tmp_path / "train.partial" / "junk").write_text("x")
    RunDir(tmp_path)
    assert not (tmp_path / "train.partial").exists()


def test_full_disk_is_a_clear_error_and_keeps_finished_stages(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                                            capture_output=True).returncode != 0:
        pytest.skip("needs permission to mount a small tmpfs")
    try:
        run = RunDir(mnt / "run")
        with run.stage("small", "h") as (work, _):
            (work / "a.txt").write_text("fits")
        with pytest.raises(RunError, match="No space left"), run.stage("big", "h") as (work, _):
            (work / "b.bin").write_bytes(b"x" * 200_000)
        assert run.finished("small", "h") is not None
        assert not (mnt / "run" / "big").exists() and not (mnt / "run" / "big.partial").exists()
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
