"""The embedded sample: derived from the national data, identical to it for Hampshire, small,
and enough on its own to run a scenario end to end."""

from __future__ import annotations

import json
import logging

import planning.data
from planning.cli import main
from planning.data import (
    DATA_FILES,
    SAMPLE_DIR,
    load_areas,
    planner_files,
    sample_files,
    text_form,
)
from planning.sample import boundary_codes, boundary_text, sample_boundaries, sample_tables

SAMPLE_LIMIT_BYTES = 2_000_000


def committed_files() -> list[str]:
    return sorted(str(p.relative_to(SAMPLE_DIR)) for p in SAMPLE_DIR.rglob("*") if p.is_file())


def test_sample_holds_every_file_the_planner_reads_as_text_and_is_small():
    assert committed_files() == sample_files()
    sizes = {rel: (SAMPLE_DIR / rel).stat().st_size for rel in committed_files()}
    assert sum(sizes.values()) < SAMPLE_LIMIT_BYTES
    assert max(sizes.values()) < 1_000_000  # every file small enough to commit and diff
    for rel in committed_files():
        (SAMPLE_DIR / rel).read_text(encoding="utf-8")  # plain text, no gzip or GeoPackage


def test_committed_sample_is_rederived_from_the_national_data(data_dir):
    tables = sample_tables(data_dir)
    assert sorted(tables) == sorted(set(planner_files()) - {DATA_FILES["boundaries"]})
    for rel, text in tables.items():
        committed = (SAMPLE_DIR / text_form(rel)).read_text(encoding="utf-8")
        assert committed == text, f"{rel}: run scripts/make_sample.py"
    expected = sample_boundaries(data_dir, boundary_codes(tables))
    rel = text_form(DATA_FILES["boundaries"])
    assert (SAMPLE_DIR / rel).read_text(encoding="utf-8") == boundary_text(expected)


def test_sample_gives_hampshire_exactly_as_the_national_data(hampshire):
    sample = load_areas(["E10000014"], SAMPLE_DIR, use_cache=False).areas
    assert len(sample) == 865
    assert sample.drop(columns="geometry").equals(hampshire.areas.drop(columns="geometry"))
    assert sample.geometry.geom_equals_exact(hampshire.areas.geometry, 0).all()


def test_default_data_dir_is_the_sample_without_shared_data(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("PLANNING_DATA_DIR", raising=False)
    monkeypatch.setattr(planning.data, "shared_data_dir", lambda: tmp_path / "no-shared")
    with caplog.at_level(logging.WARNING, logger="planning.data"):
        assert planning.data.resolve_data_dir() == SAMPLE_DIR
    assert "embedded sample" in caplog.text and "planning data fetch" in caplog.text


SMALL = """name: Havant on the sample
councils: [E07000090]
geography: {islands: link_nearest}
teams: {min_population: 30000, max_population: 50000}
solver: {time_limit_seconds: 20}
"""


def test_small_scenario_runs_end_to_end_on_the_sample_alone(tmp_path, monkeypatch):
    monkeypatch.delenv("PLANNING_DATA_DIR", raising=False)
    monkeypatch.setenv("PLANNING_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(planning.data, "shared_data_dir", lambda: tmp_path / "no-shared")
    scenario = tmp_path / "havant.yaml"
    scenario.write_text(SMALL)
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data_dir"] == str(SAMPLE_DIR)
    for name in ("areas.csv", "teams.csv", "teams.gpkg", "staffing.xlsx", "report.html"):
        assert (out / name).is_file(), name
    teams = (out / "teams.csv").read_text().splitlines()
    assert len(teams) - 1 == manifest["teams"] >= 3  # Havant's 125,000 residents in 30-50k teams


def test_sample_covers_hampshire_only():
    lines = (SAMPLE_DIR / DATA_FILES["councils"]).read_text().splitlines()[1:]
    assert len(lines) == 11 and all(",E10000014," in line for line in lines)


def test_an_incomplete_sample_is_not_the_default(tmp_path, monkeypatch):
    """Without its boundaries the sample is not used: the default stays ../shared/data, whose
    absence is then named."""
    partial = tmp_path / "sample"
    for rel in sample_files():
        if "boundaries" not in rel:
            (partial / rel).parent.mkdir(parents=True, exist_ok=True)
            (partial / rel).write_bytes((SAMPLE_DIR / rel).read_bytes())
    monkeypatch.delenv("PLANNING_DATA_DIR", raising=False)
    monkeypatch.setattr(planning.data, "SAMPLE_DIR", partial)
    monkeypatch.setattr(planning.data, "shared_data_dir", lambda: tmp_path / "no-shared")
    assert planning.data.default_data_dir() == tmp_path / "no-shared"
