"""Hardening (issue 14): every table the planner reads is checked, named and never a traceback.

Damaged data files are copies of the real ones in a data folder of symlinks to ../shared/data;
the real files are never touched. The City of London (E09000001, 6 LSOAs) keeps the builds quick.
"""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from test_hubs import line_areas, solve, three_sites

from planning.checks import numbers, read_csv, unique
from planning.config import HubSettings
from planning.data import DATA_FILES, load_areas, read_current_plan
from planning.errors import ConfigError, DataError
from planning.hubs import candidate_sites
from planning.workforce import RATE_FILES, published_rates

CITY = "E09000001"
CITY_AREA = "E01000001"  # City of London 001A


def damaged_data(data_dir: Path, tmp_path: Path, relative: str) -> tuple[Path, Path]:
    """A data folder of symlinks to the real files, except ``relative``: a writable copy."""
    root = tmp_path / "data"
    for real in data_dir.rglob("*"):
        if real.is_file():
            link = root / real.relative_to(data_dir)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(real)
    copy = root / relative
    copy.unlink()
    shutil.copyfile(data_dir / relative, copy)
    return root, copy


def edit_csv(path: Path, change) -> None:
    """Read a (gzipped) CSV as text, let ``change`` edit the frame, write it back the same way."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table = change(table)
    table.to_csv(
        path,
        index=False,
        compression={"method": "gzip", "compresslevel": 1} if path.suffix == ".gz" else None,
    )


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("PLANNING_CACHE_DIR", str(cache))
    return cache


# --------------------------------------------------------------------------- the helpers


def test_numbers_name_each_bad_line_area_and_value():
    table = pd.DataFrame(
        {
            "code": ["A1", "A2", "A3", "A4", "A5", "A6", "A7"],
            "n": ["1", "n/a", "-2", "inf", "nan", "1,234", "2.5"],
        }
    )
    with pytest.raises(DataError) as err:
        numbers(table, "n", "f.csv", key="code", names={"A2": "Two"}, whole=True)
    text = str(err.value)
    assert "f.csv: column n must be a whole number, at least 0" in text
    assert "6 bad value(s)" in text
    for shown in ("line 3, A2 (Two): 'n/a'", "line 4, A3: '-2'", "line 5, A4: 'inf'"):
        assert shown in text
    assert "'nan'" in text and "'1,234'" in text and "'2.5'" in text and "A1" not in text
    ok = numbers(table.iloc[[0]], "n", "f.csv")
    assert ok.tolist() == [1.0]
    markers = pd.DataFrame({"n": ["c", "x", "4"]})
    assert numbers(markers, "n", "f", blank=frozenset({"c", "x"})).isna().tolist() == [
        True,
        True,
        False,
    ]


def test_unique_names_the_repeated_keys_and_their_lines():
    table = pd.DataFrame({"a": ["E1", "E2", "E1", "E3"], "b": ["s", "s", "s", "t"]})
    with pytest.raises(DataError, match=r"E1 \(One\) on lines 2, 4") as err:
        unique(table, ["a"], "m.csv", names={"E1": "One"})
    assert "E2" not in str(err.value)
    with pytest.raises(DataError, match="E1, s on lines 2, 4"):
        unique(table, ["a", "b"], "m.csv")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"area_code,team_id\nE1,T1,extra\n", "not a well-formed CSV"),
        (b"area_code,team_id\n\xff\xfe\x00E1,T1\n", "not UTF-8"),
        (b"area_code,area_code\nE1,E2\n", "area_code more than once"),
        (b"area_cde,team_id\nE1,T1\n", "column 'area_code' is missing (is 'area_cde' it"),
    ],
)
def test_read_csv_refuses_unreadable_files(tmp_path, content, expected):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")) as err:
        read_csv(path, "teams.current_plan_csv", ["area_code", "team_id"], error=ConfigError)
    assert str(path) in str(err.value)


# --------------------------------------------------------------------------- national data files


def test_na_residents_are_named_not_read_as_zero(data_dir, tmp_path, fresh_cache):
    root, copy = damaged_data(data_dir, tmp_path, DATA_FILES["census21"])

    def blank_one(t):
        t.loc[
            (t.lsoa21_code == CITY_AREA) & t.age_group.str.contains("16 to 24"), "usual_residents"
        ] = "n/a"
        return t

    edit_csv(copy, blank_one)
    with pytest.raises(DataError) as err:
        load_areas([CITY], root)
    text = str(err.value)
    assert DATA_FILES["census21"] in text and "column usual_residents" in text
    assert f"{CITY_AREA} (City of London 001A): 'n/a'" in text
    assert not list(fresh_cache.glob("*.parquet"))  # nothing cached from a failed build


def test_duplicate_area_in_deprivation_file_is_named(data_dir, tmp_path, fresh_cache):
    root, copy = damaged_data(data_dir, tmp_path, DATA_FILES["imd2025"])

    def repeat(t):
        row = t[t.lsoa21_code == CITY_AREA].assign(IMD_score="55.0")
        return pd.concat([t, row])

    edit_csv(copy, repeat)
    with pytest.raises(DataError, match=rf"{CITY_AREA} \(City of London 001A\) on lines"):
        load_areas([CITY], root)


def test_infinite_children_are_refused(data_dir, tmp_path, fresh_cache):
    root, copy = damaged_data(data_dir, tmp_path, DATA_FILES["population20"])

    def infinite(t):
        t.loc[t.lsoa11_code == CITY_AREA, "7"] = "inf"
        return t

    edit_csv(copy, infinite)
    with pytest.raises(DataError, match=rf"(?s)column 7 must be a number.*{CITY_AREA}: 'inf'"):
        load_areas([CITY], root)


def test_renamed_column_is_named(data_dir, tmp_path, fresh_cache):
    root, copy = damaged_data(data_dir, tmp_path, DATA_FILES["lsoa21_wards"])
    edit_csv(copy, lambda t: t.rename(columns={"ward24_code": "ward_code"}))
    with pytest.raises(DataError) as err:
        load_areas([CITY], root)
    text = str(err.value)
    assert DATA_FILES["lsoa21_wards"] in text
    assert "column 'ward24_code' is missing (is 'ward_code' it, renamed?)" in text


def test_empty_and_truncated_files_are_named(data_dir, tmp_path, fresh_cache):
    root, copy = damaged_data(data_dir, tmp_path, DATA_FILES["imd2025"])
    copy.write_bytes(b"")
    with pytest.raises(DataError, match=r"imd2025_england_lsoa21\.csv\.gz is empty"):
        load_areas([CITY], root)
    data = (data_dir / DATA_FILES["imd2025"]).read_bytes()
    copy.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"is truncated or corrupt.*download it again"):
        load_areas([CITY], root)


def test_corrupt_boundaries_are_named(data_dir, tmp_path, fresh_cache):
    root, copy = damaged_data(data_dir, tmp_path, DATA_FILES["boundaries"])
    copy.write_bytes(copy.read_bytes()[:4096])
    with pytest.raises(DataError, match=r"lsoa21_bsc_ew\.gpkg.*truncated or corrupt"):
        load_areas([CITY], root)


def test_negative_published_count_is_named(data_dir, tmp_path):
    relative = RATE_FILES["children_in_need"]
    root, copy = damaged_data(data_dir, tmp_path, relative)

    def negative(t):
        t.loc[(t.new_la_code == CITY) & (t.time_period == "2024"), "At31_episodes"] = "-40"
        return t

    edit_csv(copy, negative)
    with pytest.raises(DataError, match=rf"(?s)column At31_episodes must be.*{CITY}: '-40'"):
        published_rates([CITY], root)


@pytest.mark.parametrize("junk", [b"not a parquet file", b""])
def test_corrupt_cache_entry_is_rebuilt(data_dir, fresh_cache, caplog, junk):
    first = load_areas([CITY], data_dir)
    (entry,) = fresh_cache.glob("areas-*.parquet")
    entry.write_bytes(junk)
    again = load_areas([CITY], data_dir)
    assert "unreadable" in caplog.text and entry.name in caplog.text
    assert again.areas.drop(columns="geometry").equals(first.areas.drop(columns="geometry"))
    assert entry.stat().st_size > 1000  # rebuilt, so later runs read it again
    caplog.clear()
    load_areas([CITY], data_dir)
    assert "unreadable" not in caplog.text


# --------------------------------------------------------------------------- user files


def test_current_plan_area_in_two_teams_names_lines(tmp_path):
    areas = line_areas([1, 1])
    path = tmp_path / "plan.csv"
    path.write_text("area_code,team_id\nE01000000,T1\nE01000001,T1\nE01000000,T2\n")
    with pytest.raises(ConfigError, match=r"E01000000 \(Line A\) on lines 2, 4"):
        read_current_plan(path, areas)
    path.write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        read_current_plan(path, areas)


@pytest.mark.parametrize(
    ("capacity", "forced", "ok"),
    [
        ("0", "", False),
        ("inf", "", False),
        ("-1", "", False),
        ("lots", "", False),
        ("0", "closed", True),
        ("", "", True),
        ("25", "", True),
    ],
)
def test_site_capacity_must_be_positive_and_finite(tmp_path, capacity, forced, ok):
    path = three_sites(tmp_path, Middle={"capacity_children": capacity, "forced": forced})
    settings = HubSettings(sites_csv=path)
    if ok:
        candidate_sites(line_areas([10] * 5), settings)
        return
    with pytest.raises(DataError, match=r"capacity_children must be a number.*'Middle' \(line 3"):
        candidate_sites(line_areas([10] * 5), settings)


def test_sites_file_empty_or_with_extra_fields(tmp_path):
    path = tmp_path / "sites.csv"
    for content, expected in (
        ("", "is empty"),
        ("site_name,easting,northing\nA,1,2,3\n", "well-formed"),
    ):
        path.write_text(content)
        with pytest.raises(DataError, match=expected):
            candidate_sites(line_areas([10]), HubSettings(sites_csv=path))


def _matrix_settings(tmp_path: Path, text: str | bytes) -> HubSettings:
    path = tmp_path / "minutes.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return HubSettings(
        sites_csv=three_sites(tmp_path), travel_time_csv=Path("minutes.csv"), target_minutes=10
    )


def _wide(rows: list[str]) -> str:
    return "area_code,West,Middle,East\n" + "\n".join(rows) + "\n"


GOOD_ROWS = [f"E0100000{i},{i},{abs(i - 2)},{4 - i}" for i in range(5)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (_wide([*GOOD_ROWS, "E01000002,9,9,9"]), r"E01000002 \(Line C\) on lines 4, 7"),
        (_wide([*GOOD_ROWS[:4], "E01000004,inf,2,0"]), r"line 6, E01000004 \(Line E\): 'inf'"),
        (_wide([*GOOD_ROWS[:4], "E01000004,-3,2,0"]), "'-3'"),
        (_wide(GOOD_ROWS).replace("Middle", "West"), "West more than once"),
        (b"area_code,West\n\x00\xff\xfe\x81\n", "not UTF-8"),
        (
            "area_code,site_name,minutes\nE01000000,West,1\nE01000000,West,5\n",
            r"E01000000 \(Line A\), West on lines 2, 3",
        ),
        ("", "is empty"),
    ],
)
def test_travel_matrix_values_and_keys_are_checked(tmp_path, text, expected):
    settings = _matrix_settings(tmp_path, text)
    with pytest.raises(DataError, match=expected) as err:
        solve(line_areas([10] * 5), settings, base_dir=tmp_path)
    assert "minutes.csv" in str(err.value)


def test_a_good_travel_matrix_still_runs(tmp_path):
    plan = solve(
        line_areas([10] * 5), _matrix_settings(tmp_path, _wide(GOOD_ROWS)), base_dir=tmp_path
    )
    assert len(plan.hubs) == 1


def test_gz_truncation_helper_really_truncates(tmp_path):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n" + b"1,2\n" * 50_000)[:-20])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_csv(path, "t", ["a", "b"])


@pytest.mark.parametrize(
    ("hubs", "expected"),
    [
        ("  sites_csv: nowhere.csv\n", "hubs.sites_csv: file not found"),
        (
            "  travel_time_csv: minutes.csv\n  target_minutes: 10\n",
            r"minutes\.csv: column x must be a number.*'inf'",
        ),
    ],
)
def test_validate_reads_the_hub_files_the_run_reads(data_dir, tmp_path, capsys, hubs, expected):
    from planning.cli import main

    (tmp_path / "minutes.csv").write_text("area_code,x\nE01006512,inf\n")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"name: s\ncouncils: [E08000014]\nhubs:\n{hubs}")
    assert main(["validate", str(scenario), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert re.search(f"(?s){expected}", err) and "Traceback" not in err


def test_unwritable_cache_is_a_warning_not_an_error(data_dir, tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PLANNING_CACHE_DIR", str(blocker / "cache"))
    areas = load_areas([CITY], data_dir)
    assert len(areas.areas) > 0 and "cannot write the cache entry" in caplog.text
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
