"""Hardening (issue 14): the output-folder rule, the lock, stale staging, YAML input checks."""

from __future__ import annotations

import json
import os

import pytest

from planning.config import _read_yaml
from planning.errors import ConfigError
from planning.report import MARKER, check_out_dir, output_lock, write_staged


def _write(names):
    def write(folder):
        for name in names:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(name)

    return write


def test_previous_output_is_replaced_whole(tmp_path):
    out = tmp_path / "out"
    write_staged(out, _write(["hubs.csv", "teams.csv", "sub/areas.csv"]))
    assert json.loads((out / MARKER).read_text())["files"] == [
        "hubs.csv",
        "sub/areas.csv",
        "teams.csv",
    ]
    write_staged(out, _write(["teams.csv"]))
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "teams.csv"]  # no stale hubs.csv
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging, lock or old folder


def test_foreign_folder_and_user_files_are_refused(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a previous planning output"):
        write_staged(out, _write(["teams.csv"]))
    assert (out / "notes.txt").read_text() == "keep me"
    run = tmp_path / "run"
    write_staged(run, _write(["teams.csv", "a/areas.csv"]))
    (run / "a" / "notes.txt").write_text("mine")  # inside a per-scenario subfolder
    with pytest.raises(ConfigError, match=r"a/notes\.txt"):
        write_staged(run, _write(["teams.csv"]))
    assert (run / "a" / "notes.txt").read_text() == "mine"
    with pytest.raises(ConfigError, match="empty path"):
        check_out_dir("")


def test_lock_refuses_a_live_writer_and_takes_over_a_dead_one(tmp_path):
    out = tmp_path / "out"
    lock = tmp_path / ".out.lock"
    lock.write_text("1\n")  # pid 1 is always alive
    with pytest.raises(ConfigError, match="another planning run"):
        write_staged(out, _write(["teams.csv"]))
    lock.write_text("999999999\n")  # no such process
    stale = tmp_path / ".out-staging-999999999-abc"
    stale.mkdir()
    write_staged(out, _write(["teams.csv"]))
    assert not lock.exists() and not stale.exists()
    with output_lock(out):
        assert lock.read_text().strip() == str(os.getpid())


def test_yaml_duplicate_keys_and_latin1(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("teams:\n  min_population: 1\nteams:\n  max_population: 2\n")
    with pytest.raises(ConfigError, match="'teams' is given twice"):
        _read_yaml(dup)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: Caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        _read_yaml(latin)


@pytest.mark.slow
def test_sigterm_mid_solve_exits_143_with_no_children_or_staging(tmp_path, data_dir):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "hampshire.yaml"
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "planning", "run", str(scenario), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--data-dir", str(data_dir)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    time.sleep(15)  # into the allocation stage, with its worker processes running
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    assert children, "no worker processes to stop"
    proc.send_signal(signal.SIGTERM)
    start = time.monotonic()
    err = proc.communicate(timeout=30)[1].decode()
    assert proc.returncode == 143, err
    assert time.monotonic() - start < 10
    assert "Traceback" not in err and "SIGTERM" in err
    time.sleep(0.5)
    assert not [c for c in children if Path(f"/proc/{c}").exists()]
    assert list(tmp_path.iterdir()) == []  # no output, staging folder or lock
