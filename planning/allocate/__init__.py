"""Areas -> contiguous, compact teams whose population lies in a band: the allocation stage.

The model is Hess's: every area joins one team, each team is named by its centre area, and the
objective is the population-weighted distance (person-km) from each area to its team's centre.
Each team's population lies in [min, max] on the scenario's basis and every team is contiguous.

The methods live in their own modules; only ``search`` (the strategy) combines them:
``blocks`` (which blocks, which counts), ``graph`` (paths, cut vertices, split teams),
``bounds`` (LP by column generation, Lagrangian), ``hess`` (the exact model with separator
cuts), ``star`` (star-contiguity plans), ``local_search`` (grow, balance, repair, improve),
``small_block`` and ``large_block`` (one pair, by block size), ``tuning`` (every named number)
and ``deadline`` (the one clock).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from planning.allocate.blocks import (
    Block,
    block_instance,
    count_range,
    expand_plan,
    feasible_blocks,
)
from planning.allocate.deadline import Deadline
from planning.allocate.nodes import area_nodes, check_nodes
from planning.allocate.plan import TeamPlan, assemble, check_plan, holder_text
from planning.allocate.search import CountSearch, Progress, choose_counts
from planning.allocate.tuning import TUNING
from planning.config import SolverSettings, TeamSettings
from planning.errors import InfeasibleError, SolverError
from planning.geography import Geography
from planning.solve import relative_gap

__all__ = [
    "Progress",
    "TeamPlan",
    "allocate_teams",
    "bound_holders",
    "check_plan",
    "choose_counts",
    "count_range",
    "feasible_blocks",
]

log = logging.getLogger(__name__)


def allocate_teams(
    areas: pd.DataFrame,
    geo: Geography,
    settings: TeamSettings,
    solver: SolverSettings,
    current: pd.Series | None = None,
    progress: Callable[[Progress], None] | None = None,
    locks: pd.Series | None = None,
) -> TeamPlan:
    """Contiguous teams within the band, the team count per block chosen exactly, with the proof.

    ``solver.time_limit_seconds`` is the whole stage's wall clock. The result carries the status,
    objective, bound and gap, and every (block, count) pair's evidence, so the overall bound can
    be recomputed as the cheapest choice of counts over the pairs' bounds.
    """
    start = time.monotonic()
    deadline = Deadline.after(solver.time_limit_seconds)
    blocks = feasible_blocks(areas, settings)
    weights = areas[settings.population_basis].to_numpy(float)
    too_big = np.flatnonzero(weights > settings.max_population)
    if len(too_big):
        raise InfeasibleError(
            "some single areas exceed the band's maximum on their own:",
            [f"{geo.label(i)}: {weights[i]:,.0f}" for i in too_big],
        )
    nodes = area_nodes(areas, geo, weights, settings.building_block, locks)
    check_nodes(nodes, weights, settings, blocks)
    work = None if settings.workload is None else areas[settings.workload.basis].to_numpy(float)
    labels = None if current is None else current.reindex(areas.area_code).to_numpy()
    insts = [block_instance(geo, weights, b, settings, labels, nodes, work) for b in blocks]
    total = None if settings.total_teams is None else (settings.total_teams, settings.total_teams)
    search = CountSearch(insts, solver, total, _progress_logger(progress))
    search.run(deadline)
    seconds = time.monotonic() - start
    pairs = _pair_rows(search, blocks)
    best, bound_choice = search.best(), search.bound()
    if bound_choice is None:
        raise InfeasibleError(
            "no plan exists: every team count of these groups is proven infeasible "
            "(band and contiguity):",
            _no_plan_lines(search, blocks, proven_only=True),
        )
    if best is None:
        raise SolverError(
            f"no contiguous plan within the band was found in {seconds:.0f} s (the whole "
            "allocation stage); every admissible team count was tried as below. Raise "
            "solver.time_limit_seconds, widen the band, or limit the team counts:",
            _no_plan_lines(search, blocks, proven_only=False),
        )
    objective, counts = best
    bound = bound_choice[0]
    if not (bound > 0 or objective == 0) or bound > objective * (1 + 1e-9) + 1e-6:
        raise SolverError(
            f"internal error: the allocation's bound {bound:,.3f} does not fit its objective "
            f"{objective:,.3f} (a bound must be positive and at most the objective); nothing "
            "was written. Please report this with the scenario."
        )
    gap = relative_gap(objective, bound) or 0.0
    status = "optimal" if gap <= solver.relative_gap + 1e-12 else "time_limit"
    chosen = [search.pairs[b, c] for b, c in enumerate(counts)]
    count_bound = min(objective, sum(p.bound for p in chosen))
    count_gap = relative_gap(objective, count_bound) or 0.0
    holders = bound_holders(pairs, bound_choice[1], [blk.name for blk in blocks])
    plans = [expand_plan(p.plan, blk, nodes) for p, blk in zip(chosen, blocks, strict=True)]
    assignment, teams = assemble(areas, geo, blocks, plans, settings, nodes)
    below = teams.team_id[teams.below_band].tolist()
    if below:
        log.warning(
            "teams below the band's minimum of %s %s (teams.undersized: one_team): %s",
            f"{settings.min_population:,.0f}",
            settings.population_basis,
            ", ".join(below),
        )
    block_rows = [row for row in pairs if row["chosen"]]
    log.info(
        "allocation: %d teams, objective %.0f, bound %.0f, gap %.3f%%, %.1f s (%s)",
        len(teams),
        objective,
        bound,
        100 * gap,
        seconds,
        status,
    )
    if holders:
        log.info(
            "at the plan's own team counts the gap is %.3f%%; the rest is held by %s",
            100 * count_gap,
            "; ".join(holder_text(h) for h in holders),
        )
    return TeamPlan(
        assignment,
        teams,
        status,
        objective,
        bound,
        gap,
        seconds,
        settings.population_basis,
        block_rows,
        pairs,
        below,
        TUNING.as_dict(),
        **_changes(areas, geo, assignment, teams, labels),
        building_block=settings.building_block,
        nodes=nodes.n,
        ward_joins=list(nodes.ward_joins),
        locks=list(nodes.locks),
        count_bound=count_bound,
        count_gap=count_gap,
        bound_holders=holders,
    )


def bound_holders(pairs: list[dict], bound_counts: list[int], groups: list[str]) -> list[dict]:
    """The groups whose count in the overall bound's choice is not the plan's count: the
    (group, count) pairs that hold the gap above the gap at the plan's own counts. Each row
    gives that pair's bound and its best plan (None: no plan found there, none ruled out)."""
    by_key = {(p["group"], p["teams"]): p for p in pairs}
    chosen = {p["group"]: p["teams"] for p in pairs if p["chosen"]}
    rows = []
    for group, count in zip(groups, bound_counts, strict=True):
        if chosen.get(group) == count:
            continue
        pair = by_key[group, count]
        rows.append(
            {
                "group": group,
                "teams": count,
                "plan_teams": chosen.get(group),
                "bound": pair["bound"],
                "objective": pair["objective"],
                "status": pair["status"],
                "ruled_out_below": pair.get("ruled_out_below"),
            }
        )
    return rows


def _pair_rows(search: CountSearch, blocks: list[Block]) -> list[dict]:
    """Every (block, count) pair's evidence, with the pairs of the best choice marked."""
    best = search.best()
    chosen = set(enumerate(best[1])) if best else set()
    rows = []
    for (b, c), p in sorted(search.pairs.items()):
        rows.append(
            {
                "group": blocks[b].name,
                "teams": c,
                "chosen": (b, c) in chosen,
                "status": p.status,
                "objective": None if not np.isfinite(p.objective) else p.objective,
                "bound": None if not np.isfinite(p.bound) else p.bound,
                "gap": relative_gap(p.objective, p.bound) if p.has_plan else None,
                "seconds": round(p.seconds, 2),
                "looks": p.looks,
                "cut_rounds": p.cut_rounds,
                "cuts": p.cuts,
                "ruled_out_below": p.ruled_out_below,
            }
        )
    return rows


def _no_plan_lines(search: CountSearch, blocks: list[Block], proven_only: bool) -> list[str]:
    """One line per block without a plan: its population and what happened at each count."""
    lines = []
    for b, blk in enumerate(blocks):
        pairs = [search.pairs[b, c] for c in blk.counts]
        if any(p.has_plan for p in pairs):
            continue
        if proven_only and not all(p.status == "infeasible" for p in pairs):
            continue
        what = []
        for p in pairs:
            if p.status == "infeasible":
                what.append(f"{p.count} teams proven infeasible")
            elif p.looks == 0:
                what.append(f"{p.count} teams not tried (time ran out)")
            else:
                what.append(f"{p.count} teams: no plan in {p.seconds:.0f} s ({p.looks} looks)")
        lines.append(f"{blk.name} ({blk.population:,.0f}): " + "; ".join(what))
    return lines


def _progress_logger(
    progress: Callable[[Progress], None] | None,
) -> Callable[[Progress], None]:
    """Log a progress line at most every few seconds (and pass each snapshot on)."""
    last = [-math.inf]

    def report(p: Progress) -> None:
        if progress is not None:
            progress(p)
        now = time.monotonic()
        if now - last[0] >= 5.0:
            last[0] = now
            gap = "none yet" if p.gap is None else f"{100 * p.gap:.2f}%"
            log.info(
                "allocating: %d of %d groups have a plan, best gap %s, %.0f s left",
                p.blocks_with_plan,
                p.blocks,
                gap,
                p.seconds_left,
            )

    return report


def _changes(
    areas: pd.DataFrame,
    geo: Geography,
    assignment: pd.Series,
    teams: pd.DataFrame,
    labels: np.ndarray | None,
) -> dict:
    """Against a current plan: areas, residents and children whose team changes."""
    if labels is None:
        return {}
    centre_of = {code: i for i, code in enumerate(geo.codes)}
    centres = teams.set_index("team_id").centre_area_code
    centre_label = assignment.map(centres).map(centre_of).map(lambda i: labels[i])
    moved = centre_label.to_numpy() != labels
    changed = {
        "changed_areas": int(moved.sum()),
        "changed_residents": float(areas.residents.to_numpy()[moved].sum()),
        "changed_children": float(areas.children_0_17.to_numpy()[moved].sum()),
    }
    log.info(
        "against the current plan: %d areas, %.0f residents change team",
        changed["changed_areas"],
        changed["changed_residents"],
    )
    return changed
