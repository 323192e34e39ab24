"""Which blocks exist (districts, groupings or the whole area), their admissible team counts, and
each block's model arrays. A block is a set of areas whose teams must lie within it.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix

from planning.config import TeamSettings
from planning.errors import ConfigError, InfeasibleError
from planning.geography import Geography
from planning.solve import relative_gap

if TYPE_CHECKING:
    from planning.allocate.bounds import LpBound
    from planning.allocate.nodes import Nodes


@dataclass(frozen=True)
class Block:
    """A set of areas whose teams must lie within it, and the team counts it may take."""

    name: str
    members: np.ndarray  # indices into the geography, sorted
    counts: tuple[int, ...]
    population: float
    undersized: bool = False  # below the band on its own: one team, flagged (teams.undersized)


@dataclass(frozen=True)
class BlockInstance:
    """Everything one block's model needs, as plain arrays (picklable for worker processes)."""

    name: str
    weights: np.ndarray  # population on the band's basis, per member
    dist_km: np.ndarray  # (n, n)
    cost: np.ndarray  # (n, n): person-km of area i in the team centred at j, + change penalty
    edges: np.ndarray  # (m, 2) local indices
    min_pop: float
    max_pop: float
    counts: tuple[int, ...]
    labels: tuple[str, ...]  # "code (name)" per member, for messages
    work: np.ndarray | None = None  # workload per member (teams.workload), None without a band
    min_work: float = 0.0
    max_work: float = math.inf

    def fits(self, pop: np.ndarray | float, work: np.ndarray | float = 0.0) -> np.ndarray:
        """Whether teams of these populations (and workloads) lie in the band(s)."""
        tol = 1e-6
        ok = (pop >= self.min_pop - tol) & (pop <= self.max_pop + tol)
        if self.work is not None:
            ok = ok & (work >= self.min_work - tol) & (work <= self.max_work + tol)
        return ok

    def team_work(self, members: np.ndarray) -> float:
        """A team's workload (0 without a workload band)."""
        return 0.0 if self.work is None else float(self.work[members].sum())


@dataclass(frozen=True)
class BlockResult:
    """The best contiguous plan found for one block at one team count, with its proof."""

    name: str
    count: int
    status: str
    objective: float | None
    bound: float | None
    centres: np.ndarray | None  # local index of each member's centre
    seconds: float
    cut_rounds: int
    cuts: int
    lp: LpBound | None = None  # small blocks: the LP relaxation, reused by later solves

    @property
    def gap(self) -> float | None:
        return relative_gap(self.objective, self.bound)


def count_range(population: float, min_pop: float, max_pop: float) -> tuple[int, int]:
    """Team counts the band admits for a population: ceil(P / max) .. floor(P / min)."""
    return math.ceil(population / max_pop - 1e-9), math.floor(population / min_pop + 1e-9)


def plan_blocks(areas: pd.DataFrame, settings: TeamSettings) -> tuple[list[Block], list[str]]:
    """Split areas into blocks by the nesting rule and list each block's admissible team counts.

    Returns the blocks and a list of problems (empty when every block can be met).
    """
    weights = areas[settings.population_basis].to_numpy(float)
    if settings.nesting == "none":
        names = (
            sorted(set(areas.district_name))
            if areas.district_code.nunique() == 1
            else sorted(set(areas.get("council_name", areas.district_name)))
        )
        groups = [(" and ".join(names), np.arange(len(areas)), None, None)]
    elif settings.nesting == "district":
        limits, wrong = district_limits(areas, settings)
        if wrong:
            raise ConfigError("teams.district_limits: districts not found:", wrong)
        groups = [
            (name, np.flatnonzero(areas.district_code.to_numpy() == code), *limits.get(code, ()))
            for code, name in areas[["district_code", "district_name"]]
            .drop_duplicates()
            .sort_values("district_code")
            .itertuples(index=False)
        ]
    else:
        district = areas.district_code.to_numpy()
        groups = [
            (g.name, np.flatnonzero(np.isin(district, g.districts)), g.min_teams, g.max_teams)
            for g in settings.groupings
        ]
    problems = []
    if settings.nesting == "groupings":
        claimed: dict[str, str] = {}
        for g in settings.groupings:
            for code in g.districts:
                if code in claimed:
                    problems.append(
                        f"district {code} is in groupings '{claimed[code]}' and '{g.name}'"
                    )
                claimed[code] = g.name
        names = dict(zip(areas.district_code, areas.district_name, strict=False))
        missing = sorted(set(areas.district_code) - set(claimed))
        for code in missing:
            problems.append(f"district {code} ({names[code]}) is in no grouping; add it to one")
        for code in sorted(set(claimed) - set(areas.district_code)):
            problems.append(
                f"grouping '{claimed[code]}' names district {code}, which is not in the councils"
            )
    blocks = []
    for name, members, *caps in groups:
        gmin, gmax = [*caps, None, None][:2]
        pop = float(weights[members].sum())
        lo, hi = count_range(pop, settings.min_population, settings.max_population)
        want_lo = gmin or settings.min_teams_per_group or 1
        want_hi = gmax or settings.max_teams_per_group or hi
        counts = tuple(range(max(lo, want_lo), min(hi, want_hi) + 1))
        undersized = hi == 0 and settings.undersized == "one_team" and len(members) > 0
        if undersized:
            counts = (1,)
        work_counts = workload_counts(areas, members, settings)
        if work_counts is not None and not undersized and counts:
            fits = tuple(c for c in counts if work_counts[0] <= c <= work_counts[1])
            if not fits:
                problems.append(_workload_problem(name, areas, members, settings, counts))
            counts = fits or counts
        if len(members) == 0:
            problems.append(f"{name}: has no areas")
        elif not counts:
            problems.append(_count_problem(name, pop, settings, (lo, hi), (want_lo, want_hi)))
        blocks.append(Block(name, np.sort(members), counts, pop, undersized))
    if settings.total_teams is not None and not problems:
        lo = sum(min(b.counts) for b in blocks)
        hi = sum(max(b.counts) for b in blocks)
        if not lo <= settings.total_teams <= hi:
            problems.append(
                f"total_teams {settings.total_teams} cannot be met: the groups admit {lo}-{hi} "
                "teams in all ("
                + ", ".join(f"{b.name} {min(b.counts)}-{max(b.counts)}" for b in blocks)
                + ")"
            )
        else:  # a count no choice of the others' counts can bring to the total is never chosen
            blocks = [
                replace(b, counts=reachable_counts(b.counts, lo, hi, settings.total_teams))
                for b in blocks
            ]
    return blocks, problems


def reachable_counts(counts: tuple[int, ...], lo: int, hi: int, total: int) -> tuple[int, ...]:
    """The counts of one block that some choice of the other blocks' counts (which sum to any
    whole number in ``lo - min(counts) .. hi - max(counts)``, each block's counts being a range)
    brings to ``total``: a single block with a fixed total keeps only that count."""
    others_lo, others_hi = lo - min(counts), hi - max(counts)
    return tuple(c for c in counts if others_lo <= total - c <= others_hi)


def district_limits(
    areas: pd.DataFrame, settings: TeamSettings
) -> tuple[dict[str, tuple[int | None, int | None]], list[str]]:
    """(min, max) teams per district code from ``teams.district_limits`` (each named by code or
    name), and a problem for each limit naming an unknown district or one already limited."""
    names = dict(zip(areas.district_code, areas.district_name, strict=False))
    by_name = {v: k for k, v in names.items()}
    limits: dict[str, tuple[int | None, int | None]] = {}
    seen: dict[str, int] = {}
    problems = []
    for k, limit in enumerate(settings.district_limits):
        code = limit.district if limit.district in names else by_name.get(limit.district)
        if code is None:
            close = difflib.get_close_matches(limit.district, [*names, *by_name], n=3, cutoff=0.6)
            problems.append(
                f"teams.district_limits[{k}]: district '{limit.district}' is not among the "
                "councils' districts (give its E06/E07/E08/E09 code or its name as in the data)"
                + (f"; close: {', '.join(close)}" if close else "")
            )
        elif code in seen:
            problems.append(
                f"teams.district_limits[{k}]: district {code} ({names[code]}) is limited twice "
                f"(also at district_limits[{seen[code]}])"
            )
        else:
            seen[code] = k
            limits[code] = (limit.min_teams, limit.max_teams)
    return limits, problems


def workload_counts(
    areas: pd.DataFrame, members: np.ndarray, settings: TeamSettings
) -> tuple[int, float] | None:
    """Team counts the workload band admits for a block: ceil(W / max) .. floor(W / min)."""
    band = settings.workload
    if band is None:
        return None
    work = float(areas[band.basis].to_numpy(float)[members].sum())
    lo = math.ceil(work / band.max - 1e-9) if band.max else 1
    hi = math.floor(work / band.min + 1e-9) if band.min else math.inf
    return max(lo, 1), hi


def _workload_problem(
    name: str,
    areas: pd.DataFrame,
    members: np.ndarray,
    settings: TeamSettings,
    counts: tuple[int, ...],
) -> str:
    """Why the workload band fits none of the counts the population band admits, and what would."""
    band = settings.workload
    work = float(areas[band.basis].to_numpy(float)[members].sum())
    low = "-" if band.min is None else f"{band.min:,g}"
    high = "-" if band.max is None else f"{band.max:,g}"
    what = band.basis.replace("_", " ")
    return (
        f"{name}: {work:,.1f} {what} cannot be split into {counts[0]}-{counts[-1]} teams (what "
        f"the population band and team limits admit) of {low} to {high} {what} each; a "
        f"workload band of about {work / counts[-1]:,.1f}-{work / counts[0]:,.1f} would fit"
    )


def _count_problem(
    name: str, pop: float, settings: TeamSettings, admits: tuple[int, int], wanted: tuple[int, int]
) -> str:
    """Why no team count fits a block, and what band or counts would."""
    lo, hi = admits
    band = f"{settings.min_population:,g}-{settings.max_population:,g}"
    head = f"{name}: {pop:,.0f} {settings.population_basis}"
    if hi == 0:
        return (
            f"{head} is below the band's minimum of {settings.min_population:,g} on its own; "
            "add a neighbouring council (or group it with a neighbouring district), lower "
            f"min_population to {pop:,.0f} or less, or set teams.undersized: one_team to plan "
            "it as one team below the band, flagged in every output"
        )
    if lo > hi:
        return (
            f"{head} cannot be split into teams of {band}: staying under the maximum needs "
            f"at least {lo} teams, but at most {hi} fit above the minimum; lower "
            f"min_population to {pop / lo:,.0f} ({lo} teams) or raise max_population to "
            f"{pop / hi:,.0f} ({hi} teams)"
        )
    want_lo, want_hi = wanted
    return (
        f"{head} cannot form {want_lo}-{want_hi} teams of {band}: the band admits {lo}-{hi} "
        f"teams; {want_lo}-{want_hi} teams would need a band of about "
        f"{pop / want_hi:,.0f}-{pop / want_lo:,.0f}"
    )


def feasible_blocks(areas: pd.DataFrame, settings: TeamSettings) -> list[Block]:
    """The blocks, or an InfeasibleError listing every block no team count can meet."""
    blocks, problems = plan_blocks(areas, settings)
    if problems:
        raise InfeasibleError(
            f"no plan can meet the team band of {settings.min_population:,g}-"
            f"{settings.max_population:,g} {settings.population_basis}:",
            problems,
        )
    return blocks


def block_instance(
    geo: Geography,
    weights: np.ndarray,
    block: Block,
    settings: TeamSettings,
    current: np.ndarray | None = None,
    nodes: Nodes | None = None,
    work: np.ndarray | None = None,
) -> BlockInstance:
    """The arrays of one block over its nodes (areas, or wards and locked groups merged), with
    edges restricted to it and relabelled 0..n-1.

    Node u centred at node v costs the person-km of u's areas to v's representative area. With a
    current plan (team label per area), putting an area in a team whose centre has another label
    costs ``change_penalty_km_per_person`` extra per person. ``work`` (per area) adds the
    workload band of ``settings.workload``.
    """
    members = block.members
    if nodes is None or nodes.is_identity:
        row, reps, labels = np.arange(len(members)), members, [geo.label(i) for i in members]
    else:
        ids, row = np.unique(nodes.of_area[members], return_inverse=True)
        reps, labels = nodes.rep[ids], list(nodes.name[ids])
    k = len(reps)
    local = -np.ones(geo.n, dtype=int)
    local[members] = row
    e = geo.edges
    inside = (local[e[:, 0]] >= 0) & (local[e[:, 1]] >= 0)
    pairs = np.sort(np.column_stack([local[e[inside, 0]], local[e[inside, 1]]]), axis=1)
    edges = np.unique(pairs[pairs[:, 0] != pairs[:, 1]], axis=0).reshape(-1, 2)
    cost = weights[members, None] * geo.distance_km(members, reps)
    if current is not None and settings.change_penalty_km_per_person > 0:
        moved = current[members, None] != current[None, reps]
        cost = cost + settings.change_penalty_km_per_person * weights[members, None] * moved
    node_work = None
    if k < len(members):
        merge = coo_matrix(
            (np.ones(len(members)), (row, np.arange(len(members)))), (k, len(members))
        )
        merge = merge.tocsr()
        cost = np.asarray(merge @ cost)
        node_weights = np.asarray(merge @ weights[members]).ravel()
        if work is not None:
            node_work = np.asarray(merge @ work[members]).ravel()
    else:
        node_weights = weights[members].astype(float)
        node_work = None if work is None else work[members].astype(float)
    band = settings.workload
    return BlockInstance(
        name=block.name,
        weights=node_weights,
        dist_km=geo.distance_km(reps, reps),
        cost=cost,
        edges=edges,
        min_pop=0.0 if block.undersized else float(settings.min_population),
        max_pop=float(settings.max_population),
        counts=block.counts,
        labels=tuple(labels),
        work=node_work if band is not None else None,
        min_work=0.0 if band is None or block.undersized else float(band.min or 0.0),
        max_work=math.inf if band is None or band.max is None else float(band.max),
    )


def expand_plan(plan: np.ndarray, block: Block, nodes: Nodes | None) -> np.ndarray:
    """A plan over a block's nodes (each node's centre node) as a plan over its areas (each
    area's centre area, as local indices into ``block.members``)."""
    if nodes is None or nodes.is_identity:
        return plan
    ids, row = np.unique(nodes.of_area[block.members], return_inverse=True)
    rep_local = np.searchsorted(block.members, nodes.rep[ids])
    return rep_local[plan[row]]


def band_for_count(inst: BlockInstance, count: int) -> BlockInstance:
    """The block with its band narrowed to what ``count`` teams allow: with the others at the
    band's edges, one team holds at most P - (count - 1) min and at least P - (count - 1) max
    (and the same for the workload band).

    Every plan with ``count`` teams keeps the narrowed band, so bounds and cuts stay valid; at
    a tight count it is much narrower (East Devon at 5 teams: 30,000-30,821 residents)."""
    total = float(inst.weights.sum())
    low = max(inst.min_pop, total - (count - 1) * inst.max_pop)
    high = min(inst.max_pop, total - (count - 1) * inst.min_pop)
    work_low, work_high = inst.min_work, inst.max_work
    if inst.work is not None:
        work = float(inst.work.sum())
        work_low = max(inst.min_work, work - (count - 1) * inst.max_work)
        work_high = min(inst.max_work, work - (count - 1) * inst.min_work)
    if (
        low <= inst.min_pop
        and high >= inst.max_pop
        and work_low <= inst.min_work
        and work_high >= inst.max_work
    ):
        return inst
    return replace(
        inst,
        min_pop=low,
        max_pop=max(low, high),
        counts=(count,),
        min_work=work_low,
        max_work=max(work_low, work_high),
    )


def sub_instance(inst: BlockInstance, members: np.ndarray, count: int) -> BlockInstance:
    """The block restricted to some of its areas (local indices), to hold ``count`` teams."""
    local = -np.ones(len(inst.weights), dtype=int)
    local[members] = np.arange(len(members))
    e = inst.edges
    inside = (local[e[:, 0]] >= 0) & (local[e[:, 1]] >= 0)
    return BlockInstance(
        name=f"{inst.name} (pair)",
        weights=inst.weights[members],
        dist_km=inst.dist_km[np.ix_(members, members)],
        cost=inst.cost[np.ix_(members, members)],
        edges=np.column_stack([local[e[inside, 0]], local[e[inside, 1]]]),
        min_pop=inst.min_pop,
        max_pop=inst.max_pop,
        counts=(count,),
        labels=tuple(inst.labels[i] for i in members),
        work=None if inst.work is None else inst.work[members],
        min_work=inst.min_work,
        max_work=inst.max_work,
    )
