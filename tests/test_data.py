"""The areas table on the real data: totals, joins, cache, and errors that name the fix."""

from __future__ import annotations

import numpy as np
import pytest

from planning.config import GeographySettings
from planning.data import AREA_COLUMNS, load_areas, resolve_data_dir
from planning.errors import ConfigError, DataError
from planning.geography import build_geography, components


def test_hampshire_totals_match_published_counts(hampshire):
    areas = hampshire.areas
    assert len(areas) == 865
    assert areas.district_code.nunique() == 11
    assert areas.residents.sum() == pytest.approx(1_400_766)
    # mid-2020 single-year estimates carried from 832 LSOA 2011 areas keep their totals
    assert areas.children_0_17.sum() == pytest.approx(285_612)
    assert areas.children_0_19.sum() == pytest.approx(313_269)
    assert areas.children_0_24.sum() == pytest.approx(380_442)
    assert list(areas.columns[:-1]) == AREA_COLUMNS
    assert areas.crs.to_epsg() == 27700
    assert areas.area_code.is_monotonic_increasing
    assert areas.imd_decile.between(1, 10).all()


def test_district_code_and_cache_give_same_table(data_dir, hampshire, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNING_CACHE_DIR", str(tmp_path))
    fresh = load_areas(["E07000090"], data_dir)  # Havant alone, built
    cached = load_areas(["E07000090"], data_dir)  # read back
    assert len(fresh.areas) == 79
    assert list(tmp_path.glob("areas-*.parquet"))
    assert fresh.areas.drop(columns="geometry").equals(cached.areas.drop(columns="geometry"))
    part = hampshire.areas[hampshire.areas.district_code == "E07000090"].reset_index(drop=True)
    assert np.allclose(part.children_0_17, fresh.areas.children_0_17)


def test_unknown_council_code_is_named(data_dir):
    with pytest.raises(ConfigError) as err:
        load_areas(["E10000099"], data_dir)
    assert "E10000099: not an English council code" in str(err.value)


def test_missing_data_dir_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("PLANNING_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="--data-dir"):
        resolve_data_dir(tmp_path / "nowhere")


def test_missing_data_file_is_named(tmp_path):
    (tmp_path / "lookups").mkdir()
    with pytest.raises(DataError, match=r"LTLA-UTLA_Apr23_Lookup_England-Wales\.csv"):
        load_areas(["E10000014"], tmp_path)


def test_hayling_island_is_linked_by_policy(hampshire):
    geo = build_geography(hampshire.areas, GeographySettings(islands="link_nearest"))
    assert components(geo.n, geo.edges).max() == 0
    assert len(geo.links) == 1
    link = geo.links[0]
    assert {link.from_code, link.to_code} == {"E01022937", "E01022954"}
    assert link.distance_km == pytest.approx(0.333, abs=0.01)


def test_detached_parts_fail_naming_them(hampshire):
    with pytest.raises(DataError) as err:
        build_geography(hampshire.areas, GeographySettings(islands="fail"))
    text = str(err.value)
    assert "1 part(s) of the area are detached" in text
    assert "E01022937 (Havant 015A)" in text


def test_link_to_unknown_area_is_named(hampshire):
    settings = GeographySettings(links=[{"from_area": "E01022937", "to_area": "E01999999"}])
    with pytest.raises(ConfigError, match="E01999999"):
        build_geography(hampshire.areas, settings)
