"""Family hubs: hand-drawn cases whose best sites are known by hand, bad input, and real data."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from planning.config import (
    GeographySettings,
    HubSettings,
    Locality,
    SolverSettings,
    load_scenario,
)
from planning.errors import ConfigError, DataError, InfeasibleError, SolverError
from planning.geography import build_geography
from planning.hubs import (
    HUB_COLUMNS,
    SITE_COLUMNS,
    candidate_sites,
    hubs_layer,
    localities_layer,
    place_hubs,
    resolve_localities,
    weighted_quantile,
)
from planning.solve import Mip, SolveResult

ROOT = Path(__file__).resolve().parent.parent
SOLVER = SolverSettings(time_limit_seconds=30, threads=1)
X0, Y0 = 400_000.0, 300_000.0  # somewhere in England (EPSG:27700 metres)


def line_areas(children: list[float], wards: list[str] | None = None) -> gpd.GeoDataFrame:
    """A row of 1 km squares, A at the west end; centroids 1 km apart.

    ::

        +---+---+---+---+---+
        | A | B | C | D | E |     children per square as given
        +---+---+---+---+---+
        0   1   2   3   4   5 km
    """
    n = len(children)
    codes = [f"E0100000{i}" for i in range(n)]
    wards = wards or [f"E0500000{i}" for i in range(n)]
    boxes = [shapely.box(X0 + 1000 * i, Y0, X0 + 1000 * (i + 1), Y0 + 1000) for i in range(n)]
    return gpd.GeoDataFrame(
        {
            "area_code": codes,
            "area_name": [f"Line {chr(65 + i)}" for i in range(n)],
            "district_code": "E07000001",
            "district_name": "Lineshire",
            "ward_code": wards,
            "ward_name": [f"Ward {w[-1]}" for w in wards],
            "council_code": "E10000001",
            "council_name": "Line County",
            "residents": [5 * c for c in children],
            "children_0_17": [float(c) for c in children],
            "children_0_19": [1.1 * c for c in children],
            "children_0_24": [1.4 * c for c in children],
            "imd_score": 20.0,
            "imd_decile": 5,
        },
        geometry=boxes,
        crs="EPSG:27700",
    )


def centre(i: int) -> tuple[float, float]:
    """Easting, northing of square i's centroid."""
    return X0 + 1000 * i + 500, Y0 + 500


def write_sites(tmp_path: Path, rows: list[dict], name: str = "sites.csv") -> Path:
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def three_sites(tmp_path: Path, **extra: dict) -> Path:
    """Sites West (in A), Middle (in C) and East (in E); ``extra`` adds columns per site name."""
    rows = []
    for name, i in (("West", 0), ("Middle", 2), ("East", 4)):
        e, n = centre(i)
        rows.append({"site_name": name, "easting": e, "northing": n, **extra.get(name, {})})
    return write_sites(tmp_path, rows)


def solve(
    areas: gpd.GeoDataFrame,
    settings: HubSettings,
    teams: pd.Series | None = None,
    base_dir: Path | None = None,
):
    geo = build_geography(areas, GeographySettings())
    if teams is None:
        teams = pd.Series("T1", index=areas["area_code"].to_numpy())
    return place_hubs(areas, geo, teams, settings, SOLVER, base_dir=base_dir)


def opened(plan, kind: str) -> list[str]:
    return sorted(plan.hubs.loc[plan.hubs["kind"] == kind, "site_name"])


# --------------------------------------------------------------------------- hand-drawn cases


def test_one_main_hub_goes_to_the_middle_of_a_line(tmp_path):
    areas = line_areas([10, 10, 100, 10, 10])
    plan = solve(areas, HubSettings(sites_csv=three_sites(tmp_path)))
    assert list(plan.hubs.columns) == HUB_COLUMNS
    assert opened(plan, "main") == ["Middle"] and opened(plan, "community") == []
    hub = plan.hubs.iloc[0]
    # A and E are 2 km away, B and D 1 km, C 0 km; road = straight line x 1.3
    assert hub["mean_distance_km"] == pytest.approx((2 * 10 * 2.6 + 2 * 10 * 1.3) / 140, abs=1e-3)
    assert hub["p90_distance_km"] == pytest.approx(2.6)
    assert hub["share_within_target"] == pytest.approx(120 / 140, abs=1e-4)  # within 2 km road
    assert hub["children_served"] == pytest.approx(140)
    assert hub["teams_based"] == 1 and not hub["generated"]
    assert plan.team_base.to_dict() == {"T1": "Middle"}
    assert set(plan.area_hub) == {"Middle"}
    runs = plan.evidence["Lineshire"]
    assert [r.stage for r in runs] == ["least_travel"]
    assert runs[0].status == "optimal" and runs[0].gap <= 0.001 and plan.proven
    assert "straight-line" in plan.travel and "1.3" in plan.travel


def test_main_hub_sits_centrally_among_community_hubs(tmp_path):
    areas = line_areas([10, 10, 100, 10, 10])
    plan = solve(areas, HubSettings(sites_csv=three_sites(tmp_path), community_hubs_per_locality=2))
    assert opened(plan, "main") == ["Middle"]
    assert opened(plan, "community") == ["East", "West"]
    served = plan.area_hub.to_dict()
    assert served["E01000000"] == "West" and served["E01000004"] == "East"
    assert plan.accessibility["Lineshire"]["mean_distance_to_main_hub_km"] > 0


def test_two_main_hubs_go_to_the_two_heavy_ends():
    areas = line_areas([50, 1, 1, 1, 50])  # generated candidates at every square
    plan = solve(areas, HubSettings(main_hubs_per_locality=2))
    assert opened(plan, "main") == ["Line A (Ward 0)", "Line E (Ward 4)"]
    assert plan.hubs["generated"].all()


def test_capacity_pushes_the_hub_off_the_best_site(tmp_path):
    areas = line_areas([10, 10, 100, 10, 20])  # heavier east end breaks the West/East tie
    small = {"Middle": {"capacity_children": 50}}
    plan = solve(areas, HubSettings(sites_csv=three_sites(tmp_path, **small)))
    assert opened(plan, "main") == ["East"]
    big = {"Middle": {"capacity_children": 150}}
    plan = solve(areas, HubSettings(sites_csv=three_sites(tmp_path, **big)))
    assert opened(plan, "main") == ["Middle"]


def test_capacity_splits_children_between_hubs(tmp_path):
    areas = line_areas([10, 10, 100, 10, 10])
    caps = {"Middle": {"capacity_children": 110}}
    plan = solve(
        areas, HubSettings(sites_csv=three_sites(tmp_path, **caps), community_hubs_per_locality=1)
    )
    served = plan.hubs.set_index("site_name")["children_served"]
    assert served["Middle"] <= 110 and served.sum() == pytest.approx(140)


def test_forced_and_kind_rules_are_kept(tmp_path):
    areas = line_areas([10, 10, 100, 10, 20])
    forced = {"West": {"forced": "open", "kind": "community"}}
    plan = solve(
        areas, HubSettings(sites_csv=three_sites(tmp_path, **forced), community_hubs_per_locality=1)
    )
    assert opened(plan, "main") == ["Middle"] and opened(plan, "community") == ["West"]

    closed = {"Middle": {"forced": "closed"}}
    plan = solve(areas, HubSettings(sites_csv=three_sites(tmp_path, **closed)))
    assert opened(plan, "main") == ["East"]

    community_only = {"Middle": {"kind": "community"}}
    plan = solve(areas, HubSettings(sites_csv=three_sites(tmp_path, **community_only)))
    assert opened(plan, "main") == ["East"]

    existing = {"West": {"existing": "yes"}}
    plan = solve(
        areas,
        HubSettings(
            sites_csv=three_sites(tmp_path, **existing),
            community_hubs_per_locality=1,
            keep_existing_sites=True,
        ),
    )
    assert "West" in opened(plan, "main") + opened(plan, "community")


def test_fewest_community_hubs_reaching_coverage():
    """Every square within 1 km (1.3 km road) of a hub: two hubs, and B, D is the nearest pair.

    A and D (or B and E) also cover the line, but leave 12 children of B (or D) 1 km away
    instead of 10 of A (or E).
    """
    areas = line_areas([10, 12, 10, 12, 10])
    plan = solve(areas, HubSettings(coverage_share=1.0, target_distance_km=1.35))
    assert sorted(plan.hubs["site_name"]) == ["Line B (Ward 1)", "Line D (Ward 3)"]
    assert len(opened(plan, "main")) == 1 and len(opened(plan, "community")) == 1
    assert (plan.hubs["share_within_target"] == 1).all()
    stages = [r.stage for r in plan.evidence["Lineshire"]]
    assert stages == ["fewest_community_hubs", "least_travel"]
    assert plan.evidence["Lineshire"][0].objective == pytest.approx(1)
    assert plan.accessibility["Lineshire"]["community_hubs_rule"].startswith("fewest reaching")


def test_travel_time_matrix_replaces_distance(tmp_path):
    areas = line_areas([10, 10, 100, 10, 20])
    minutes = pd.DataFrame(
        {
            "area_code": areas["area_code"],
            "West": [1, 5, 9, 13, 17],
            "Middle": [60] * 5,
            "East": [17, 13, 9, 5, 1],
        }
    )
    minutes.to_csv(tmp_path / "minutes.csv", index=False)
    settings = HubSettings(
        sites_csv=three_sites(tmp_path), travel_time_csv=Path("minutes.csv"), target_minutes=10
    )
    plan = solve(areas, settings, base_dir=tmp_path)  # relative paths read from base_dir
    assert opened(plan, "main") == ["East"]
    summary = plan.accessibility["Lineshire"]
    assert "minutes.csv" in plan.travel and "minutes.csv" in summary["travel"]
    assert summary["target"] == "10 min"
    assert summary["share_within_target"] == pytest.approx(130 / 150, abs=1e-4)
    assert summary["mean_travel_minutes"] == pytest.approx(
        (10 * 17 + 10 * 13 + 100 * 9 + 10 * 5 + 20 * 1) / 150, abs=0.01
    )

    long = minutes.melt(id_vars="area_code", var_name="site_name", value_name="minutes")
    long.to_csv(tmp_path / "long.csv", index=False)
    plan = solve(areas, settings.model_copy(update={"travel_time_csv": tmp_path / "long.csv"}))
    assert opened(plan, "main") == ["East"]


def test_team_bases_follow_the_locality_with_most_children(tmp_path):
    """Localities West = A, B, C and East = D, E; team T1 = A-D spans both, T2 = E.

    ::

        West          | East
        A   B   C     | D   E
        T1  T1  T1    | T1  T2
    """
    areas = line_areas([10, 10, 100, 10, 20])
    rows = [
        {"site_name": n, "easting": centre(i)[0], "northing": centre(i)[1]}
        for n, i in (("West hub", 1), ("West corner", 0), ("East hub", 4), ("East near", 3))
    ]
    sites = write_sites(tmp_path, rows)
    codes = list(areas["area_code"])
    localities = [Locality(name="West", areas=codes[:3]), Locality(name="East", areas=codes[3:])]
    teams = pd.Series(["T1", "T1", "T1", "T1", "T2"], index=codes)
    plan = solve(
        areas,
        HubSettings(
            localities=localities,
            sites_csv=sites,
            community_hubs_per_locality=1,
            team_base_at_main_hub=True,
        ),
        teams=teams,
    )
    hub_locality = plan.hubs.set_index("site_name")["locality"]
    hub_kind = plan.hubs.set_index("site_name")["kind"]
    assert hub_locality[plan.team_base["T1"]] == "West"
    assert hub_locality[plan.team_base["T2"]] == "East"
    assert (hub_kind[plan.team_base] == "main").all()
    assert plan.hubs["teams_based"].sum() == 2
    assert plan.localities.to_dict() == dict(zip(codes, ["West"] * 3 + ["East"] * 2, strict=True))


def test_layers_for_the_geopackage(tmp_path):
    areas = line_areas([10, 10, 100, 10, 10])
    codes = list(areas["area_code"])
    localities = [Locality(name="West", areas=codes[:2]), Locality(name="East", areas=codes[2:])]
    plan = solve(areas, HubSettings(localities=localities))
    points = hubs_layer(plan)
    assert points.crs.to_epsg() == 27700 and len(points) == 2
    shapes = localities_layer(areas, plan)
    assert sorted(shapes["locality"]) == ["East", "West"]
    assert shapes.area.sum() == pytest.approx(5e6)


def test_weighted_quantile():
    assert weighted_quantile(np.array([3.0, 1.0, 2.0]), np.array([1.0, 1.0, 8.0]), 0.9) == 2.0
    assert weighted_quantile(np.array([3.0, 1.0, 2.0]), np.array([1.0, 1.0, 8.0]), 0.95) == 3.0


def test_sites_by_longitude_latitude_are_placed_in_their_area(tmp_path):
    areas = line_areas([10, 10, 10])
    to_ll = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(*centre(1))
    path = write_sites(
        tmp_path,
        [
            {
                "site_name": "Hall",
                "longitude": lon,
                "latitude": lat,
                "kind": "Main",
                "existing": "yes",
                "capacity_children": "",
            }
        ],
    )
    sites = candidate_sites(areas, HubSettings(sites_csv=path))
    assert list(sites.columns) == SITE_COLUMNS
    row = sites.iloc[0]
    assert row["area_code"] == "E01000001" and row["kind"] == "main" and row["existing"]
    assert row["easting"] == pytest.approx(centre(1)[0], abs=0.5)
    assert np.isnan(row["capacity_children"]) and not row["generated"]


def test_generated_sites_are_marked_generated():
    sites = candidate_sites(line_areas([1, 2]), HubSettings())
    assert sites["generated"].all() and list(sites["kind"]) == ["any", "any"]


# --------------------------------------------------------------------------- bad input


def test_stray_and_doubly_claimed_areas_are_named():
    areas = line_areas([10, 10, 10, 10], wards=["E05000001", "E05000001", "E05000002", "E05000003"])
    localities = [
        Locality(name="North", wards=["E05000001", "E05000009"]),
        Locality(name="South", wards=["E05000002"], areas=["E01000001"]),
    ]
    with pytest.raises(ConfigError) as err:
        resolve_localities(areas, HubSettings(localities=localities))
    text = str(err.value)
    assert "E01000003 (Line D)" in text and "in no locality" in text
    assert "E01000001 (Line B) is claimed by localities 'North' and 'South'" in text
    assert "E05000009" in text


def test_duplicate_and_malformed_sites_are_named(tmp_path):
    areas = line_areas([10, 10, 10])
    e, n = centre(0)
    path = write_sites(
        tmp_path,
        [
            {"site_name": "Hall", "easting": e, "northing": n, "kind": "big"},
            {"site_name": "hall ", "easting": e, "northing": n, "kind": ""},
            {"site_name": "Barn", "easting": e, "northing": n, "forced": "maybe"},
        ],
    )
    with pytest.raises(DataError) as err:
        candidate_sites(areas, HubSettings(sites_csv=path))
    text = str(err.value)
    assert "duplicate site names" in text and "Hall" in text
    assert "kind must be main, community or blank; got big" in text
    assert "forced must be open, closed or blank; got maybe" in text


def test_site_outside_the_councils_is_named(tmp_path):
    areas = line_areas([10, 10, 10])
    e, n = centre(0)
    path = write_sites(
        tmp_path,
        [
            {"site_name": "Far Away", "easting": e, "northing": n + 5000},
            {"site_name": "Just Off", "easting": e, "northing": n + 600},
        ],
    )
    with pytest.raises(DataError) as err:
        candidate_sites(areas, HubSettings(sites_csv=path))
    text = str(err.value)
    assert "site 'Far Away'" in text and "4.5 km outside the councils" in text
    assert "Just Off" not in text  # 100 m outside: within the tolerance for generalised edges


def test_missing_sites_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        candidate_sites(line_areas([1]), HubSettings(sites_csv=tmp_path / "nope.csv"))


def test_locality_without_an_eligible_main_site(tmp_path):
    areas = line_areas([10, 10, 10, 10])
    codes = list(areas["area_code"])
    rows = [
        {"site_name": "West", "easting": centre(0)[0], "northing": centre(0)[1]},
        {
            "site_name": "East",
            "easting": centre(3)[0],
            "northing": centre(3)[1],
            "kind": "community",
        },
    ]
    localities = [
        Locality(name="Westside", areas=codes[:2]),
        Locality(name="Eastside", areas=codes[2:]),
    ]
    with pytest.raises(ConfigError) as err:
        solve(areas, HubSettings(localities=localities, sites_csv=write_sites(tmp_path, rows)))
    text = str(err.value)
    assert "locality 'Eastside' has 0 eligible main site(s)" in text and "'East'" in text
    assert "Westside" not in text


def test_unreachable_coverage_target_says_how_far_it_falls_short(tmp_path):
    areas = line_areas([10, 10, 100, 10, 10])
    settings = HubSettings(
        sites_csv=three_sites(tmp_path), coverage_share=1.0, target_distance_km=0.5
    )
    with pytest.raises(InfeasibleError) as err:
        solve(areas, settings)
    text = str(err.value)
    assert "locality 'Lineshire': coverage target unreachable" in text
    assert "85.7%" in text and "0.5 km" in text


def test_capacities_too_small_for_the_children(tmp_path):
    areas = line_areas([10, 10, 100, 10, 10])
    caps = {n: {"capacity_children": 20} for n in ("West", "Middle", "East")}
    with pytest.raises(InfeasibleError, match="at most 60 children but it has 140"):
        solve(areas, HubSettings(sites_csv=three_sites(tmp_path, **caps)))


def test_travel_matrix_missing_areas_or_sites_is_named(tmp_path):
    areas = line_areas([10, 10, 10, 10, 10])
    minutes = pd.DataFrame({"area_code": areas["area_code"][:4], "West": [1, 2, 3, 4]})
    minutes.to_csv(tmp_path / "minutes.csv", index=False)
    settings = HubSettings(
        sites_csv=three_sites(tmp_path), travel_time_csv=Path("minutes.csv"), target_minutes=10
    )
    with pytest.raises(DataError) as err:
        solve(areas, settings, base_dir=tmp_path)
    text = str(err.value)
    assert "1 area(s) have no row: E01000004 (Line E)" in text
    assert "2 site(s) have no column: East, Middle" in text


def test_team_assignment_must_match_the_areas():
    areas = line_areas([10, 10])
    teams = pd.Series({"E01000000": "T1", "E01999999": "T2"})
    with pytest.raises(DataError, match=r"E01000001 \(Line B\)"):
        solve(areas, HubSettings(), teams=teams)


def test_settings_reject_contradictions(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: x\ncouncils: [E08000014]\nhubs:\n  coverage_share: 0.9\n"
        "  community_hubs_per_locality: 2\n"
    )
    with pytest.raises(ConfigError, match="not both"):
        load_scenario(path)
    path.write_text("name: x\ncouncils: [E08000014]\nhubs:\n  coverage_shar: 0.9\n")
    with pytest.raises(ConfigError, match="did you mean 'coverage_share'"):
        load_scenario(path)
    path.write_text("name: x\ncouncils: [E08000014]\nhubs:\n  travel_time_csv: t.csv\n")
    with pytest.raises(ConfigError, match="travel_time_csv needs target_minutes"):
        load_scenario(path)


def test_a_plan_not_proven_optimal_is_flagged(monkeypatch, caplog):
    real = Mip.solve

    def stopped_early(self, **kwargs):
        res = real(self, **kwargs)
        return SolveResult(
            "time_limit", res.objective, res.bound * 0.9, 0.1, res.seconds, res.values
        )

    monkeypatch.setattr(Mip, "solve", stopped_early)
    with caplog.at_level(logging.WARNING, logger="planning.hubs"):
        plan = solve(line_areas([10, 10, 100, 10, 10]), HubSettings())
    assert not plan.proven
    assert plan.accessibility["Lineshire"]["status"] == "time_limit"
    assert not plan.accessibility["Lineshire"]["proven_optimal"]
    assert "NOT proven optimal" in caplog.text


def test_no_plan_from_the_solver_is_an_error(monkeypatch):
    monkeypatch.setattr(
        Mip, "solve", lambda self, **kw: SolveResult("time_limit", None, None, None, 1.0, None)
    )
    with pytest.raises(SolverError, match="Lineshire"):
        solve(line_areas([10, 10]), HubSettings())


def test_no_travel_plan_in_time_keeps_the_fewest_hubs_placement_flagged(monkeypatch, caplog):
    """The first stage solves; the travel model ends with no plan: its placement is kept, costed
    at each area's nearest open hub, with a bound no higher than the true optimum."""
    areas = line_areas([10, 12, 10, 12, 10])
    settings = HubSettings(coverage_share=1.0, target_distance_km=1.35)
    best = solve(areas, settings).evidence["Lineshire"][1]
    real_solve = Mip.solve

    def travel_model_stalls(self, **kwargs):
        if self.problem.name == "hubs_least_travel":
            return SolveResult("time_limit", None, None, None, 1.0, None)
        return real_solve(self, **kwargs)

    monkeypatch.setattr(Mip, "solve", travel_model_stalls)
    with caplog.at_level(logging.WARNING, logger="planning.hubs"):
        plan = solve(areas, settings)
    record = plan.evidence["Lineshire"][1]
    assert not plan.proven and record.status == "time_limit" and not record.proven
    assert "NOT optimised for travel" in caplog.text
    assert len(plan.hubs) == 2 and (plan.hubs["share_within_target"] == 1).all()
    assert record.objective >= best.objective - 1e-9
    assert 0 < record.bound <= best.objective + 1e-9
    assert record.gap == pytest.approx((record.objective - record.bound) / record.objective)


def test_a_travel_plan_without_a_solver_bound_gets_the_nearest_site_bound(monkeypatch):
    """HiGHS stops with a plan but no bound: the record still carries a positive bound, no
    higher than the plan's travel (each area at its nearest usable site)."""
    areas = line_areas([10, 10, 100, 10, 10])
    real_solve = Mip.solve

    def no_bound(self, **kwargs):
        res = real_solve(self, **kwargs)
        return SolveResult("time_limit", res.objective, None, None, res.seconds, res.values)

    monkeypatch.setattr(Mip, "solve", no_bound)
    record = solve(areas, HubSettings()).evidence["Lineshire"][-1]
    assert record.stage == "least_travel" and not record.proven
    assert 0 < record.bound <= record.objective
    assert record.gap == pytest.approx((record.objective - record.bound) / record.objective)


# --------------------------------------------------------------------------- real data


def real(name: str):
    from planning.data import load_areas

    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    try:
        areas = load_areas(scenario.councils, scenario.data_dir).areas
    except DataError as exc:  # pragma: no cover - data not present on this machine
        pytest.skip(f"public data not available: {exc}")
    geo = build_geography(areas, scenario.geography)
    return scenario, areas, geo


def check_bases(plan, areas: pd.DataFrame, teams: pd.Series, child_col: str) -> None:
    """Every team is based at an open hub in the locality holding most of its children."""
    hub_locality = plan.hubs.set_index("site_name")["locality"]
    children = areas.set_index("area_code")[child_col]
    assert set(plan.team_base.index) == set(teams)
    for team, site in plan.team_base.items():
        members = teams.index[teams == team]
        by_locality = children[members].groupby(plan.localities[members]).sum()
        assert hub_locality[site] == by_locality.idxmax(), team


def test_sefton_three_localities_three_main_hubs():
    scenario, areas, geo = real("sefton")
    settings = scenario.hubs.model_copy(
        update={"coverage_share": None, "community_hubs_per_locality": 1}
    )
    # stand-in teams that cross localities: blocks of 25 areas in code order
    teams = pd.Series(np.arange(len(areas)) // 25, index=areas["area_code"].to_numpy())
    plan = place_hubs(areas, geo, teams, settings, SOLVER, default_basis="residents")
    main = plan.hubs[plan.hubs["kind"] == "main"]
    assert sorted(main["locality"]) == ["Central", "North", "South"]
    assert plan.localities.value_counts().to_dict() == {"North": 79, "Central": 69, "South": 43}
    check_bases(plan, areas, teams, "children_0_17")
    assert plan.proven and all(r.gap <= 0.001 for r in sum(plan.evidence.values(), ()))
    # the main hubs land in the towns Sefton's own main hubs serve
    ward = areas.set_index("area_name")["ward_name"]
    wards = {row.locality: ward[row.site_name.split(" (")[0]] for row in main.itertuples()}
    assert wards["North"] in {"Kew", "Duke's", "Norwood", "Cambridge", "Birkdale"}  # Southport
    assert wards["South"] in {"Linacre", "Derby", "Litherland", "Ford"}  # Bootle, Litherland


@pytest.mark.slow
def test_sefton_scenario_as_shipped():
    scenario, areas, geo = real("sefton")
    teams = areas.set_index("area_code")["ward_code"]  # stand-in: each ward a team
    plan = place_hubs(
        areas,
        geo,
        teams,
        scenario.hubs,
        scenario.solver,
        default_basis=scenario.teams.population_basis,
        base_dir=ROOT / "scenarios",
    )
    assert (plan.hubs["kind"] == "main").sum() == 3
    assert plan.hubs.groupby("locality")["kind"].apply(lambda k: (k == "main").sum()).eq(1).all()
    for summary in plan.accessibility.values():
        assert summary["share_within_target"] >= 0.9
    check_bases(plan, areas, teams, "children_0_17")
    assert plan.proven and all(r.gap <= 0.001 for r in sum(plan.evidence.values(), ()))


def test_staffordshire_one_hub_per_district():
    scenario, areas, geo = real("staffordshire")
    teams = areas.set_index("area_code")["ward_code"]
    plan = place_hubs(
        areas, geo, teams, scenario.hubs, SOLVER, default_basis=scenario.teams.population_basis
    )
    assert len(plan.hubs) == 8 and (plan.hubs["kind"] == "main").all()
    assert sorted(plan.hubs["locality"]) == sorted(areas["district_name"].unique())
    assert plan.children_basis == "children_0_19"
    assert plan.hubs["children_served"].sum() == pytest.approx(areas["children_0_19"].sum())
    check_bases(plan, areas, teams, "children_0_19")
    assert plan.proven and all(r.gap <= 0.001 for r in sum(plan.evidence.values(), ()))


def test_example_sites_csv_runs_on_sefton():
    """The README's example: Sefton's scenario with examples/sefton_sites.csv."""
    scenario, areas, geo = real("sefton")
    settings = scenario.hubs.model_copy(
        update={
            "sites_csv": Path("../examples/sefton_sites.csv"),
            "coverage_share": None,
            "community_hubs_per_locality": 2,
        }
    )
    teams = areas.set_index("area_code")["ward_code"]
    plan = place_hubs(areas, geo, teams, settings, SOLVER, base_dir=ROOT / "scenarios")
    main = plan.hubs.loc[plan.hubs["kind"] == "main"].set_index("locality")["site_name"]
    assert main.to_dict() == {
        "Central": "Netherton Family Hub",
        "North": "Talbot Street Family Hub",
        "South": "Marie Clarke Family Hub",
    }
    assert not plan.hubs["generated"].any()
    assert "Bootle depot (closed example)" not in set(plan.hubs["site_name"])
    seaforth = plan.hubs.set_index("site_name")["children_served"].get("Seaforth", 0)
    assert seaforth <= 1500
    assert plan.proven
