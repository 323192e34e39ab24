"""`planning england` on a real Dask LocalCluster with small real councils.

Three small unitary councils (Rutland 26 areas, Hartlepool 57, Darlington 66) keep each run
well under a minute. The national table is checked against each council's run folder; a
worker is killed mid-run and the run still completes; an interrupted run resumes with only
the missing councils.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from planning.cli import main
from planning.england import run_england
from planning.england.councils import select_councils, upper_tier_councils
from planning.england.template import load_template
from planning.errors import ConfigError
from planning.workforce import ROLE_NAMES

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "scenarios" / "england.yaml"
SMALL = ["E06000017", "E06000001", "E06000005"]  # Rutland, Hartlepool, Darlington

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def national(tmp_path_factory, data_dir) -> Path:
    out = tmp_path_factory.mktemp("england") / "run"
    code = main(
        [
            "england",
            str(TEMPLATE),
            "--out",
            str(out),
            "--councils",
            *SMALL,
            "--workers",
            "2",
            "--data-dir",
            str(data_dir),
        ]
    )
    assert code == 0
    return out


def test_national_table_matches_each_council_folder(national: Path) -> None:
    table = pd.read_csv(national / "england.csv").set_index("council_code")
    assert sorted(table.index) == sorted(SMALL)
    assert (table.run_status == "done").all()
    for code in SMALL:
        folder = national / "councils" / code
        manifest = json.loads((folder / "manifest.json").read_text())
        teams = pd.read_csv(folder / "teams.csv")
        areas = pd.read_csv(folder / "areas.csv")
        staffing = pd.read_csv(folder / "staffing.csv")
        row = table.loc[code]
        assert row.teams == len(teams) == manifest["teams"]
        assert row.areas == len(areas) == manifest["areas"]
        assert row.residents == areas.residents.sum()
        assert row.status == manifest["status"]
        assert row.gap == pytest.approx(manifest["gap"])
        assert row.bound == pytest.approx(manifest["bound"])
        assert row.cost_gbp == pytest.approx(manifest["staffing"]["total_cost_gbp"])
        by_role = staffing[staffing.team_id.isin(teams.team_id)].groupby("role")["fte"].sum()
        for role, label in ROLE_NAMES.items():
            assert row[f"fte_{role}"] == pytest.approx(by_role.get(label, 0.0)), role
        published = manifest["published_rates"][0]
        assert row.social_work_case_holding_fte == pytest.approx(
            published["plan_social_work_case_holding_fte"]
        )
        # the check against the published workforce: latest CSWW year, ratio re-derived
        assert row.published_year >= 2024
        assert row.modelled_to_published_fte == pytest.approx(
            row.social_work_case_holding_fte / row.published_case_holders_fte
        )


def test_national_files_and_manifest(national: Path) -> None:
    for name in ("england.xlsx", "england.png", "england.html", "england_manifest.json"):
        assert (national / name).stat().st_size > 0, name
    assert (national / "england.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    teams = gpd.read_file(national / "england.gpkg", layer="teams")
    councils = gpd.read_file(national / "england.gpkg", layer="councils")
    table = pd.read_csv(national / "england.csv")
    assert teams.crs.to_epsg() == 27700
    assert len(teams) == table.teams.sum()
    assert sorted(councils.council_code) == sorted(SMALL)
    page = (national / "england.html").read_text()
    assert 'src="http' not in page and "data:image/png;base64," in page
    assert "Check against the published workforce" in page
    manifest = json.loads((national / "england_manifest.json").read_text())
    assert manifest["done"] == 3 and manifest["failed"] == 0
    assert {c["council_code"] for c in manifest["per_council"]} == set(SMALL)
    assert manifest["workers"] == 2
    workbook = pd.read_excel(national / "england.xlsx", sheet_name=None)
    assert set(workbook) == {"councils", "published check"}


def test_a_killed_worker_loses_no_council(tmp_path: Path, data_dir) -> None:
    from distributed import Client, LocalCluster

    killed: list[int] = []
    interrupted: list[str] = []  # councils that were running on the killed worker

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):

        def kill_one_busy_worker(kind: str, info: dict) -> None:
            if kind not in ("done", "failed") or killed:
                return
            for address, keys in client.processing().items():
                if keys:
                    pid = client.run(os.getpid, workers=[address])[address]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    interrupted.extend(str(key).split("-")[1] for key in keys)
                    return

        run = run_england(
            TEMPLATE, tmp_path / "run", SMALL, data_dir, events=kill_one_busy_worker, client=client
        )
    assert killed, "no worker was busy when the first council finished"
    assert sorted(run.records) == sorted(SMALL)
    assert all(r["status"] == "done" for r in run.records.values())
    assert interrupted and set(interrupted) <= set(SMALL)
    assert all(run.records[code]["worker_pid"] != killed[0] for code in interrupted)
    for code in SMALL:
        assert (tmp_path / "run" / "councils" / code / "manifest.json").is_file()


def test_an_interrupted_run_resumes_with_only_the_missing_councils(tmp_path: Path, data_dir):
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "planning",
        "england",
        str(TEMPLATE),
        "--out",
        str(out),
        "--councils",
        *SMALL,
        "--workers",
        "1",
        "--data-dir",
        str(data_dir),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    records = out / "records"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if records.is_dir() and any(records.glob("*.json")):
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err[-2000:]
    assert "run the same command again" in err
    first = {p.stem: p.stat().st_mtime_ns for p in records.glob("*.json")}
    assert 1 <= len(first) < len(SMALL)
    assert not (out / "england.csv").exists()  # no national files from an interrupted run

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"({len(SMALL) - len(first)} run now, {len(first)} already done)" in rerun.stdout
    after = {p.stem: p.stat().st_mtime_ns for p in records.glob("*.json")}
    assert sorted(after) == sorted(SMALL)
    assert all(after[code] == first[code] for code in first)  # done councils were not redone
    manifest = json.loads((out / "england_manifest.json").read_text())
    assert sorted(manifest["skipped_as_done"]) == sorted(first)
    assert sorted(manifest["ran_this_time"]) == sorted(set(SMALL) - set(first))


def test_councils_largest_first_and_unknown_codes_refused(data_dir) -> None:
    every = upper_tier_councils(data_dir)
    assert len(every) == 153
    chosen = select_councils(every, ["e06000017", "E08000025"])
    assert [c.code for c in chosen] == ["E08000025", "E06000017"]  # Birmingham first
    with pytest.raises(ConfigError, match="E99999999"):
        select_councils(every, ["E99999999"])


def test_a_template_naming_one_council_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\ncouncils: [E06000017]\nteams: {nesting: groupings, groupings: []}\n"
        "costs: {budget_gbp: 1000000}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_template(bad, "E06000017")
    text = str(err.value)
    assert "councils" in text and "teams.groupings" in text and "costs.budget_gbp" in text
    assert "teams.nesting" in text


def test_a_council_opens_no_more_hubs_than_its_smallest_district_has_areas(data_dir) -> None:
    from planning.england.template import council_scenario

    template = load_template(TEMPLATE, "E06000053")
    scilly = council_scenario(template, "E06000053", "Isles of Scilly", data_dir)  # one area
    assert scilly["hubs"]["community_hubs_per_locality"] == 0
    assert scilly["teams"]["undersized"] == "one_team"
    rutland = council_scenario(template, "E06000017", "Rutland", data_dir)  # 26 areas
    assert rutland["hubs"]["community_hubs_per_locality"] == 2
    assert rutland["solver"]["processes"] == 1


def test_an_unreachable_scheduler_is_a_clear_error_and_leaves_no_folder(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "england",
            str(TEMPLATE),
            "--out",
            str(out),
            "--councils",
            "E06000017",
            "--scheduler",
            "tcp://127.0.0.1:1",
            "--data-dir",
            str(data_dir),
        ]
    )
    assert code == 2
    assert "cannot reach a Dask scheduler" in capsys.readouterr().err
    assert not out.exists()
