"""Our team allocation against spopt and GerryChain on the same real instances (issue 5).

For each instance it runs our allocation (``planning.allocate.allocate_teams``), then five PySAL
spopt regionalisation heuristics and a GerryChain ReCom optimiser on the same areas, the same
adjacency (our ``Geography.edges``, bridge links included), the same population basis and, where the
method takes one, the same team count; nested instances are run grouping by grouping with our counts
and combined. Every plan is scored by ``planning.scoring.score_plan``. The table is printed and,
with ``--write``, ``docs/benchmarks.md`` is generated from it.

    .venv/bin/pip install -e '.[anchors]'
    .venv/bin/python benchmarks/anchors.py                       # every instance, print only
    .venv/bin/python benchmarks/anchors.py --write docs/benchmarks.md
    .venv/bin/python benchmarks/anchors.py havant --methods recom,skater   # develop on a small one

Instances: hampshire (34 teams, residents 30-50k, nested in 9 groupings), havant and
fareham_gosport (one grouping alone with the team count the Hampshire plan chose), children_band
(county-wide children 0-17 band, no nesting, free count).

Every anchor runs in a forked child process on one thread, killed at its time limit; random state
is seeded inside that child only (spopt's MaxP draws from numpy's global generator and has no seed
argument), so the benchmark never seeds a global generator of its own process.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import math
import multiprocessing
import os
import platform
import random
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from planning.allocate import TeamPlan, allocate_teams, count_range
from planning.config import Scenario, SolverSettings, TeamSettings, load_scenario
from planning.data import load_areas
from planning.errors import PlanningError
from planning.geography import Geography, build_geography
from planning.scoring import PlanScore, score_plan
from planning.solve import solver_versions

ROOT = Path(__file__).resolve().parent.parent
HAMPSHIRE = ROOT / "scenarios" / "hampshire.yaml"
CHILDREN_BAND = ROOT / "scenarios" / "hampshire_children_band.yaml"
INSTANCES = ("hampshire", "havant", "fareham_gosport", "children_band")
GROUPING_OF = {"havant": "Havant", "fareham_gosport": "Fareham and Gosport"}
#: Team counts the Hampshire 34-team plan chose for these groupings (measured run, see
#: docs/benchmarks.md); used only when the hampshire instance is not run in the same invocation.
CHOSEN_COUNTS = {"Havant": 3, "Fareham and Gosport": 4}
METHODS = ("region_kmeans", "skater", "ward", "spenc", "maxp", "recom")
LABELS = {
    "ours": "ours (planning.allocate, HiGHS)",
    "region_kmeans": "spopt RegionKMeansHeuristic",
    "skater": "spopt Skater",
    "ward": "spopt WardSpatial",
    "spenc": "spopt Spenc",
    "maxp": "spopt MaxPHeuristic",
    "recom": "GerryChain ReCom (short bursts)",
    "ours_at_maxp": "ours at MaxP's team counts",
}
SEED = 0
BURST_LENGTH = 10
#: MaxP's defaults (99 constructions, 10 annealing runs) had not finished after 4 minutes on
#: Havant's 79 areas alone; these let it finish within its time limit on a grouping.
MAXP_CONSTRUCTION, MAXP_SA = 10, 1
#: Shortest time limit any spopt heuristic is given (MaxP needs it; the others finish in seconds).
SPOPT_MIN_SECONDS = 120.0  # MaxP needs about a minute on the children band
#: Our allocation runs in a child killed after this many times its own time limit (its LP-bound
#: stage is not time-limited); see --our-hard-limit.
OUR_HARD_FACTOR = 3.0

log = logging.getLogger("anchors")


# --------------------------------------------------------------------------- instances


@dataclass(frozen=True)
class Instance:
    key: str
    title: str
    areas: gpd.GeoDataFrame
    geo: Geography
    teams: TeamSettings
    solver: SolverSettings
    source: str


def _children_band_scenario() -> tuple[Scenario, str]:
    """The county-wide children band: the scenario file if it exists, else the same settings
    derived here from hampshire.yaml (children 0-17, 30,000-50,000, no nesting, free count)."""
    if CHILDREN_BAND.is_file():
        return load_scenario(CHILDREN_BAND), f"`{CHILDREN_BAND.relative_to(ROOT)}`"
    base = load_scenario(HAMPSHIRE)
    teams = base.teams.model_copy(
        update={
            "population_basis": "children_0_17",
            "nesting": "none",
            "groupings": [],
            "min_teams_per_group": None,
            "max_teams_per_group": None,
            "total_teams": None,
        }
    )
    scenario = base.model_copy(
        update={
            "name": "Hampshire Family Help teams (children 0-17 band, county-wide, free count)",
            "teams": TeamSettings.model_validate(teams.model_dump()),
        }
    )
    return scenario, (
        "`scenarios/hampshire.yaml` with teams: population_basis children_0_17, band "
        "30,000-50,000, nesting none, total_teams unset (the file "
        f"`{CHILDREN_BAND.relative_to(ROOT)}` did not exist)"
    )


def build_instance(key: str, counts: dict[str, int], counts_source: str) -> Instance:
    if key == "children_band":
        scenario, source = _children_band_scenario()
    else:
        scenario, source = load_scenario(HAMPSHIRE), f"`{HAMPSHIRE.relative_to(ROOT)}`"
    areas = load_areas(scenario.councils, scenario.data_dir).areas
    teams, geography = scenario.teams, scenario.geography
    title = scenario.name
    if key in GROUPING_OF:
        grouping = next(g for g in teams.groupings if g.name == GROUPING_OF[key])
        count = counts[grouping.name]
        areas = areas[areas.district_code.isin(grouping.districts)].reset_index(drop=True)
        inside = set(areas.area_code)
        geography = geography.model_copy(
            update={
                "links": [
                    link for link in geography.links if {link.from_area, link.to_area} <= inside
                ]
            }
        )
        teams = teams.model_copy(
            update={
                "groupings": [grouping.model_copy(update={"min_teams": count, "max_teams": count})],
                "total_teams": None,
            }
        )
        title = (
            f"{grouping.name} alone, {count} teams of {teams.min_population:,.0f}-"
            f"{teams.max_population:,.0f} {teams.population_basis}"
        )
        source += f", grouping '{grouping.name}' only, {count} teams ({counts_source})"
    geo = build_geography(areas, geography)
    return Instance(key, title, areas, geo, teams, scenario.solver, source)


# --------------------------------------------------------------------------- blocks


@dataclass(frozen=True)
class Block:
    """Areas an anchor partitions on its own, and into how many teams."""

    name: str
    members: np.ndarray  # indices into the instance's geography
    count: int
    weights: np.ndarray
    xy_km: np.ndarray
    edges: np.ndarray  # local indices
    codes: np.ndarray
    geoms: np.ndarray
    min_pop: float
    max_pop: float
    seed_labels: np.ndarray  # our plan's team per member (a valid ReCom seed if needed)


def plan_blocks_for_anchors(inst: Instance, plan: TeamPlan | None) -> list[Block]:
    """One block per grouping (nested) with our plan's count there, else all areas, our count.

    Without a plan of ours (nesting none only), the largest count the band admits: the count is
    free and person-km falls as teams are added, so that is where our optimum is expected.
    """
    areas, geo, teams = inst.areas, inst.geo, inst.teams
    weights = areas[teams.population_basis].to_numpy(float)
    if teams.nesting == "groupings" and plan is not None:
        counts = {row["group"]: row["teams"] for row in plan.blocks}
        parts = [
            (
                g.name,
                np.flatnonzero(areas.district_code.isin(g.districts).to_numpy()),
                counts[g.name],
            )
            for g in teams.groupings
        ]
    elif teams.nesting == "none":
        count = (
            len(plan.teams)
            if plan is not None
            else count_range(weights.sum(), teams.min_population, teams.max_population)[1]
        )
        parts = [("all areas", np.arange(geo.n), count)]
    elif teams.nesting == "groupings":
        return []  # no plan of ours, so no team count per grouping to give the anchors
    else:
        raise NotImplementedError("only nesting none or groupings is benchmarked")
    ours = plan.assignment.reindex(geo.codes).to_numpy() if plan is not None else np.full(geo.n, -1)
    blocks = []
    for name, members, count in parts:
        local = -np.ones(geo.n, dtype=int)
        local[members] = np.arange(len(members))
        e = geo.edges
        keep = (local[e[:, 0]] >= 0) & (local[e[:, 1]] >= 0)
        blocks.append(
            Block(
                name=name,
                members=members,
                count=int(count),
                weights=weights[members],
                xy_km=np.column_stack([geo.x_m[members], geo.y_m[members]]) / 1000.0,
                edges=np.column_stack([local[e[keep, 0]], local[e[keep, 1]]]),
                codes=geo.codes[members],
                geoms=areas.geometry.to_numpy()[members],
                min_pop=float(teams.min_population),
                max_pop=float(teams.max_population),
                seed_labels=pd.factorize(ours[members], sort=True)[0],
            )
        )
    return blocks


# --------------------------------------------------------------------------- anchors


def _weights_object(block: Block):
    from libpysal.weights import W

    n = len(block.codes)
    nbrs: dict[int, list[int]] = {i: [] for i in range(n)}
    for a, b in block.edges:
        nbrs[int(a)].append(int(b))
        nbrs[int(b)].append(int(a))
    return W({i: sorted(v) for i, v in nbrs.items()}, ids=list(range(n)), silence_warnings=True)


def _frame(block: Block) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"x_km": block.xy_km[:, 0], "y_km": block.xy_km[:, 1], "pop": block.weights},
        geometry=block.geoms,
        crs="EPSG:27700",
    )


ATTRS = ["x_km", "y_km"]


def run_region_kmeans(block: Block, seconds: float) -> tuple[np.ndarray, str]:
    from spopt.region import RegionKMeansHeuristic

    model = RegionKMeansHeuristic(block.xy_km, block.count, _weights_object(block), seed=SEED)
    model.solve()
    return np.asarray(model.labels_), ""


def run_skater(block: Block, seconds: float) -> tuple[np.ndarray, str]:
    from spopt.region import Skater

    model = Skater(_frame(block), _weights_object(block), ATTRS, n_clusters=block.count)
    model.solve()
    return np.asarray(model.labels_), ""


def run_ward(block: Block, seconds: float) -> tuple[np.ndarray, str]:
    from spopt.region import WardSpatial

    model = WardSpatial(_frame(block), _weights_object(block), ATTRS, n_clusters=block.count)
    model.solve()
    return np.asarray(model.labels_), ""


def run_spenc(block: Block, seconds: float) -> tuple[np.ndarray, str]:
    from spopt.region import Spenc

    model = Spenc(
        _frame(block), _weights_object(block), ATTRS, n_clusters=block.count, random_state=SEED
    )
    model.solve()
    return np.asarray(model.labels_), ""


def run_maxp(block: Block, seconds: float) -> tuple[np.ndarray, str]:
    from spopt.region import MaxPHeuristic

    np.random.seed(SEED)  # MaxP has no seed argument; this is the throwaway child's generator
    model = MaxPHeuristic(
        _frame(block),
        _weights_object(block),
        ATTRS,
        "pop",
        block.min_pop,
        top_n=2,
        max_iterations_construction=MAXP_CONSTRUCTION,
        max_iterations_sa=MAXP_SA,
    )
    model.solve()
    return np.asarray(model.labels_), f"chose {model.p} teams"


def run_recom(block: Block, seconds: float) -> tuple[np.ndarray, str]:
    """ReCom short bursts (Cannon et al. 2023) minimising our objective for ``seconds`` wall
    time, from a recursive-tree seed (our own plan if no seed is found in a quarter of the time).

    ReCom keeps every team within +-epsilon of the ideal (total / count): epsilon is the widest
    that keeps that interval inside our band, so every plan it visits is in the band and
    contiguous by construction. The score is the best-centre person-km of ``score_plan``.
    """
    import networkx as nx
    from gerrychain import Graph, Partition
    from gerrychain.accept import always_accept
    from gerrychain.optimization import SingleMetricOptimizer
    from gerrychain.partition.initial_partition_generators import recursive_tree_part
    from gerrychain.proposals import recom
    from gerrychain.updaters import Tally

    start = time.perf_counter()
    deadline = start + seconds
    rng = random.Random(SEED)
    n, k = len(block.codes), block.count
    ideal = float(block.weights.sum()) / k
    epsilon = min(block.max_pop / ideal - 1.0, 1.0 - block.min_pop / ideal) * (1 - 1e-9)
    if epsilon <= 0:
        raise ValueError(f"{k} teams have no room in the band (ideal {ideal:,.0f})")
    g = nx.Graph()
    for i in range(n):  # nodes are area codes; "code" and "idx" survive GerryChain's relabelling
        g.add_node(
            str(block.codes[i]), pop=float(block.weights[i]), code=str(block.codes[i]), idx=i
        )
    g.add_edges_from((str(block.codes[a]), str(block.codes[b])) for a, b in block.edges)
    graph = Graph.from_networkx(g)

    seed_kind = "recursive-tree seed"
    try:
        seed = _with_alarm(
            deadline - 0.75 * seconds,
            lambda: recursive_tree_part(graph, range(k), ideal, "pop", epsilon, rng=rng),
        )
    except Exception as exc:  # no balanced seed found in time
        seed_kind = f"our plan as seed ({type(exc).__name__} from recursive tree)"
        seed = {str(block.codes[i]): int(block.seed_labels[i]) for i in range(n)}
    initial = Partition(graph, seed, updaters={"population": Tally("pop", alias="population")})
    internal = initial.graph.graph
    idx_of = {}
    for node in internal.node_indices:
        data = internal.node_data(node)
        if internal.original_nx_node_id_for_internal_node_id(node) != data["code"]:
            raise RuntimeError("GerryChain node ids no longer map to area codes")
        idx_of[node] = data["idx"]
    dist = cdist(block.xy_km, block.xy_km)
    cache: dict[frozenset, float] = {}

    def part_cost(nodes: frozenset) -> float:
        cost = cache.get(nodes)
        if cost is None:
            if len(cache) > 200_000:
                cache.clear()
            members = np.fromiter((idx_of[v] for v in nodes), dtype=int)
            cost = float((block.weights[members] @ dist[np.ix_(members, members)]).min())
            cache[nodes] = cost
        return cost

    def objective(partition) -> float:
        return sum(part_cost(nodes) for nodes in partition.parts.values())

    def in_band(partition) -> bool:  # holds for either seed; ReCom's halves keep it
        return all(
            block.min_pop - 1e-6 <= p <= block.max_pop + 1e-6
            for p in partition["population"].values()
        )

    proposal = partial(recom, pop_col="pop", pop_target=ideal, epsilon=epsilon)
    optimiser = SingleMetricOptimizer(
        proposal, [in_band], initial, objective, maximize=False, rng=rng
    )
    steps = 0
    seed_cost = objective(initial)
    for _ in optimiser.short_bursts(BURST_LENGTH, 10**9, always_accept):
        steps += 1
        if time.perf_counter() >= deadline:
            break
    best = optimiser.best_part
    labels = np.empty(n, dtype=int)
    parts = sorted(best.parts)
    for t, part in enumerate(parts):
        for node in best.parts[part]:
            labels[idx_of[node]] = t
    return labels, (
        f"{seed_kind} (person-km {seed_cost:,.0f}), {steps:,} steps, epsilon {epsilon:.1%}"
    )


def _with_alarm(deadline: float, fn: Callable):
    """Run fn, raising TimeoutError in this (child) process at ``deadline`` (perf_counter)."""
    import signal

    def on_alarm(signum, frame):
        raise TimeoutError("seed not found in time")

    left = deadline - time.perf_counter()
    if left <= 0:
        raise TimeoutError("no time left for a seed")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, left)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


RUNNERS: dict[str, Callable[[Block, float], tuple[np.ndarray, str]]] = {
    "region_kmeans": run_region_kmeans,
    "skater": run_skater,
    "ward": run_ward,
    "spenc": run_spenc,
    "maxp": run_maxp,
    "recom": run_recom,
}


def _child(conn, method: str, block: Block, seconds: float) -> None:
    from threadpoolctl import threadpool_limits

    warnings.simplefilter("ignore")
    try:
        with threadpool_limits(1):
            labels, note = RUNNERS[method](block, seconds)
        conn.send(("ok", (labels, note)))
    except Exception as exc:  # reported in the table, not raised
        conn.send(("error", f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"))
    finally:
        conn.close()


def run_limited(
    method: str, block: Block, seconds: float, grace: float
) -> tuple[np.ndarray | None, str, float]:
    """Run one anchor on one block in a forked child; kill it after ``seconds + grace``."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, method, block, seconds), daemon=True)
    start = time.perf_counter()
    proc.start()
    send.close()
    limit = seconds + grace
    outcome: tuple[str, object]
    try:
        outcome = recv.recv() if recv.poll(limit) else ("timeout", None)
    except EOFError:
        outcome = ("error", f"child exited with code {proc.exitcode}")
    wall = time.perf_counter() - start
    if proc.is_alive():
        proc.terminate()
    proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    recv.close()
    status, payload = outcome
    if status == "ok":
        labels, note = payload
        return labels, note, wall
    if status == "timeout":
        return None, f"no plan within its {limit:.0f} s time limit", wall
    return None, str(payload), wall


# --------------------------------------------------------------------------- running


def _ours_child(conn, inst: Instance) -> None:
    try:
        conn.send(("ok", allocate_teams(inst.areas, inst.geo, inst.teams, inst.solver)))
    except PlanningError as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}".replace("\n  - ", "; ")))
    finally:
        conn.close()


def run_ours(inst: Instance, hard_limit: float) -> tuple[TeamPlan | None, float, str]:
    """Our allocation in a forked (non-daemon: it forks its own workers) child, killed with its
    workers after ``hard_limit`` seconds."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_ours_child, args=(send, inst))
    start = time.perf_counter()
    proc.start()
    send.close()
    try:
        status, payload = recv.recv() if recv.poll(hard_limit) else ("timeout", None)
    except EOFError:
        status, payload = "error", f"our allocation exited with code {proc.exitcode}"
    wall = time.perf_counter() - start
    if proc.is_alive():
        _kill_tree(proc.pid)
    proc.join()
    recv.close()
    if status == "ok":
        return payload, wall, ""
    if status == "timeout":
        return (
            None,
            wall,
            (
                f"no plan: allocate_teams had not returned after {hard_limit:.0f} s "
                f"(its time limit is {inst.solver.time_limit_seconds:.0f} s) and was "
                "stopped"
            ),
        )
    return None, wall, str(payload)


def _kill_tree(pid: int) -> None:
    """Stop a child we started and the worker processes it started (by pid)."""
    import signal

    try:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
        ).stdout.split()
    except OSError:
        out = []
    for child in [int(p) for p in out] + [pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


@dataclass
class Row:
    key: str
    score: PlanScore | None
    note: str = ""
    counts: tuple[int, ...] | None = None  # teams per grouping (block)


@dataclass
class Result:
    inst: Instance
    plan: TeamPlan | None
    wall: float
    load: tuple[float, float] = (math.nan, math.nan)  # 1-min load average before/after ours
    rows: list[Row] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


def run_instance(
    inst: Instance,
    methods: list[str],
    budget_override: float | None,
    hard_limit: float | None = None,
) -> Result:
    geo, teams = inst.geo, inst.teams
    weights = inst.areas[teams.population_basis].to_numpy(float)
    geoms = inst.areas.geometry.to_numpy()
    hard = hard_limit or OUR_HARD_FACTOR * inst.solver.time_limit_seconds
    log.info(
        "%s: %d areas, our allocation (time limit %.0f s, killed after %.0f s)",
        inst.key,
        geo.n,
        inst.solver.time_limit_seconds,
        hard,
    )
    load_before = os.getloadavg()[0]
    plan, wall, failure = run_ours(inst, hard)
    load_after = os.getloadavg()[0]

    def score(assignment: pd.Series, seconds: float, method: str) -> PlanScore:
        return score_plan(
            assignment,
            geo,
            weights,
            teams.min_population,
            teams.max_population,
            geometries=geoms,
            bound=None if plan is None else plan.bound,
            seconds=seconds,
            method=method,
        )

    result = Result(inst, plan, wall, (load_before, load_after))
    if plan is None:
        result.rows.append(Row("ours", None, f"{failure} ({wall:.0f} s)"))
        log.info("%s ours: %s", inst.key, failure)
    blocks = plan_blocks_for_anchors(inst, plan)
    result.blocks = blocks
    counts = tuple(b.count for b in blocks)
    if plan is not None:
        result.rows.append(
            Row(
                "ours",
                score(plan.assignment, wall, "ours"),
                f"status {plan.status}; reported person-km "
                f"{plan.objective:,.0f}, bound {plan.bound:,.0f}, gap "
                f"{plan.gap:.2%}",
                counts,
            )
        )
    budget = budget_override or (wall if plan is not None else inst.solver.time_limit_seconds)
    if not blocks:
        log.info("%s: anchors not run (no team counts per grouping without our plan)", inst.key)
        methods = []
    for method in methods:
        labels = np.empty(geo.n, dtype=object)
        notes, seconds, failed = [], 0.0, None
        for b, block in enumerate(blocks):
            share = budget * len(block.codes) / geo.n
            grace = 30.0 if method == "recom" else 0.0
            limit = share if method == "recom" else max(share, SPOPT_MIN_SECONDS)
            got, note, secs = run_limited(method, block, limit, grace)
            seconds += secs
            prefix = f"{block.name}: " if len(blocks) > 1 else ""
            if got is None:
                failed = f"{prefix}{note}"
                break
            labels[block.members] = [f"{b:02d}-{t}" for t in got]
            if note and (method != "maxp" or len(blocks) == 1):
                notes.append(f"{prefix}{note}")
        if failed is not None:
            result.rows.append(Row(method, None, failed))
            log.info("%s %s: %s", inst.key, method, failed)
            continue
        if method == "maxp" and len(blocks) > 1:
            notes.append(f"chose {len(set(labels))} teams in all")
        if method == "recom" and len(blocks) > 1:
            seeds = sorted({n.split(": ", 1)[1].split(" (")[0] for n in notes})
            steps = sum(int(n.split(", ")[-2].split()[0].replace(",", "")) for n in notes)
            notes = [f"{'; '.join(seeds)} per grouping; {steps:,} steps in all"]
        assignment = pd.Series(labels, index=geo.codes)
        got_counts = tuple(len(set(labels[b.members])) for b in blocks)
        row = Row(method, score(assignment, seconds, method), "; ".join(notes), got_counts)
        result.rows.append(row)
        log.info("%s %s: %s", inst.key, method, _line(row))
        if method == "maxp" and plan is not None and got_counts != counts:
            _ours_at_counts(result, row, assignment, got_counts, hard, score)
    return result


def _ours_at_counts(
    result: Result, maxp: Row, assignment: pd.Series, counts: tuple[int, ...], hard: float, score
) -> None:
    """MaxP chose its own team counts: solve ours at the same counts, so that the person-km of
    the two plans (and MaxP's gap) are compared at equal numbers of teams."""
    inst = result.inst
    weights = inst.areas[inst.teams.population_basis].to_numpy(float)
    admissible = all(
        lo <= c <= hi
        for b, c in zip(result.blocks, counts, strict=True)
        for lo, hi in [count_range(weights[b.members].sum(), b.min_pop, b.max_pop)]
    )
    if not admissible:
        maxp.note += "; its team counts cannot all meet our band, so ours was not re-run at them"
        return
    if inst.teams.nesting == "groupings":
        by_name = dict(zip((b.name for b in result.blocks), counts, strict=True))
        teams = inst.teams.model_copy(
            update={
                "total_teams": None,
                "groupings": [
                    g.model_copy(
                        update={"min_teams": by_name[g.name], "max_teams": by_name[g.name]}
                    )
                    for g in inst.teams.groupings
                ],
            }
        )
    else:
        teams = inst.teams.model_copy(update={"total_teams": int(sum(counts))})
    variant = replace(inst, teams=teams)
    log.info("%s: ours again at MaxP's team counts %s", inst.key, counts)
    plan, wall, failure = run_ours(variant, hard)
    if plan is None:
        result.rows.append(Row("ours_at_maxp", None, f"{failure} ({wall:.0f} s)", counts))
        return
    mine = score(plan.assignment, wall, "ours_at_maxp")
    result.rows.append(
        Row(
            "ours_at_maxp",
            replace(mine, gap=_gap(mine.objective, plan.bound)),
            f"status {plan.status}; bound {plan.bound:,.0f}, gap "
            f"{plan.gap:.2%}; gap column against this bound",
            counts,
        )
    )
    maxp.score = replace(maxp.score, gap=_gap(maxp.score.objective, plan.bound))
    maxp.note = "; ".join(filter(None, [maxp.note, "gap against our bound at its team counts"]))


def _gap(objective: float, bound: float) -> float:
    return (objective - bound) / objective


# --------------------------------------------------------------------------- output

COLUMNS = [
    "method",
    "teams",
    "out of band",
    "split",
    "person-km",
    "gap to our bound",
    "mean Polsby-Popper",
    "cut edges",
    "largest/smallest",
    "seconds",
]


def _cells(row: Row) -> list[str]:
    s = row.score
    if s is None:
        return [LABELS[row.key], *["-"] * (len(COLUMNS) - 1)]
    gap = "-" if s.gap is None else f"{s.gap:+.2%}"
    return [
        LABELS[row.key],
        str(s.teams),
        str(s.outside_band),
        str(s.non_contiguous),
        f"{s.objective:,.0f}",
        gap,
        f"{s.polsby_popper:.3f}",
        str(s.cut_edges),
        f"{s.max_min_ratio:.2f}",
        f"{s.seconds:.1f}",
    ]


def _line(row: Row) -> str:
    return " | ".join(_cells(row)[1:]) + (f" ({row.note})" if row.note else "")


def markdown_table(result: Result) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in result.rows:
        lines.append("| " + " | ".join(_cells(row)) + " |")
    return "\n".join(lines)


def plain_table(result: Result) -> str:
    rows = [COLUMNS] + [_cells(r) for r in result.rows]
    widths = [max(len(r[c]) for r in rows) for c in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(
            cell.rjust(w) if c else cell.ljust(w)
            for c, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )


WHY = {
    "polsby_popper": "our objective is travel (person-km to a centre area) and never sees a "
    "perimeter: a large, thinly populated rural area adds little person-km wherever it goes, so "
    "the optimiser hands such areas to whichever team has room in the band, leaving ragged "
    "outlines that cost travel nothing; methods that cluster centroids by (unweighted) "
    "squared distance, or that ignore the band, weigh every area alike and so draw rounder "
    "outlines. A planner who values round patches can trade a little person-km for them",
    "cut_edges": "cut edges count adjacencies, not people: the same indifference to the shape "
    "of thinly populated fringes (see Polsby-Popper) leaves our boundaries longer",
    "max_min_ratio": "ReCom keeps every team within +-epsilon of the mean by construction, and a "
    "method that ignores the band can balance differently; our model accepts any team in the band "
    "(30-50k allows a ratio up to 1.67) and spends that freedom on shorter travel",
    "seconds": "the spopt heuristics are greedy constructions that stop in seconds; they neither "
    "keep the band nor prove anything, while ours spends its time closing and proving the gap "
    "(ReCom is given our wall time by design; its seconds differ from ours only by start-up)",
    "objective": "a plan that breaks the band or contiguity is not bound by our lower bound: "
    "it can place people nearer their centre because it is solving an easier problem",
}
MEASURES = {  # attribute, label, better is lower?
    "objective": ("person-km", True),
    "polsby_popper": ("mean Polsby-Popper", False),
    "cut_edges": ("cut edges", True),
    "max_min_ratio": ("largest/smallest", True),
    "seconds": ("seconds", True),
}


def findings(result: Result) -> list[str]:
    """Done-when checks and every measure on which an anchor beats our plan."""
    ours_row = result.rows[0]
    out: list[str] = []
    anchors = [r for r in result.rows[1:] if r.score is not None and r.key != "ours_at_maxp"]
    failed = [r for r in result.rows[1:] if r.score is None]
    if ours_row.key != "ours" or result.plan is None:
        if result.blocks:
            out.append(
                f"- Our allocation gave no plan: {ours_row.note}. The anchors were run "
                f"with {', '.join(str(b.count) for b in result.blocks)} team(s) and the "
                "scenario's time limit as their budget; there is no lower bound to "
                "compare against."
            )
        else:
            out.append(
                f"- Our allocation gave no plan: {ours_row.note}. The anchors were not "
                "run: they take their team count per grouping from our plan."
            )
        out += [f"- {LABELS[r.key]}: no plan ({r.note})." for r in failed]
        return out
    ours = ours_row.score
    plan = result.plan
    out.append(
        f"- Our plan: {ours.outside_band} teams out of band, {ours.non_contiguous} split; "
        f"person-km {ours.objective:,.0f}, proven within {plan.gap:.2%} of the lower "
        f"bound {plan.bound:,.0f} (status {plan.status})."
    )
    same = [r for r in anchors if r.counts == ours_row.counts]
    valid = [r for r in same if r.score.valid]
    if valid:
        best = min(valid, key=lambda r: r.score.objective)
        diff = best.score.objective / ours.objective - 1
        verdict = (
            "at least as good as" if ours.objective <= best.score.objective + 1e-6 else "WORSE than"
        )
        out.append(
            f"- Best anchor with the same team counts that keeps the band and contiguity: "
            f"{LABELS[best.key]}, {best.score.objective:,.0f} person-km ({diff:+.2%} "
            f"against ours): our objective is {verdict} it."
        )
    else:
        out.append(
            "- No anchor with the same team counts produced a plan with every team in "
            "the band and contiguous."
        )
    lower = [r for r in same if r.score.objective < ours.objective - 1e-6 and not r.score.valid]
    if lower:
        names = ", ".join(
            f"{LABELS[r.key]} ({r.score.objective:,.0f}, "
            f"{r.score.objective / ours.objective - 1:+.2%}; {r.score.outside_band} out of band, "
            f"{r.score.non_contiguous} split)"
            for r in lower
        )
        out.append(
            f"- Lower person-km than ours at the same team counts, none of them a valid "
            f"plan: {names}. Why: {WHY['objective']}."
        )
    again = next((r for r in result.rows if r.key == "ours_at_maxp"), None)
    for r in anchors:
        if r.counts == ours_row.counts:
            continue
        text = (
            f"- {LABELS[r.key]} chose its own team counts ({r.score.teams} teams in all, "
            f"against our {ours.teams}), {r.score.outside_band} out of band, "
            f"{r.score.non_contiguous} split, {r.score.objective:,.0f} person-km: more teams "
            "mean shorter travel, so its person-km is not comparable with ours at our counts."
        )
        if again is not None and again.score is not None:
            a = again.score
            verdict = (
                "at least as good as" if a.objective <= r.score.objective + 1e-6 else "WORSE than"
            )
            text += (
                f" Ours at its counts: {a.objective:,.0f} person-km, {a.outside_band} out "
                f"of band, {a.non_contiguous} split, within {a.gap:.2%} of its bound: "
                f"{verdict} MaxP (ours {a.objective / r.score.objective - 1:+.2%} against "
                "it)."
            )
        elif again is not None:
            text += f" Ours at its counts gave no plan: {again.note}."
        else:
            text += f" {r.note}."
        out.append(text)
    for attr, (label, lower) in MEASURES.items():
        if attr == "objective":
            continue
        mine = getattr(ours, attr)
        winners = [
            r
            for r in anchors
            if (
                getattr(r.score, attr) < mine - 1e-9
                if lower
                else getattr(r.score, attr) > mine + 1e-9
            )
        ]
        if winners:
            fmt = (lambda v: f"{v:.1f}") if attr == "seconds" else _fmt
            names = ", ".join(
                f"{LABELS[r.key]} ({fmt(getattr(r.score, attr))}"
                f"{'' if r.score.valid else ', not a valid plan'})"
                for r in winners
            )
            out.append(f"- Anchors ahead on {label} (ours {fmt(mine)}): {names}. Why: {WHY[attr]}.")
    out += [f"- {LABELS[r.key]}: no plan ({r.note})." for r in failed]
    return out


def summary(results: list[Result]) -> list[str]:
    """One line per instance: is ours valid, and how does it stand against the best valid anchor
    with the same team counts."""
    lines = [
        "| instance | ours: out of band / split | our person-km | our gap to bound | best "
        "valid anchor (same counts) | its person-km | ours against it |",
        "|---|---|---|---|---|---|---|",
    ]
    for res in results:
        ours_row = res.rows[0]
        if ours_row.key != "ours" or ours_row.score is None or res.plan is None:
            anchors = [
                r
                for r in res.rows[1:]
                if r.score is not None
                and r.score.valid
                and r.counts == tuple(b.count for b in res.blocks)
            ]
            best = min(anchors, key=lambda r: r.score.objective) if anchors else None
            lines.append(
                f"| {res.inst.key} | no plan | - | - | "
                f"{LABELS[best.key] if best else '-'} | "
                f"{f'{best.score.objective:,.0f}' if best else '-'} | - |"
            )
            continue
        ours = ours_row.score
        valid = [
            r
            for r in res.rows[1:]
            if r.key != "ours_at_maxp"
            and r.score is not None
            and r.score.valid
            and r.counts == ours_row.counts
        ]
        best = min(valid, key=lambda r: r.score.objective) if valid else None
        if best is None:
            versus, name, value = "no valid anchor", "-", "-"
        else:
            diff = ours.objective / best.score.objective - 1
            versus = f"{diff:+.2%} ({'better or equal' if diff <= 1e-9 else 'WORSE'})"
            name, value = LABELS[best.key], f"{best.score.objective:,.0f}"
        lines.append(
            f"| {res.inst.key} | {ours.outside_band} / {ours.non_contiguous} | "
            f"{ours.objective:,.0f} | {res.plan.gap:.2%} | {name} | {value} | "
            f"{versus} |"
        )
    return lines


def _fmt(value: float) -> str:
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> list[tuple[str, str]]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(
            next(
                ln
                for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")
            ).split()[1]
        )
        mem = f", {kb / 2**20:.0f} GiB memory"
    except (OSError, StopIteration, ValueError):
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    solvers = solver_versions()
    packages = [
        "numpy",
        "scipy",
        "pandas",
        "geopandas",
        "shapely",
        "networkx",
        "rustworkx",
        "scikit-learn",
        "libpysal",
        "spopt",
        "gerrychain",
        "pulp",
        "highspy",
    ]
    return [
        (
            "machine",
            f"{platform.machine()}, {cpu}, {os.cpu_count()} cores{mem}; "
            f"{platform.system()} {platform.release()}",
        ),
        ("load average at start (1, 5, 15 min)", load),
        ("python", platform.python_version()),
        ("HiGHS (via highspy)", solvers["highs"]),
        *[(p, _version(p)) for p in packages],
        ("planning", _version("planning")),
        (
            "sha256 of planning/allocate/*.py (first 12)",
            hashlib.sha256(
                b"".join(p.read_bytes() for p in sorted((ROOT / "planning/allocate").glob("*.py")))
            ).hexdigest()[:12],
        ),
        *[
            (
                f"sha256 of {name} (first 12)",
                hashlib.sha256((ROOT / name).read_bytes()).hexdigest()[:12],
            )
            for name in ("planning/scoring.py", "benchmarks/anchors.py")
        ],
    ]


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "no commit"


def document(
    results: list[Result], command: str, env: list[tuple[str, str]], started: str, total: float
) -> str:
    parts = [
        "# Benchmarks: our team allocation against spopt and GerryChain",
        "",
        "Generated by `benchmarks/anchors.py` (do not edit by hand: re-run it). Issue 5: the "
        "planner's claim is that its plans are always inside the band, always contiguous, and "
        "at least as good on travel as what planners would otherwise use, with a proof of how "
        "close to the best they are.",
        "",
        "## How to reproduce",
        "",
        "```",
        ".venv/bin/pip install -e '.[anchors]'",
        command,
        "```",
        "",
        f"Run started {started}, {total / 60:.1f} minutes in all, code at {_git_commit()}.",
        "",
        "## Summary",
        "",
        *summary(results),
        "",
        "## How every plan is scored",
        "",
        "One function, `planning.scoring.score_plan`, scores every plan on our adjacency "
        "(`Geography.edges`, which includes the Langstone Bridge link to Hayling Island), so "
        "contiguity is judged the same way for every method:",
        "",
        "- **out of band**: teams whose population (the instance's basis) is outside the band;",
        "- **split**: teams that are not one connected piece on our adjacency;",
        "- **person-km**: our objective for that partition: the sum over areas of population x "
        "straight-line km from the area's centroid to its team's centre-area centroid, where each "
        "team's centre is the member area that minimises that sum. This is the objective the "
        "method's plan would get under our model (our solver's own centre choice is scored the "
        "same way, so our row can only equal or improve on the solver's reported value);",
        "- **gap to our bound**: (person-km - our solver's lower bound) / person-km. The bound "
        "holds for every plan with the same team counts that keeps the band, contiguity and "
        "nesting; a plan that breaks one of these can fall below it (negative gap);",
        "- **mean Polsby-Popper**: mean over teams of 4 pi A / P^2 of the dissolved team "
        "(1 = circle, 0.785 = square; higher is more compact);",
        "- **cut edges**: adjacencies (links included) whose two areas are in different teams;",
        "- **largest/smallest**: largest team population over smallest;",
        "- **seconds**: wall-clock seconds (for nested instances, summed over groupings).",
        "",
        "## Methods and settings",
        "",
        "- **ours**: `allocate_teams` with the scenario's solver settings (HiGHS, "
        "`processes` worker processes, so it may use both cores). Its time limit is the "
        "scenario's `solver.time_limit_seconds`; it stops as soon as its plan is proven within "
        "`solver.relative_gap` (status `optimal`). Blocks of up to 250 areas (every grouping "
        "here) are solved with Hess's model, contiguity cuts and an LP/MIP bound; a larger block "
        "(the children band's 865 areas) gets its plan from star-contiguity models over the "
        "capacitated assignment's centres and its bound from Lagrangian relaxation, valid for "
        "every contiguous plan in the band (see the README, 'Large blocks').",
        "- **spopt** `RegionKMeansHeuristic`, `Skater`, `WardSpatial`, `Spenc`: given our team "
        "count (per grouping for nested instances) and, as attributes, the area centroids in km "
        "(easting, northing), so each clusters for geographic compactness, the closest attribute "
        "choice to our objective. None of them takes a population band: Skater's `floor` counts "
        "areas, not people, so it is left unset. Seeds: RegionKMeans `seed=0`, Spenc "
        "`random_state=0`; Skater and Ward are deterministic.",
        "- **spopt** `MaxPHeuristic`: threshold = the band's floor on the population basis "
        "(it chooses its own team count and has no ceiling), attributes as above, `top_n=2`, "
        f"`max_iterations_construction={MAXP_CONSTRUCTION}`, `max_iterations_sa={MAXP_SA}` "
        "(its defaults, 99 and 10, had not finished after 4 minutes on Havant's 79 areas "
        "alone); numpy's global generator seeded with 0 inside its child process only (MaxP "
        "has no seed argument).",
        "- **GerryChain ReCom**: `SingleMetricOptimizer.short_bursts` (burst length "
        f"{BURST_LENGTH}) minimising the same best-centre person-km, for the same wall-clock "
        "time as our solve (split across groupings by number of areas), with a seeded "
        "`random.Random(0)` passed as `rng` (never the global seed). ReCom keeps each team within "
        "+-epsilon of the ideal population, epsilon being the widest that keeps that interval "
        "inside our band, so every plan it visits is in the band and contiguous. **Seed plan**: "
        "GerryChain's `recursive_tree_part` (random spanning trees, same rng), not our plan: "
        "seeding from our plan would make ReCom's best-of-run at least as good as ours by "
        "construction and tell us nothing; if no recursive-tree seed is found in a quarter of "
        "the time, it falls back to our plan (the note says which). Graph nodes are area codes, "
        "and each node carries its code, which is read back (and checked against GerryChain's "
        "original-id map) after its internal relabelling.",
        "- Every anchor runs on the same adjacency as ours (a libpysal `W` or a networkx graph "
        "built from `Geography.edges`), in a forked child process limited to one BLAS thread, "
        "killed at its time limit (the spopt methods: the same wall time as our solve for that "
        f"grouping, at least {SPOPT_MIN_SECONDS:.0f} s). Nested instances run the anchors "
        "grouping by grouping with our plan's team counts and combine the plans.",
        "",
        "## Results",
        "",
    ]
    for res in results:
        inst = res.inst
        parts += [
            f"### {inst.key}: {inst.title}",
            "",
            f"{inst.geo.n} areas, {len(res.blocks)} block(s) (groupings run separately), band "
            f"{inst.teams.min_population:,.0f}-{inst.teams.max_population:,.0f} "
            f"{inst.teams.population_basis}. Source: {inst.source}. Time limit for ours "
            f"{inst.solver.time_limit_seconds:.0f} s (relative gap target "
            f"{inst.solver.relative_gap:.0%}, {inst.solver.processes} processes, "
            f"{inst.solver.threads} thread(s) each). One-minute load average on the "
            f"{os.cpu_count()}-core machine before and after our solve: {res.load[0]:.1f}, "
            f"{res.load[1]:.1f} (other people's jobs share it).",
            "",
            markdown_table(res),
            "",
            "Notes per method:",
            "",
            *[f"- {LABELS[r.key]}: {r.note}" for r in res.rows if r.note],
            "",
            "Findings:",
            "",
            *findings(res),
            "",
        ]
        if res.plan is not None and inst.teams.nesting == "groupings" and len(res.blocks) > 1:
            parts += [
                "Our plan per grouping:",
                "",
                "| grouping | teams | status | person-km | bound | gap | seconds |",
                "|---|---|---|---|---|---|---|",
            ]
            for b in res.plan.blocks:
                gap = "-" if b["gap"] is None else f"{b['gap']:.2%}"
                parts.append(
                    f"| {b['group']} | {b['teams']} | {b['status']} | "
                    f"{b['objective']:,.0f} | {b['bound']:,.0f} | {gap} | "
                    f"{b['seconds']:.1f} |"
                )
            parts.append("")
    parts += [
        "## Machine and versions",
        "",
        "| what | version |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in env],
        "",
    ]
    return "\n".join(parts)


def _preload(methods: list[str]) -> None:
    """Import the anchors' packages once, before forking, so no child's seconds include imports."""
    import threadpoolctl  # noqa: F401

    if set(methods) - {"recom"}:
        import libpysal.weights  # noqa: F401
        import spopt.region  # noqa: F401
    if "recom" in methods:
        import gerrychain
        import gerrychain.optimization
        import gerrychain.partition.initial_partition_generators  # noqa: F401
        import networkx  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("instances", nargs="*", help=f"any of {', '.join(INSTANCES)} (default all)")
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated anchors (default all: {','.join(METHODS)})",
    )
    parser.add_argument("--write", type=Path, help="write the markdown report to this file")
    parser.add_argument(
        "--time-limit",
        type=float,
        help="override our solver's time limit (seconds) for a quick look",
    )
    parser.add_argument(
        "--anchor-seconds",
        type=float,
        help="override the anchors' time budget (default: our solve's wall time)",
    )
    parser.add_argument(
        "--our-hard-limit",
        type=float,
        help=f"stop our allocation after this many seconds (default "
        f"{OUR_HARD_FACTOR:.0f} x its time limit)",
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.instances) - set(INSTANCES))
    methods = [m for m in args.methods.split(",") if m]
    bad = sorted(set(methods) - set(METHODS))
    if unknown or bad:
        parser.error(f"unknown instance(s) {unknown} or method(s) {bad}")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    log.setLevel(logging.INFO)
    _preload(methods)
    env = environment()
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    start = time.perf_counter()
    counts = dict(CHOSEN_COUNTS)
    counts_source = "the Hampshire 34-team plan's count in the run recorded in CHOSEN_COUNTS"
    results = []
    for key in sorted(args.instances or INSTANCES, key=INSTANCES.index):
        inst = build_instance(key, counts, counts_source)
        if args.time_limit:
            inst = replace(
                inst, solver=inst.solver.model_copy(update={"time_limit_seconds": args.time_limit})
            )
        try:
            res = run_instance(inst, methods, args.anchor_seconds, args.our_hard_limit)
        except PlanningError as exc:
            print(f"\n{key}: our allocation failed: {exc}", file=sys.stderr)
            raise
        if key == "hampshire" and res.plan is not None:
            chosen = {b["group"]: b["teams"] for b in res.plan.blocks}
            for name in CHOSEN_COUNTS:
                if chosen[name] != counts[name]:
                    log.warning(
                        "the Hampshire plan chose %d teams for %s (table says %d); using %d",
                        chosen[name],
                        name,
                        counts[name],
                        chosen[name],
                    )
                counts[name] = chosen[name]
            counts_source = "the count the Hampshire 34-team plan above chose for it"
        results.append(res)
        print(f"\n{key}: {inst.title} ({inst.geo.n} areas)")
        print(plain_table(res))
        for r in res.rows:
            if r.note:
                print(f"  {LABELS[r.key]}: {r.note}")
        print("\n".join(findings(res)))
    total = time.perf_counter() - start
    print("\n" + "\n".join(summary(results)))
    if args.write:
        command = ".venv/bin/python benchmarks/anchors.py " + " ".join(
            a for a in (argv if argv is not None else sys.argv[1:])
        )
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(document(results, command.strip(), env, started, total))
        print(f"\nwrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
