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


# --------------------------------------------------------------------------- scenario values


def _problems(tmp_path, text: str) -> str:
    from planning.config import load_scenario

    path = tmp_path / "s.yaml"
    path.write_text("name: s\ncouncils: [E08000014]\n" + text)
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    return str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "teams:\n  min_population: true\n",
            "teams.min_population: Value error, must be a number, not true",
        ),
        ("teams:\n  max_population: 50k\n", "not the text '50k'"),
        ("teams:\n  max_population: '1,000'\n", "not the text '1,000'"),
        (
            "teams:\n  max_population: 1.0e+308\n",
            "teams.max_population: Input should be less than or equal to 10000000",
        ),
        (
            "costs:\n  salary_gbp:\n    social_worker: .inf\n",
            "costs.salary_gbp.social_worker: Input should be a finite number",
        ),
        ("costs:\n  salary_gbp:\n    social_worker: 1.0e+308\n", "less than or equal to 1000000"),
        ("costs:\n  budget_gbp: .nan\n", "costs.budget_gbp: Input should be a finite number"),
        ("solver:\n  processes: false\n", "solver.processes: Value error, must be a number"),
        (
            "geography:\n  links:\n    - {from_area: E01006512, to_area: E01006512, name: Loop}\n",
            "link 'Loop' joins E01006512 to itself",
        ),
        (
            "teams:\n  nesting: groupings\n  groupings:\n"
            "    - {name: All, districts: [E08000014, E08000014], min_teams: 5, max_teams: 3}\n",
            "grouping 'All': min_teams (5) is greater than max_teams (3)",
        ),
        (
            "teams:\n  nesting: groupings\n  groupings:\n"
            "    - {name: All, districts: [E08000014, E08000014]}\n",
            "grouping 'All' lists E08000014 twice",
        ),
        (
            "teams:\n  min_population: 50000\n  max_population: 40000\n",
            "min_population (50,000) must be below max_population (40,000)",
        ),
    ],
)
def test_scenario_values_are_checked_naming_the_field(tmp_path, text, expected):
    assert expected in _problems(tmp_path, text)


def test_plain_numbers_written_as_text_are_still_numbers(tmp_path):
    from planning.config import load_scenario

    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ncouncils: [E08000014]\nteams:\n  max_population: '45000'\n"
        "costs:\n  budget_gbp: 25e6\n"
    )
    scenario = load_scenario(path)
    assert scenario.teams.max_population == 45_000.0
    assert scenario.costs.budget_gbp == 25e6


def test_missing_parent_of_extends_names_both_files(tmp_path):
    child = tmp_path / "child.yaml"
    child.write_text("extends: base/parent.yaml\nname: c\n")
    with pytest.raises(ConfigError) as err:
        from planning.config import load_scenario

        load_scenario(child)
    text = str(err.value)
    assert str(child) in text and "parent scenario not found" in text
    assert str(tmp_path / "base" / "parent.yaml") in text


def test_compare_says_which_scenario_failed(tmp_path, data_dir, capsys):
    from planning.cli import main

    (tmp_path / "plan.csv").write_text("area_code,team_id\nE01999999,T1\n")  # read at run time
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\ncouncils: [E08000014]\nteams:\n  current_plan_csv: plan.csv\n")
    good = tmp_path / "good.yaml"
    good.write_text("name: g\ncouncils: [E08000014]\n")
    out = tmp_path / "out"
    code = main(["compare", str(bad), str(good), "--out", str(out), "--data-dir", str(data_dir)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"scenario bad ({bad}): teams.current_plan_csv" in err
    assert "areas not in the scenario's councils: E01999999" in err
    assert not out.exists() and "Traceback" not in err


def test_compare_and_sweep_check_every_scenarios_files_before_running_any(tmp_path, capsys):
    from planning.cli import main

    good = tmp_path / "good.yaml"
    good.write_text("name: g\ncouncils: [E08000014]\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\ncouncils: [E08000014]\nhubs:\n  sites_csv: sites.csv\n")
    (tmp_path / "sites.csv").write_text("name,easting\nA,1\n")
    out = tmp_path / "out"
    assert main(["compare", str(good), str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: hubs.sites_csv:" in err and "column 'site_name' is missing" in err
    assert "compare: good" not in err and not out.exists()  # the good one never ran
    (tmp_path / "plan.csv").write_text("area_code,team\n")
    setting = "teams.current_plan_csv=plan.csv,nowhere.csv"
    assert main(["sweep", str(good), "--set", setting, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--set teams.current_plan_csv=plan.csv: teams.current_plan_csv:" in err
    assert "column 'team_id' is missing (is 'team' it, renamed?)" in err
    assert "--set teams.current_plan_csv=nowhere.csv: teams.current_plan_csv: file not found" in err
    assert not out.exists() and "Traceback" not in err


def test_a_bad_setting_from_an_extended_parent_names_the_parent(tmp_path):
    from planning.config import load_scenario

    parent = tmp_path / "parent.yaml"
    parent.write_text("name: p\ncouncils: [E08000014]\nteams:\n  min_population: true\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: parent.yaml\nname: c\n")
    with pytest.raises(ConfigError) as err:
        load_scenario(child)
    text = str(err.value)
    assert f"{child} (extending {parent})" in text and "teams.min_population" in text


@pytest.mark.slow
def test_sigterm_mid_write_exits_143_and_leaves_no_folder(tmp_path, data_dir):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    # Sefton with a 10 s allocation limit: only the write phase matters here, not the gap
    sefton = Path(__file__).resolve().parents[1] / "scenarios" / "sefton.yaml"
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    scenario = inputs / "sefton_quick.yaml"
    scenario.write_text(f"extends: {sefton}\nsolver: {{time_limit_seconds: 10}}\n")
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "out"
    cmd = [sys.executable, "-m", "planning", "run", str(scenario), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--data-dir", str(data_dir)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while not list(runs.glob(".out-staging-*")) and proc.poll() is None:
        assert time.monotonic() < deadline, "the run never reached its write phase"
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be stopped mid-write"
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=30)[1].decode()
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "SIGTERM" in err
    assert list(runs.iterdir()) == []  # no output, staging folder or lock
    assert [p.name for p in inputs.iterdir()] == ["sefton_quick.yaml"]  # the user's file is kept


def test_a_swallowed_sigterm_still_stops_the_write(tmp_path):
    from planning.errors import STOPPED, Terminated

    out = tmp_path / "out"
    STOPPED.set()  # as the handler does, when its exception was lost in a finaliser
    try:
        with pytest.raises(Terminated):
            write_staged(out, _write(["teams.csv"]))
    finally:
        STOPPED.clear()
    assert list(tmp_path.iterdir()) == []


def test_stopping_the_workers_on_an_error_leaves_no_pool_thread_running():
    """Python's exit hook writes to the pool's wake-up pipe; its manager thread must be done first
    (a SIGTERM run in CI once printed 'Bad file descriptor' from that race)."""
    import time

    from planning.allocate.search import _Workers

    with pytest.raises(RuntimeError), _Workers(2) as workers:
        futures = [workers.submit(time.sleep, 30) for _ in range(2)]
        while not all(f.running() for f in futures):
            time.sleep(0.01)
        manager = workers.pool._executor_manager_thread
        processes = list(workers.pool._processes.values())
        raise RuntimeError("stop")
    assert not manager.is_alive()
    assert not any(p.is_alive() for p in processes)
