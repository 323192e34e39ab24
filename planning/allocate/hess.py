"""Hess's model with exact contiguity: static separators in the formulation, a,b-separator cuts
when a solution splits a team (Validi, Buchanan & Lykhovyd 2022), warm starts from the best
contiguous plan so far."""

from __future__ import annotations

import math

import numpy as np
import pulp

from planning.allocate.blocks import BlockInstance
from planning.allocate.deadline import Deadline
from planning.allocate.graph import cut_vertex_sides, plan_cost, plan_is_valid, split_teams
from planning.allocate.local_search import improve, repair
from planning.allocate.tuning import TUNING
from planning.config import SolverSettings
from planning.geography import neighbour_lists
from planning.solve import Mip, relative_gap


def build_model(
    inst: BlockInstance,
    columns: np.ndarray,
    count: int,
    solver: SolverSettings,
    deadline: Deadline,
    proof: bool = False,
) -> BlockModel | None:
    """Hess's model over ``columns``, or None when ``deadline`` leaves less than twice the time
    its build is expected to take (``TUNING.model_seconds_per_column``): a model with no time
    left to solve it would only run the stage past its wall clock."""
    building = TUNING.model_seconds_per_column * float(columns.sum())
    if deadline.remaining() < 2 * building:
        return None
    return BlockModel(inst, columns, count, solver, proof)


class BlockModel:
    """Hess's model over a set of columns with the static contiguity inequalities.

    A ``proof`` model starts from a plan and is there for the bound: it leaves out the neighbour
    separators (one row per column, which make a solution contiguous more often but slow each
    node; the cut loop still enforces contiguity) and HiGHS's primal heuristics (whose sub-MIPs
    took most of the root node's time). Bath and North East Somerset at 6 teams, 60 s: bound
    382,186 with both, 385,309 without."""

    def __init__(
        self,
        inst: BlockInstance,
        columns: np.ndarray,
        count: int,
        solver: SolverSettings,
        proof: bool = False,
    ) -> None:
        self.inst = inst
        n = len(inst.weights)
        self.n = n
        self.adj = neighbour_lists(n, inst.edges)
        prob = pulp.LpProblem("teams", pulp.LpMinimize)
        pairs = np.argwhere(columns)
        x = {
            (int(i), int(j)): pulp.LpVariable(f"x_{i:04d}_{j:04d}", cat=pulp.LpBinary)
            for i, j in pairs
        }
        self.x = x
        by_area: list[list[int]] = [[] for _ in range(n)]
        by_centre: list[list[int]] = [[] for _ in range(n)]
        for i, j in x:
            by_area[i].append(j)
            by_centre[j].append(i)
        w = inst.weights
        prob += pulp.lpSum(float(inst.cost[i, j]) * var for (i, j), var in x.items())
        for i in range(n):
            prob += pulp.lpSum(x[i, j] for j in by_area[i]) == 1, f"one_team_{i}"
        prob += pulp.lpSum(x[j, j] for j in range(n) if (j, j) in x) == count, "team_count"
        for j in range(n):
            if (j, j) not in x:
                continue
            members = pulp.lpSum(float(w[i]) * x[i, j] for i in by_centre[j])
            prob += members <= inst.max_pop * x[j, j], f"max_pop_{j}"
            prob += members >= inst.min_pop * x[j, j], f"min_pop_{j}"
            if inst.work is not None:
                work = pulp.lpSum(float(inst.work[i]) * x[i, j] for i in by_centre[j])
                if np.isfinite(inst.max_work):
                    prob += work <= inst.max_work * x[j, j], f"max_work_{j}"
                if inst.min_work > 0:
                    prob += work >= inst.min_work * x[j, j], f"min_work_{j}"
            for i in by_centre[j]:
                if i != j:
                    prob += x[i, j] <= x[j, j], f"centre_{i}_{j}"
        # neighbour separators: a non-centre area joins centre j only if a neighbour does too
        for i, j in () if proof else x:
            if i != j:
                nbrs = [int(k) for k in self.adj[i] if (int(k), j) in x]
                prob += x[i, j] <= pulp.lpSum(x[k, j] for k in nbrs), f"nbr_{i}_{j}"
        # cut-vertex separators (where the cut-off side has more than one area)
        for a, parts in cut_vertex_sides(n, self.adj):
            for p, side in enumerate(parts):
                if len(side) < 2:
                    continue
                others = np.concatenate([q for r, q in enumerate(parts) if r != p])
                for i in side:
                    for j in others:
                        key = (int(i), int(j))
                        if key in x and (a, int(j)) in x:
                            prob += x[key] <= x[a, int(j)], f"cv_{a}_{i}_{j}"
                        elif key in x:
                            prob += x[key] == 0, f"cv_{a}_{i}_{j}"
        self.problem = prob
        self.mip = Mip(prob, threads=solver.threads, seed=solver.seed)
        if proof:
            self.mip.without_heuristics()
        self.cuts = 0

    def centres_of(self, values: np.ndarray) -> np.ndarray:
        centres = np.full(self.n, -1, dtype=int)
        for (i, j), var in self.x.items():
            if self.mip.value_of(values, var) > 0.5:
                centres[i] = j
        return centres

    def values_of(self, centres: np.ndarray) -> np.ndarray | None:
        values = np.zeros(len(self.mip.variables))
        for i, j in enumerate(centres):
            var = self.x.get((i, int(j)))
            if var is None:
                return None
            values[self.mip.index[id(var)]] = 1.0
        return values

    def separator_cuts(self, centres: np.ndarray) -> list[pulp.LpConstraint]:
        """Cuts for each piece cut off from its centre j: x_ij <= sum of x_kj over its boundary."""
        cuts = []
        for j, piece in split_teams(centres, self.adj):
            inside = set(piece.tolist())
            boundary = sorted({int(v) for u in piece for v in self.adj[u]} - inside)
            rhs = pulp.lpSum(self.x[k, j] for k in boundary if (k, j) in self.x)
            for i in piece:
                if (int(i), j) in self.x:
                    cuts.append(self.x[int(i), j] <= rhs)
        return cuts

    def solve(
        self,
        deadline: Deadline,
        gap_target: float,
        incumbent: np.ndarray | None,
        outside_bound: float,
        cutoff: float | None = None,
    ) -> tuple[str, np.ndarray | None, float | None, int]:
        """Cut loop: best contiguous plan and a bound (capped by ``outside_bound``, the least cost
        of any plan using a column left out of this model). With ``cutoff`` and no plan below it,
        only plans below it are searched for: the bound reaches the cutoff when there are none."""
        inst = self.inst
        best = incumbent
        best_cost = plan_cost(best, inst) if best is not None else math.inf
        bound: float | None = None
        rounds = 0
        status = "time_limit"
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                break
            cut = cutoff if cutoff is not None and cutoff <= best_cost else None
            warm = self.values_of(best) if best is not None and cut is None else None
            res = self.mip.solve(
                time_limit=remaining,
                relative_gap_target=gap_target,
                warm_start=warm,
                objective_cutoff=cut,
            )
            rounds += 1
            if res.status == "infeasible" and cut is not None:  # no plan costs less than the cut
                bound = cut if bound is None else max(bound, cut)
                status = "optimal" if best_cost <= cut else "time_limit"
                break
            if res.status == "infeasible":
                status = "infeasible" if best is None else "optimal"
                bound = best_cost if best is not None else None
                break
            if res.bound is not None:  # with a cut: a bound on the plans below it, or the cut
                found = res.bound if cut is None else min(res.bound, cut)
                bound = found if bound is None else max(bound, found)
            if not res.has_solution:
                status = res.status
                break
            centres = self.centres_of(res.values)
            if plan_is_valid(centres, inst, self.adj):
                cost = plan_cost(centres, inst)
                if cost < best_cost:
                    best, best_cost = centres, cost
                status = res.status
                break
            fixed = repair(centres, inst, self.adj)
            if fixed is not None:
                fixed = improve(fixed, inst, self.adj)
                if self.values_of(fixed) is not None and plan_cost(fixed, inst) < best_cost:
                    best, best_cost = fixed, plan_cost(fixed, inst)
            cuts = self.separator_cuts(centres)
            self.mip.add(cuts)
            self.cuts += len(cuts)
            status = res.status
            if (
                best is not None
                and bound is not None
                and relative_gap(best_cost, min(bound, outside_bound)) <= gap_target
            ):
                break
        if bound is not None:
            bound = min(bound, outside_bound)
            if best is not None:
                bound = min(bound, best_cost)
        return status, best, bound, rounds
