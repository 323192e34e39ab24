"""Family hubs per locality: a main hub, a network of community hubs, and a base for every team.

Areas are grouped into localities (named groups of districts, wards or areas; by default one per
district). In each locality a location model (PuLP, solved by HiGHS through ``planning.solve``)
opens exactly the scenario's number of main hubs and either a fixed number of community hubs or the
fewest that put a target share of children within reach, minimising children-weighted travel from
each area to its hub, with site capacities respected and forced sites kept open or closed. Every
team is then based at the open hub (a main hub, if the scenario says so) nearest its children in
the locality that holds most of them.

Travel is straight-line km between area centroids and sites times a circuity factor, or minutes read
from a user's travel-time matrix (area code by site name) that replaces it in the model; every
output says which. Geometry is touched only to place sites in areas and to draw layers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pulp
import shapely
from pyproj import Transformer
from scipy.spatial.distance import cdist

from planning.checks import listed, numbers, read_csv, unique
from planning.config import HubSettings, PopulationBasis, SolverSettings
from planning.errors import ConfigError, DataError, InfeasibleError, SolverError
from planning.geography import Geography
from planning.solve import Mip, SolveResult, relative_gap

log = logging.getLogger(__name__)

CRS = "EPSG:27700"

#: Columns of ``candidate_sites``.
SITE_COLUMNS = [
    "site_name",
    "locality",
    "area_code",
    "kind",
    "capacity_children",
    "existing",
    "forced",
    "generated",
    "easting",
    "northing",
]
#: Columns of ``HubPlan.hubs`` (and of hubs.csv).
HUB_COLUMNS = [
    "site_name",
    "locality",
    "kind",
    "generated",
    "easting",
    "northing",
    "teams_based",
    "children_served",
    "mean_distance_km",
    "p90_distance_km",
    "share_within_target",
]
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0", ""}
_KINDS = {"": "any", "any": "any", "main": "main", "community": "community"}
_FORCED = {"": "", "open": "open", "closed": "closed"}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SolveRecord:
    """One HiGHS run for one locality, as HiGHS reported it."""

    locality: str
    stage: str  # "fewest_community_hubs" or "least_travel"
    status: str
    proven: bool  # HiGHS proved the plan optimal within the relative gap
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    variables: int
    constraints: int


@dataclass(frozen=True)
class HubPlan:
    """Open hubs, each area's hub, each team's base, accessibility and the solver's evidence."""

    hubs: pd.DataFrame  # HUB_COLUMNS, one row per open hub
    team_base: pd.Series  # team_id -> site_name
    area_hub: pd.Series  # area_code -> site_name
    localities: pd.Series  # area_code -> locality
    sites: pd.DataFrame  # every candidate site (SITE_COLUMNS)
    accessibility: dict[str, dict[str, Any]]  # locality -> summary
    evidence: dict[str, tuple[SolveRecord, ...]]  # locality -> HiGHS runs
    travel: str  # which travel measure the model used
    children_basis: str  # children column weighting travel, capacity and coverage

    @property
    def proven(self) -> bool:
        """True when every locality's model was solved to optimality within the gap."""
        return all(r.proven for runs in self.evidence.values() for r in runs)

    def evidence_records(self) -> list[dict[str, Any]]:
        """Every HiGHS run as a plain dict (for the manifest)."""
        return [asdict(r) for runs in self.evidence.values() for r in runs]


# --------------------------------------------------------------------------- helpers


FEWEST_HUBS_SHARE = 0.5  # of the time left: the first stage (fewest community hubs) at most


def _resolve_path(path: Path, base_dir: Path | str | None, what: str) -> Path:
    full = path if path.is_absolute() else Path(base_dir or Path.cwd()) / path
    if not full.is_file():
        raise ConfigError(
            f"hubs.{what}: file not found: {full} (relative paths are read from "
            "the scenario file's folder)"
        )
    return full


def children_basis(settings: HubSettings, teams_basis: str) -> str:
    """The children column hubs count: the hub setting, else the teams' basis if it counts
    children, else children aged 0-17."""
    if settings.population_basis is not None:
        return settings.population_basis
    return teams_basis if teams_basis.startswith("children") else "children_0_17"


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Smallest value v such that the weight of values <= v is at least q of the total."""
    if len(values) == 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    if w.sum() <= 0:
        w = np.ones_like(w)
    cum = np.cumsum(w)
    k = int(np.searchsorted(cum, q * cum[-1] - 1e-9 * cum[-1]))
    return float(v[min(k, len(v) - 1)])


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    if len(values) == 0:
        return float("nan")
    if weights.sum() <= 0:
        return float(values.mean())
    return float(np.average(values, weights=weights))


# --------------------------------------------------------------------------- localities


def resolve_localities(areas: pd.DataFrame, settings: HubSettings) -> pd.Series:
    """The locality of every area (index area_code); each area must be claimed exactly once."""
    codes = areas["area_code"].to_numpy()
    if not settings.localities:
        return pd.Series(areas["district_name"].to_numpy(), index=codes, name="locality")

    labels = [f"{c} ({n})" for c, n in zip(codes, areas["area_name"], strict=True)]
    claims = np.zeros((len(codes), len(settings.localities)), dtype=bool)
    problems: list[str] = []
    for k, loc in enumerate(settings.localities):
        for column, given, what in (
            ("district_code", loc.districts, "district"),
            ("ward_code", loc.wards, "ward"),
            ("area_code", loc.areas, "area"),
        ):
            if not given:
                continue
            hit = areas[column].isin(given).to_numpy()
            unknown = sorted(set(given) - set(areas[column]))
            if unknown:
                problems.append(
                    f"locality '{loc.name}': {what} code(s) not among the scenario's "
                    f"areas: {listed(unknown)}"
                )
            claims[:, k] |= hit
    names = [loc.name for loc in settings.localities]
    stray = [labels[i] for i in np.flatnonzero(claims.sum(axis=1) == 0)]
    if stray:
        problems.append(
            f"{len(stray)} area(s) are in no locality: {listed(stray)}. Add their "
            "ward, district or area code to a locality."
        )
    for i in np.flatnonzero(claims.sum(axis=1) > 1):
        owners = " and ".join(f"'{names[k]}'" for k in np.flatnonzero(claims[i]))
        problems.append(f"area {labels[i]} is claimed by localities {owners}")
    if problems:
        raise ConfigError("hubs.localities: every area must be in exactly one locality:", problems)
    owner = np.array(names, dtype=object)[claims.argmax(axis=1)]
    return pd.Series(owner, index=codes, name="locality")


# --------------------------------------------------------------------------- candidate sites


def _generated_sites(areas: gpd.GeoDataFrame) -> pd.DataFrame:
    """One candidate per area, at its centroid (the nearest the data get to a population centre).

    Named ``<area name> (<ward name>)``, e.g. ``Sefton 023E (St Oswald)``.
    """
    centres = shapely.centroid(areas.geometry.to_numpy())
    return pd.DataFrame(
        {
            "site_name": (areas["area_name"] + " (" + areas["ward_name"] + ")").to_numpy(),
            "area_code": areas["area_code"].to_numpy(),
            "kind": "any",
            "capacity_children": np.nan,
            "existing": False,
            "forced": "",
            "generated": True,
            "easting": shapely.get_x(centres),
            "northing": shapely.get_y(centres),
        }
    )


def _parse_sites(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Validate a sites table read as strings; every problem is reported at once."""
    table = table.rename(columns=lambda c: str(c).strip().lower())
    cols = set(table.columns)
    if "site_name" not in cols:
        raise DataError(f"{source}: needs a site_name column; found {', '.join(table.columns)}")
    has_en = {"easting", "northing"} <= cols
    has_ll = {"longitude", "latitude"} <= cols
    if not (has_en or has_ll):
        raise DataError(
            f"{source}: needs easting and northing (EPSG:27700 metres) or longitude "
            "and latitude columns"
        )
    table = table.fillna("").map(lambda v: str(v).strip())
    problems: list[str] = []
    names = table["site_name"]
    if (names == "").any():
        rows = [str(i + 2) for i in np.flatnonzero(names == "")]
        problems.append(f"site_name is blank on line(s) {listed(rows)}")
    lowered = names.str.lower()
    dupes = sorted(set(names[lowered.duplicated(keep=False) & (names != "")]))
    if dupes:
        problems.append(f"duplicate site names (names must be unique): {listed(dupes)}")

    def column(name: str) -> pd.Series:
        return table[name] if name in table else pd.Series("", index=table.index)

    def parsed(name: str) -> pd.Series:
        return pd.to_numeric(column(name).replace("", np.nan), errors="coerce")

    east, north = parsed("easting"), parsed("northing")
    lon, lat = parsed("longitude"), parsed("latitude")
    use_ll = east.isna() | north.isna()
    if use_ll.any():
        x, y = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(
            lon[use_ll].to_numpy(), lat[use_ll].to_numpy()
        )
        east = east.where(~use_ll, pd.Series(x, index=east.index[use_ll]))
        north = north.where(~use_ll, pd.Series(y, index=north.index[use_ll]))
    for i in table.index:
        site = f"site '{names[i]}' (line {i + 2})"
        if use_ll[i] and (pd.isna(lon[i]) or pd.isna(lat[i])):
            problems.append(f"{site}: needs easting/northing or longitude/latitude numbers")
        elif use_ll[i] and not (-9 <= lon[i] <= 3 and 49 <= lat[i] <= 61):
            problems.append(
                f"{site}: longitude {lon[i]}, latitude {lat[i]} is not in Great "
                "Britain (swapped columns?)"
            )
        elif not (0 <= east[i] <= 700_000 and 0 <= north[i] <= 1_300_000):
            problems.append(
                f"{site}: easting {east[i]}, northing {north[i]} is not an "
                "EPSG:27700 position in Great Britain"
            )

    kind = column("kind").str.lower()
    bad = sorted(set(kind) - set(_KINDS))
    if bad:
        problems.append(f"kind must be main, community or blank; got {listed(bad)}")
    forced = column("forced").str.lower()
    bad = sorted(set(forced) - set(_FORCED))
    if bad:
        problems.append(f"forced must be open, closed or blank; got {listed(bad)}")
    existing = column("existing").str.lower()
    bad = sorted(set(existing) - _YES - _NO)
    if bad:
        problems.append(f"existing must be yes or no; got {listed(bad)}")
    capacity = parsed("capacity_children")
    given = column("capacity_children")
    bad_cap = (given != "") & ~(np.isfinite(capacity) & (capacity > 0))
    bad_cap &= ~((capacity == 0) & (forced == "closed"))
    if bad_cap.any():
        problems.append(
            "capacity_children must be a number of children above 0 (blank: no limit; 0 only "
            "for a site forced closed); bad for "
            + listed([f"'{n}' (line {i + 2}: {given[i]!r})" for i, n in names[bad_cap].items()])
        )
    if problems:
        raise DataError(f"{source}: the sites table has {len(problems)} problem(s):", problems)
    return pd.DataFrame(
        {
            "site_name": names.to_numpy(),
            "kind": kind.map(_KINDS).to_numpy(),
            "capacity_children": capacity.to_numpy(dtype=float),
            "existing": existing.isin(_YES).to_numpy(),
            "forced": forced.map(_FORCED).to_numpy(),
            "generated": False,
            "easting": east.to_numpy(dtype=float),
            "northing": north.to_numpy(dtype=float),
        }
    )


def _locate_sites(
    sites: pd.DataFrame, areas: gpd.GeoDataFrame, tolerance_m: float, source: str
) -> np.ndarray:
    """The area code holding each site; a site beyond ``tolerance_m`` of every area is an error."""
    points = shapely.points(sites["easting"].to_numpy(), sites["northing"].to_numpy())
    geoms = areas.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    codes = areas["area_code"].to_numpy()
    found = np.full(len(points), -1)
    pt, area = tree.query(points, predicate="intersects")
    for p, a in sorted(zip(pt, area, strict=True), key=lambda pa: (pa[0], codes[pa[1]])):
        if found[p] < 0:
            found[p] = a
    problems = []
    for p in np.flatnonzero(found < 0):
        idx, dist = tree.query_nearest(points[p], return_distance=True, all_matches=False)
        if dist[0] <= tolerance_m:
            found[p] = int(idx[0])
            log.warning(
                "site '%s' lies %.0f m outside the boundary; joined to %s",
                sites["site_name"].iat[p],
                dist[0],
                codes[idx[0]],
            )
        else:
            problems.append(
                f"site '{sites['site_name'].iat[p]}' at easting {sites['easting'].iat[p]:.0f}, "
                f"northing {sites['northing'].iat[p]:.0f} is {dist[0] / 1000:.1f} km outside the "
                f"councils (nearest area {codes[idx[0]]} ({areas['area_name'].iat[idx[0]]}))"
            )
    if problems:
        raise DataError(f"{source}: site(s) outside the councils being planned:", problems)
    return codes[found]


def candidate_sites(
    areas: gpd.GeoDataFrame, settings: HubSettings, base_dir: Path | str | None = None
) -> pd.DataFrame:
    """Candidate hub sites with their area and locality: from the sites CSV, or generated."""
    localities = resolve_localities(areas, settings)
    if settings.sites_csv is None:
        sites = _generated_sites(areas)
        source = "generated at area centroids"
    else:
        path = _resolve_path(settings.sites_csv, base_dir, "sites_csv")
        source = str(path)
        raw = read_csv(path, "hubs.sites_csv", ["site_name"])
        if raw.empty:
            raise DataError(f"{path}: lists no sites")
        sites = _parse_sites(raw, source)
        sites["area_code"] = _locate_sites(sites, areas, settings.site_tolerance_m, source)
    sites["locality"] = sites["area_code"].map(localities)
    sites = sites[SITE_COLUMNS].sort_values(["locality", "site_name"]).reset_index(drop=True)
    log.info(
        "candidate sites: %d (%s) in %d localities", len(sites), source, sites["locality"].nunique()
    )
    return sites


def check_hub_inputs(
    areas: gpd.GeoDataFrame, settings: HubSettings, base_dir: Path | str | None = None
) -> int:
    """Read and check every file the hubs stage reads (sites CSV, travel-time matrix) without
    solving, as ``validate`` must; returns the number of candidate sites."""
    localities = resolve_localities(areas, settings)
    sites = candidate_sites(areas, settings, base_dir)
    if settings.travel_time_csv is not None:
        path = _resolve_path(settings.travel_time_csv, base_dir, "travel_time_csv")
        names = pd.Series(areas["area_name"].to_numpy(), index=areas["area_code"].to_numpy())
        read_travel_times(path, localities, sites, names)
    return len(sites)


# --------------------------------------------------------------------------- travel


def read_travel_times(
    path: Path, localities: pd.Series, sites: pd.DataFrame, area_names: pd.Series
) -> pd.DataFrame:
    """Minutes from each area (rows) to each site (columns) in its locality.

    The CSV is wide (an ``area_code`` column, then one column per site name) or long (columns
    ``area_code``, ``site_name``, ``minutes``). Every area needs a time to every candidate site
    in its locality; anything missing is an error naming it.
    """
    what = f"hubs.travel_time_csv: {path}"
    names = area_names.to_dict()
    raw = read_csv(path, "hubs.travel_time_csv", ["area_code"])
    lower = {c.lower(): c for c in raw.columns}
    if {"site_name", "minutes"} <= set(lower):
        long = raw.rename(columns={lower[k]: k for k in ("site_name", "minutes")})
        unique(long, ["area_code", "site_name"], what, names=names)
        long["minutes"] = numbers(long, "minutes", what, key="area_code", names=names)
        matrix = long.pivot(index="area_code", columns="site_name", values="minutes")
    else:
        unique(raw, ["area_code"], what, names=names)
        matrix = raw.set_index("area_code")
        for site in matrix.columns:
            matrix[site] = numbers(
                raw, site, what, key="area_code", names=names, blank=frozenset({""})
            ).to_numpy()
    problems: list[str] = []
    missing_areas = [c for c in localities.index if c not in matrix.index]
    if missing_areas:
        problems.append(
            f"{len(missing_areas)} area(s) have no row: "
            + listed([f"{c} ({area_names[c]})" for c in missing_areas])
        )
    missing_sites = [s for s in sites["site_name"] if s not in matrix.columns]
    if missing_sites:
        problems.append(f"{len(missing_sites)} site(s) have no column: {listed(missing_sites)}")
    if not problems:
        gaps = []
        for loc, group in sites.groupby("locality", sort=True):
            rows = localities.index[localities == loc]
            block = matrix.loc[rows, group["site_name"]]
            bad = block.isna() | (block < 0)
            for r, c in zip(*np.nonzero(bad.to_numpy()), strict=True):
                gaps.append(f"{rows[r]} -> '{block.columns[c]}'")
        if gaps:
            problems.append(f"{len(gaps)} blank, negative or non-numeric time(s): {listed(gaps)}")
    if problems:
        raise DataError(
            f"{path}: the travel-time matrix does not cover every area and site in each locality:",
            problems,
        )
    return matrix.loc[localities.index, list(sites["site_name"])].astype(float)


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class _Instance:
    """One locality's model data, as arrays (areas sorted by code, sites by name)."""

    name: str
    weights: np.ndarray  # (n,) children
    cost: np.ndarray  # (n, m) km (estimated road) or minutes
    near: np.ndarray  # (n, m) bool: within the target
    can_main: np.ndarray  # (m,) bool
    can_community: np.ndarray
    forced_open: np.ndarray
    capacity: np.ndarray  # (m,) children, nan = unlimited
    n_main: int
    n_community: int | None  # None: fewest reaching coverage
    coverage: float | None
    main_share: float  # share of visits to the nearest main hub


def _precheck(inst: _Instance, target: str) -> list[str]:
    """Quantitative reasons a locality's model cannot be feasible, found before solving."""
    problems = []
    total = float(inst.weights.sum())
    forced_main = int((inst.forced_open & inst.can_main & ~inst.can_community).sum())
    forced_comm = int((inst.forced_open & inst.can_community & ~inst.can_main).sum())
    forced_any = int(inst.forced_open.sum())
    if forced_main > inst.n_main:
        problems.append(
            f"locality '{inst.name}': {forced_main} main site(s) are forced open but "
            f"main_hubs_per_locality is {inst.n_main}"
        )
    if inst.n_community is not None:
        if forced_comm > inst.n_community:
            problems.append(
                f"locality '{inst.name}': {forced_comm} community site(s) are forced "
                f"open but community_hubs_per_locality is {inst.n_community}"
            )
        if forced_any > inst.n_main + inst.n_community:
            problems.append(
                f"locality '{inst.name}': {forced_any} sites are forced open but only "
                f"{inst.n_main + inst.n_community} hubs are to open"
            )
        usable = int((inst.can_main | inst.can_community).sum())
        if usable < inst.n_main + inst.n_community:
            problems.append(
                f"locality '{inst.name}': {inst.n_main + inst.n_community} hubs are "
                f"to open but it has only {usable} usable candidate site(s)"
            )
    cap = np.where(np.isnan(inst.capacity), np.inf, inst.capacity)
    usable_cap = float(cap[inst.can_main | inst.can_community].sum())
    if usable_cap < total - 1e-6:
        problems.append(
            f"locality '{inst.name}': its sites can take at most {usable_cap:,.0f} "
            f"children but it has {total:,.0f}; raise capacity_children or add sites"
        )
    if inst.coverage is not None:
        usable = inst.can_main | inst.can_community
        reach = inst.near[:, usable].any(axis=1)
        share = float(inst.weights[reach].sum() / total) if total > 0 else 1.0
        if share < inst.coverage - 1e-9:
            problems.append(
                f"locality '{inst.name}': coverage target unreachable: even with all "
                f"{int(usable.sum())} candidate sites open, only {share:.1%} of children are "
                f"within {target} of one (target {inst.coverage:.0%}); lower coverage_share, "
                "raise the target distance or add sites"
            )
    return problems


def _build(
    inst: _Instance, stage: str, community_count: int | None, total: float
) -> tuple[pulp.LpProblem, dict[str, Any]]:
    """The location model; ``stage`` is fewest_community_hubs or least_travel."""
    n, m = inst.cost.shape
    prob = pulp.LpProblem(f"hubs_{stage}", pulp.LpMinimize)
    capped = ~np.isnan(inst.capacity)
    cat = pulp.LpBinary if capped.any() else pulp.LpContinuous
    main = {j: pulp.LpVariable(f"m_{j}", cat=pulp.LpBinary) for j in range(m) if inst.can_main[j]}
    comm = {
        j: pulp.LpVariable(f"c_{j}", cat=pulp.LpBinary) for j in range(m) if inst.can_community[j]
    }
    x = {
        (i, j): pulp.LpVariable(f"x_{i}_{j}", 0, 1, cat=cat)
        for i in range(n)
        for j in range(m)
        if j in main or j in comm
    }
    opened = {
        j: pulp.lpSum([v for v in (main.get(j), comm.get(j)) if v is not None])
        for j in sorted(set(main) | set(comm))
    }

    if stage == "least_travel":
        # visits: (1 - share) to the nearest hub, share to the nearest main hub
        w, c, share = inst.weights, inst.cost, inst.main_share
        terms = [float((1 - share) * w[i] * c[i, j]) * v for (i, j), v in x.items()]
        if share > 0 and inst.n_main == 1:  # one main hub: all its locality's visits go there
            terms += [float(share * (w @ c[:, j])) * v for j, v in main.items()]
        elif share > 0:
            z = {(i, j): pulp.LpVariable(f"z_{i}_{j}", 0, 1) for i in range(n) for j in main}
            terms += [float(share * w[i] * c[i, j]) * v for (i, j), v in z.items()]
            for i in range(n):
                prob += pulp.lpSum(z[i, j] for j in main) == 1, f"main_assign_{i}"
            for (i, j), v in z.items():
                prob += v - main[j] <= 0, f"main_open_{i}_{j}"
        prob += pulp.lpSum(terms)
    else:
        prob += pulp.lpSum(comm.values())
    for i in range(n):
        prob += pulp.lpSum(x[i, j] for j in opened) == 1, f"assign_{i}"
    for (i, j), v in x.items():
        prob += v - opened[j] <= 0, f"open_{i}_{j}"
    for j in opened:
        if j in main and j in comm:
            prob += main[j] + comm[j] <= 1, f"one_kind_{j}"
        if inst.forced_open[j]:
            prob += opened[j] == 1, f"forced_{j}"
        if capped[j]:
            prob += (
                (
                    pulp.lpSum(float(inst.weights[i]) * x[i, j] for i in range(n))
                    - float(inst.capacity[j]) * opened[j]
                    <= 0
                ),
                f"capacity_{j}",
            )
    prob += pulp.lpSum(main.values()) == inst.n_main, "main_hubs"
    if community_count is not None:
        prob += pulp.lpSum(comm.values()) == community_count, "community_hubs"
    if inst.coverage is not None:
        covered = [float(inst.weights[i]) * v for (i, j), v in x.items() if inst.near[i, j]]
        prob += pulp.lpSum(covered) >= inst.coverage * total - 1e-6, "coverage"
    return prob, {"main": main, "comm": comm, "x": x, "capped": bool(capped.any())}


def nearest_site_bound(inst: _Instance) -> float:
    """A travel total every placement meets: each area's visits go at best to its nearest site
    that may open (its nearest main-capable site for the main-hub share)."""
    usable = inst.can_main | inst.can_community
    if not usable.any() or not inst.can_main.any():
        return 0.0
    w, c, share = inst.weights, inst.cost, inst.main_share
    nearest = float(w @ c[:, usable].min(axis=1))
    if share <= 0:
        return (1 - share) * nearest
    if inst.n_main == 1:  # every visit to the one main hub: the cheapest single main site
        main = float((w @ c[:, inst.can_main]).min())
    else:
        main = float(w @ c[:, inst.can_main].min(axis=1))
    return (1 - share) * nearest + share * main


def _nearest(inst: _Instance, sites: list[int] | np.ndarray) -> np.ndarray:
    """Each area's nearest site among ``sites`` (site indices)."""
    sites = np.asarray(sites)
    return sites[inst.cost[:, sites].argmin(axis=1)]


def _with_floor(inst: _Instance, res: SolveResult, objective: float) -> SolveResult:
    """``res`` for a travel plan costing ``objective``, its bound at least the nearest-site bound
    (and at most the plan)."""
    bound = min(max(res.bound or 0.0, nearest_site_bound(inst)), objective)
    return replace(res, objective=objective, bound=bound, gap=relative_gap(objective, bound))


def _nearest_open(inst: _Instance, warm: dict[str, float]) -> dict[str, float]:
    """``warm`` with every area assigned to its nearest open hub and nearest open main hub."""
    m = inst.cost.shape[1]
    mains = [j for j in range(m) if warm.get(f"m_{j}", 0.0) > 0.5]
    opened = [j for j in range(m) if j in mains or warm.get(f"c_{j}", 0.0) > 0.5]
    out = {k: v for k, v in warm.items() if not k.startswith(("x_", "z_"))}
    out |= {f"x_{i}_{j}": 1.0 for i, j in enumerate(_nearest(inst, opened))}
    if mains:
        out |= {f"z_{i}_{j}": 1.0 for i, j in enumerate(_nearest(inst, mains))}
    return out


def kept_first_stage(
    inst: _Instance, prob: pulp.LpProblem, res: SolveResult, warm: dict[str, float]
) -> SolveRecord:
    """The travel model's record when HiGHS ended without a plan: the first stage's placement
    (``warm``, which meets every rule of the travel model) at its travel cost, against a bound
    that holds for every placement, flagged as not proven. Without capacities each area is
    costed at its nearest open hub (and nearest open main hub), as the stage assigns it."""
    if np.isnan(inst.capacity).all():
        warm = _nearest_open(inst, warm)
    objective = prob.objective.constant + sum(
        coef * warm.get(var.name, 0.0) for var, coef in prob.objective.items()
    )
    res = _with_floor(inst, res, objective)
    record = replace(_record(inst, "least_travel", res, prob), status="time_limit", proven=False)
    log.warning(
        "hubs %s / least_travel: HiGHS found no plan in %.1f s; kept the placement of the fewest "
        "community hubs, travel %.0f against a bound of %.0f (gap %.1f%%), NOT optimised for "
        "travel; raise solver.time_limit_seconds for a better one",
        inst.name,
        res.seconds,
        objective,
        res.bound,
        100 * (record.gap or 0.0),
    )
    return record


def _record(inst: _Instance, stage: str, res: SolveResult, prob: pulp.LpProblem) -> SolveRecord:
    return SolveRecord(
        locality=inst.name,
        stage=stage,
        status=res.status,
        proven=res.status == "optimal",
        objective=res.objective,
        bound=res.bound,
        gap=res.gap,
        seconds=round(res.seconds, 3),
        variables=len(prob.variables()),
        constraints=len(prob.constraints),
    )


def _run(
    inst: _Instance,
    stage: str,
    community_count: int | None,
    solver: SolverSettings,
    gap: float,
    deadline: float,
    warm: dict[str, float] | None = None,
) -> tuple[SolveRecord, dict[str, float], dict[str, Any]]:
    total = float(inst.weights.sum())
    prob, handles = _build(inst, stage, community_count, total)
    mip = Mip(prob, threads=solver.threads, seed=solver.seed)
    start = None
    if warm is not None:
        start = np.array([warm.get(v.name, 0.0) for v in mip.variables])
    res = mip.solve(
        time_limit=max(1.0, deadline - time.monotonic()), relative_gap_target=gap, warm_start=start
    )
    if stage == "least_travel" and res.objective is not None:  # a bound of 0 says nothing
        res = _with_floor(inst, res, res.objective)
    record = _record(inst, stage, res, prob)
    log.info(
        "hubs %s / %s: %s, objective %s, bound %s, gap %s, %.2f s (%d vars, %d rows)",
        inst.name,
        stage,
        res.status,
        res.objective,
        res.bound,
        res.gap,
        res.seconds,
        record.variables,
        record.constraints,
    )
    if res.status == "infeasible":
        raise InfeasibleError(
            f"locality '{inst.name}': no hub plan meets the settings ({inst.n_main} main hub(s), "
            + (
                f"{inst.n_community} community hub(s)"
                if inst.n_community is not None
                else f"coverage {inst.coverage:.0%}"
            )
            + f", {total:,.0f} children, site capacities and forced sites). Relax capacities, "
            "forced sites or the hub counts."
        )
    if not res.has_solution and warm is not None and stage == "least_travel":
        return kept_first_stage(inst, prob, res, warm), warm, handles
    if not res.has_solution:
        raise SolverError(
            f"locality '{inst.name}' ({stage}): HiGHS ended '{res.status}' with no "
            "plan; raise solver.time_limit_seconds"
        )
    if not record.proven:
        log.warning(
            "hubs %s / %s: HiGHS stopped '%s' with gap %s; the plan is NOT proven optimal",
            inst.name,
            stage,
            res.status,
            res.gap,
        )
    values = {v.name: mip.value_of(res.values, v) for v in mip.variables}
    return record, values, handles


def _solve_locality(
    inst: _Instance,
    solver: SolverSettings,
    gap: float,
    deadline: float,
) -> tuple[np.ndarray, np.ndarray, tuple[SolveRecord, ...]]:
    """Open kinds per site ('' closed, 'main', 'community') and each area's site index."""
    records = []
    count, warm = inst.n_community, None
    if count is None:
        # the fewest hubs first, in at most a share of the time: the travel model needs the rest
        first = time.monotonic() + FEWEST_HUBS_SHARE * max(0.0, deadline - time.monotonic())
        rec, warm, handles = _run(inst, "fewest_community_hubs", None, solver, 0.0, first)
        records.append(rec)
        count = round(sum(warm[v.name] for v in handles["comm"].values()))
        mains = [j for j, v in handles["main"].items() if warm[v.name] > 0.5]
        if mains and inst.n_main > 1:  # start each area at its nearest main hub
            nearest = _nearest(inst, mains)
            warm |= {f"z_{i}_{j}": 1.0 for i, j in enumerate(nearest)}
    rec, values, handles = _run(inst, "least_travel", count, solver, gap, deadline, warm)
    records.append(rec)
    m = inst.cost.shape[1]
    kinds = np.array([""] * m, dtype=object)
    for j, v in handles["main"].items():
        if values[v.name] > 0.5:
            kinds[j] = "main"
    for j, v in handles["comm"].items():
        if values[v.name] > 0.5:
            kinds[j] = "community"
    open_idx = np.flatnonzero(kinds != "")
    if handles["capped"]:
        share = np.zeros(inst.cost.shape)
        for (i, j), v in handles["x"].items():
            share[i, j] = values[v.name]
        hub = share.argmax(axis=1)
    else:  # uncapacitated: every area goes to its nearest open hub, as the optimum does
        hub = _nearest(inst, open_idx)
    return kinds, hub, tuple(records)


# --------------------------------------------------------------------------- the stage


def _team_localities(
    assignment: pd.Series, localities: pd.Series, children: pd.Series
) -> pd.Series:
    """Each team's locality: the one holding most of its children (ties: first by name)."""
    frame = pd.DataFrame({"team": assignment, "locality": localities, "children": children})
    sums = frame.groupby(["team", "locality"])["children"].agg(["sum", "size"]).reset_index()
    sums = sums.sort_values(
        ["team", "sum", "size", "locality"], ascending=[True, False, False, True]
    )
    return sums.drop_duplicates("team").set_index("team")["locality"]


def _check_inputs(areas: pd.DataFrame, geo: Geography, assignment: pd.Series) -> None:
    codes = list(areas["area_code"])
    if list(geo.codes) != codes:
        raise DataError(
            "hubs: the geography was not built from this areas table (area codes "
            "differ); build it with build_geography(areas, ...)"
        )
    missing = [c for c in codes if c not in assignment.index]
    unknown = [str(c) for c in assignment.index if c not in set(codes)]
    problems = []
    if missing:
        names = dict(zip(areas["area_code"], areas["area_name"], strict=True))
        problems.append(
            f"{len(missing)} area(s) have no team: "
            + listed([f"{c} ({names[c]})" for c in missing])
        )
    if unknown:
        problems.append(
            f"{len(unknown)} team area code(s) are not among the areas: " + listed(unknown)
        )
    if assignment.index.duplicated().any():
        problems.append("some areas are assigned to two teams")
    if problems:
        raise DataError("hubs: the team assignment does not match the areas:", problems)


@dataclass(frozen=True)
class _Travel:
    """The travel measure the model minimises, and its target."""

    cost: np.ndarray  # (areas, sites): road km estimate or minutes
    minutes: np.ndarray | None  # the matrix, when one was given
    target_value: float
    target: str  # e.g. "2 km" or "20 min"
    label: str  # which measure, for every output


def _travel(
    areas: pd.DataFrame,
    localities: pd.Series,
    sites: pd.DataFrame,
    road_km: np.ndarray,
    settings: HubSettings,
    base_dir: Path | str | None,
) -> _Travel:
    """Straight-line km times circuity, or the user's travel-time matrix in its place."""
    if settings.travel_time_csv is None:
        return _Travel(
            road_km,
            None,
            settings.target_distance_km,
            f"{settings.target_distance_km:g} km",
            f"straight-line km x circuity {settings.circuity_factor:g}",
        )
    path = _resolve_path(settings.travel_time_csv, base_dir, "travel_time_csv")
    names = pd.Series(areas["area_name"].to_numpy(), index=areas["area_code"].to_numpy())
    minutes = read_travel_times(path, localities, sites, names).to_numpy()
    target = float(settings.target_minutes or 0)
    return _Travel(
        minutes, minutes, target, f"{target:g} min", f"travel-time matrix {path.name} (minutes)"
    )


def _instances(
    localities: pd.Series,
    sites: pd.DataFrame,
    weights: np.ndarray,
    travel: _Travel,
    settings: HubSettings,
) -> list[_Instance]:
    """One model instance per locality (sorted by name), after every up-front check."""
    instances: list[_Instance] = []
    problems: list[str] = []
    for loc in sorted(localities.unique()):
        rows = np.flatnonzero((localities == loc).to_numpy())
        loc_sites = sites.index[sites["locality"] == loc].to_numpy()
        s = sites.loc[loc_sites]
        closed = (s["forced"] == "closed").to_numpy()
        can_main = s["kind"].isin(["main", "any"]).to_numpy() & ~closed
        if can_main.sum() < settings.main_hubs_per_locality:
            shown = [
                f"'{n}' ({k}{', closed' if c else ''})"
                for n, k, c in zip(s["site_name"], s["kind"], closed, strict=True)
            ]
            problems.append(
                f"locality '{loc}' has {int(can_main.sum())} eligible main site(s) "
                f"but needs {settings.main_hubs_per_locality}"
                + (f"; its sites: {listed(shown)}" if shown else "; no candidate site lies in it")
            )
            continue
        keep = settings.keep_existing_sites & s["existing"] & ~closed
        cost = travel.cost[np.ix_(rows, loc_sites)]
        instances.append(
            _Instance(
                name=str(loc),
                weights=weights[rows],
                cost=cost,
                near=cost <= travel.target_value + 1e-9,
                can_main=can_main,
                can_community=s["kind"].isin(["community", "any"]).to_numpy() & ~closed,
                forced_open=((s["forced"] == "open") | keep).to_numpy(),
                capacity=s["capacity_children"].to_numpy(dtype=float),
                n_main=settings.main_hubs_per_locality,
                n_community=(settings.community_hubs_per_locality or 0)
                if settings.coverage_share is None
                else None,
                coverage=settings.coverage_share,
                main_share=settings.main_hub_visit_share,
            )
        )
    if problems:
        raise ConfigError("hubs: locality without an eligible main site:", problems)
    for inst in instances:
        problems += _precheck(inst, travel.target)
    if problems:
        raise InfeasibleError("hubs: no hub plan can meet the settings:", problems)
    return instances


def place_hubs(
    areas: gpd.GeoDataFrame,
    geo: Geography,
    assignment: pd.Series,
    settings: HubSettings,
    solver_settings: SolverSettings,
    *,
    default_basis: PopulationBasis = "children_0_17",
    base_dir: Path | str | None = None,
) -> HubPlan:
    """Open main and community hubs per locality and base every team at one.

    ``assignment`` maps area_code to team_id. ``default_basis`` is the teams' population basis:
    children on it weight travel when the hub settings name no basis (residents fall back to
    children aged 0-17). Relative CSV paths are read from ``base_dir``
    (the scenario file's folder). Raises ConfigError, DataError or InfeasibleError naming the
    locality, site or area at fault; a plan HiGHS did not prove optimal is logged and flagged
    (``HubPlan.proven`` false, each SolveRecord's status).
    """
    _check_inputs(areas, geo, assignment)
    basis = children_basis(settings, default_basis)
    codes = areas["area_code"].to_numpy()
    localities = resolve_localities(areas, settings)
    sites = candidate_sites(areas, settings, base_dir)
    weights = areas[basis].to_numpy(dtype=float)
    road_km = (
        cdist(np.column_stack([geo.x_m, geo.y_m]), sites[["easting", "northing"]].to_numpy())
        / 1000.0
        * settings.circuity_factor
    )
    travel = _travel(areas, localities, sites, road_km, settings, base_dir)
    instances = _instances(localities, sites, weights, travel, settings)

    deadline = time.monotonic() + solver_settings.time_limit_seconds
    kinds = pd.Series("", index=sites.index, dtype=object)
    area_site = np.empty(len(codes), dtype=int)
    evidence: dict[str, tuple[SolveRecord, ...]] = {}
    for inst in instances:
        loc_sites = sites.index[sites["locality"] == inst.name].to_numpy()
        rows = np.flatnonzero((localities == inst.name).to_numpy())
        k, hub, records = _solve_locality(inst, solver_settings, settings.relative_gap, deadline)
        kinds.loc[loc_sites] = k
        area_site[rows] = loc_sites[hub]
        evidence[inst.name] = records

    area_hub = pd.Series(sites["site_name"].to_numpy()[area_site], index=codes, name="site_name")
    team_base = _team_bases(
        assignment, localities, weights, travel.cost, sites, kinds, settings.team_base_at_main_hub
    )
    hubs, accessibility = _summarise(
        sites,
        kinds,
        area_site,
        localities,
        weights,
        road_km,
        travel,
        basis,
        team_base,
        evidence,
        settings,
    )
    plan = HubPlan(
        hubs=hubs,
        team_base=team_base,
        area_hub=area_hub,
        localities=localities,
        sites=sites,
        accessibility=accessibility,
        evidence=evidence,
        travel=travel.label,
        children_basis=basis,
    )
    log.info(
        "hubs: %d main and %d community hubs in %d localities; %d teams based; travel %s; %s",
        int((hubs["kind"] == "main").sum()),
        int((hubs["kind"] == "community").sum()),
        len(evidence),
        len(team_base),
        travel.label,
        "all proven optimal" if plan.proven else "NOT all proven optimal",
    )
    return plan


def _team_bases(
    assignment: pd.Series,
    localities: pd.Series,
    weights: np.ndarray,
    cost: np.ndarray,
    sites: pd.DataFrame,
    kinds: pd.Series,
    main_only: bool,
) -> pd.Series:
    """Each team's base: the open hub in its locality nearest its children there."""
    codes = localities.index
    children = pd.Series(weights, index=codes)
    team_loc = _team_localities(assignment.reindex(codes), localities, children)
    team_of = assignment.reindex(codes).to_numpy()
    bases = {}
    for team, loc in team_loc.items():
        ok = (sites["locality"] == loc) & (kinds == "main" if main_only else kinds != "")
        cand = sites.index[ok].to_numpy()
        rows = np.flatnonzero((team_of == team) & (localities == loc).to_numpy())
        w = weights[rows] if weights[rows].sum() > 0 else np.ones(len(rows))
        score = w @ cost[np.ix_(rows, cand)]
        order = np.lexsort(
            (
                sites.loc[cand, "site_name"].to_numpy(),
                (kinds[cand] != "main").to_numpy(),
                np.round(score, 9),
            )
        )
        bases[team] = sites.at[cand[order[0]], "site_name"]
    return pd.Series(bases, name="site_name").rename_axis("team_id").sort_index()


def _summarise(
    sites: pd.DataFrame,
    kinds: pd.Series,
    area_site: np.ndarray,
    localities: pd.Series,
    weights: np.ndarray,
    road_km: np.ndarray,
    travel: _Travel,
    basis: str,
    team_base: pd.Series,
    evidence: dict[str, tuple[SolveRecord, ...]],
    settings: HubSettings,
) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """The hubs table and the accessibility summary per locality."""
    rows = np.arange(len(area_site))
    km = road_km[rows, area_site]
    near = travel.cost[rows, area_site] <= travel.target_value + 1e-9
    target, minutes = travel.target, travel.minutes
    based = team_base.value_counts()
    hub_rows = []
    for j in np.flatnonzero((kinds != "").to_numpy()):
        served = area_site == j
        w = weights[served]
        hub_rows.append(
            {
                "site_name": sites.at[j, "site_name"],
                "locality": sites.at[j, "locality"],
                "kind": kinds[j],
                "generated": bool(sites.at[j, "generated"]),
                "easting": round(float(sites.at[j, "easting"]), 1),
                "northing": round(float(sites.at[j, "northing"]), 1),
                "teams_based": int(based.get(sites.at[j, "site_name"], 0)),
                "children_served": round(float(w.sum()), 1),
                "mean_distance_km": round(_weighted_mean(km[served], w), 3),
                "p90_distance_km": round(weighted_quantile(km[served], w, 0.9), 3),
                "share_within_target": round(float(w[near[served]].sum() / w.sum()), 4)
                if w.sum() > 0
                else float("nan"),
            }
        )
    hubs = pd.DataFrame(hub_rows, columns=HUB_COLUMNS)
    hubs["_order"] = hubs["kind"].map({"main": 0, "community": 1})
    hubs = hubs.sort_values(["locality", "_order", "site_name"]).drop(columns="_order")
    hubs = hubs.reset_index(drop=True)

    rule = (
        f"fewest reaching {settings.coverage_share:.0%} within {target}"
        if settings.coverage_share is not None
        else f"fixed {settings.community_hubs_per_locality or 0}"
    )
    team_loc = pd.Series(sites.set_index("site_name")["locality"]).reindex(team_base.to_numpy())
    summary: dict[str, dict[str, Any]] = {}
    for loc, runs in evidence.items():
        mask = (localities == loc).to_numpy()
        w = weights[mask]
        loc_hubs = hubs[hubs["locality"] == loc]
        final = runs[-1]
        mains = np.flatnonzero(((kinds == "main") & (sites["locality"] == loc)).to_numpy())
        entry: dict[str, Any] = {
            "areas": int(mask.sum()),
            "teams_based": int((team_loc == loc).sum()),
            "children_basis": basis,
            "children": round(float(w.sum()), 1),
            "main_hubs": loc_hubs.loc[loc_hubs["kind"] == "main", "site_name"].tolist(),
            "community_hubs": loc_hubs.loc[loc_hubs["kind"] == "community", "site_name"].tolist(),
            "community_hubs_rule": rule,
            "travel": travel.label,
            "target": target,
            "mean_distance_km": round(_weighted_mean(km[mask], w), 3),
            "p90_distance_km": round(weighted_quantile(km[mask], w, 0.9), 3),
            "share_within_target": round(float(w[near[mask]].sum() / w.sum()), 4)
            if w.sum() > 0
            else 1.0,
            "mean_distance_to_main_hub_km": round(
                _weighted_mean(road_km[np.ix_(mask, mains)].min(axis=1), w), 3
            ),
            "status": final.status,
            "proven_optimal": all(r.proven for r in runs),
            "gap": final.gap,
            "seconds": round(sum(r.seconds for r in runs), 3),
        }
        if minutes is not None:
            mins = minutes[np.flatnonzero(mask), area_site[mask]]
            entry["mean_travel_minutes"] = round(_weighted_mean(mins, w), 2)
            entry["p90_travel_minutes"] = round(weighted_quantile(mins, w, 0.9), 2)
        summary[loc] = entry
    return hubs, summary


# --------------------------------------------------------------------------- layers for outputs


def hubs_layer(plan: HubPlan) -> gpd.GeoDataFrame:
    """Open hubs as points (EPSG:27700), for the ``hubs`` GeoPackage layer and maps."""
    points = gpd.points_from_xy(plan.hubs["easting"], plan.hubs["northing"], crs=CRS)
    return gpd.GeoDataFrame(plan.hubs.copy(), geometry=points, crs=CRS)


def localities_layer(areas: gpd.GeoDataFrame, plan: HubPlan) -> gpd.GeoDataFrame:
    """Locality boundaries (areas dissolved) with their accessibility summary."""
    frame = gpd.GeoDataFrame(
        {"locality": plan.localities.reindex(areas["area_code"]).to_numpy()},
        geometry=areas.geometry.to_numpy(),
        crs=areas.crs,
    )
    shapes = frame.dissolve(by="locality", as_index=False).sort_values("locality")
    keys = [
        "areas",
        "teams_based",
        "children",
        "mean_distance_km",
        "p90_distance_km",
        "share_within_target",
        "status",
        "gap",
    ]
    for key in keys:
        shapes[key] = [plan.accessibility[loc][key] for loc in shapes["locality"]]
    shapes["main_hubs"] = [
        "; ".join(plan.accessibility[loc]["main_hubs"]) for loc in shapes["locality"]
    ]
    return shapes.reset_index(drop=True)
