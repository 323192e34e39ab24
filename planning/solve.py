"""The only module that talks to the solver.

Models are written with PuLP and handed to HiGHS (highspy) in bulk. Status, objective, bound and gap
are read from HiGHS itself, never from PuLP's status (PuLP calls a time-limited run "Optimal").
A model can be re-solved after rows are added, warm-started from a known plan.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import highspy
import numpy as np
import pulp
from scipy.sparse import csr_matrix

log = logging.getLogger(__name__)


def _silence_banner() -> None:
    """HiGHS prints its banner to standard output once per process: send that one to /dev/null."""
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs().setOptionValue("output_flag", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_silence_banner()

_STATUS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnbounded: "unbounded",
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kIterationLimit: "iteration_limit",
    highspy.HighsModelStatus.kInterrupt: "interrupted",
    highspy.HighsModelStatus.kSolutionLimit: "solution_limit",
}


@dataclass(frozen=True)
class SolveResult:
    """What HiGHS proved: status, best plan's objective, lower bound, relative gap and time."""

    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    values: np.ndarray | None

    @property
    def has_solution(self) -> bool:
        return self.values is not None


def solver_versions() -> dict[str, str]:
    h = highspy.Highs()
    version = f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"
    return {"highs": version, "pulp": pulp.__version__}


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """(objective - bound) / |objective|, HiGHS's definition; 0 when both are 0, infinite when
    there is no plan (an infinite objective)."""
    if objective is None or bound is None:
        return None
    if objective == float("inf"):
        return float("inf")  # no plan yet: nothing is closed
    if abs(objective) < 1e-9:
        return 0.0 if abs(bound) < 1e-9 else float("inf")
    return max(0.0, (objective - bound) / abs(objective))


_NO_HEURISTICS = {
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_feasibility_jump": False,
    "mip_heuristic_run_root_reduced_cost": False,
}


class Mip:
    """A PuLP minimisation model loaded into one HiGHS instance that can be re-solved."""

    def __init__(self, problem: pulp.LpProblem, *, threads: int = 1, seed: int = 0) -> None:
        if problem.sense != pulp.LpMinimize:
            raise ValueError("Mip expects a minimisation problem")
        self.problem = problem
        self.variables = problem.variables()
        self.index = {id(v): k for k, v in enumerate(self.variables)}
        h = self.highs = _highs(threads, seed)
        inf = highspy.kHighsInf
        n = len(self.variables)
        cost = np.array([problem.objective.get(v, 0.0) for v in self.variables], dtype=float)
        lower = np.array(
            [-inf if v.lowBound is None else v.lowBound for v in self.variables], float
        )
        upper = np.array([inf if v.upBound is None else v.upBound for v in self.variables], float)
        h.addCols(
            n,
            cost,
            lower,
            upper,
            0,
            np.array([], np.int32),
            np.array([], np.int32),
            np.array([], float),
        )
        integer = np.array(
            [k for k, v in enumerate(self.variables) if v.cat == pulp.LpInteger], dtype=np.int32
        )
        if len(integer):
            h.changeColsIntegrality(
                len(integer), integer, np.full(len(integer), highspy.HighsVarType.kInteger)
            )
        self.offset = float(problem.objective.constant)
        self._add_rows(list(problem.constraints.values()))

    def without_heuristics(self) -> None:
        """No primal heuristics: for a model given a plan and solved for its bound."""
        for name, value in _NO_HEURISTICS.items():
            self.highs.setOptionValue(name, value)

    def _add_rows(self, constraints: list[pulp.LpConstraint]) -> None:
        if not constraints:
            return
        inf = highspy.kHighsInf
        lower, upper, starts, indices, values = [], [], [], [], []
        for con in constraints:
            rhs = -con.constant
            lower.append(rhs if con.sense in (pulp.LpConstraintGE, pulp.LpConstraintEQ) else -inf)
            upper.append(rhs if con.sense in (pulp.LpConstraintLE, pulp.LpConstraintEQ) else inf)
            starts.append(len(indices))
            for var, coef in con.items():
                if coef:
                    indices.append(self.index[id(var)])
                    values.append(coef)
        self.highs.addRows(
            len(constraints),
            np.array(lower, float),
            np.array(upper, float),
            len(indices),
            np.array(starts, np.int32),
            np.array(indices, np.int32),
            np.array(values, float),
        )

    def add(self, constraints: list[pulp.LpConstraint]) -> None:
        """Add rows to both the PuLP model and the loaded HiGHS model."""
        for con in constraints:
            self.problem += con
        self._add_rows(constraints)

    def solve(
        self,
        *,
        time_limit: float,
        relative_gap_target: float,
        warm_start: np.ndarray | None = None,
        objective_cutoff: float | None = None,
    ) -> SolveResult:
        """Run HiGHS and read status, objective, bound and gap from it. With
        ``objective_cutoff``, "infeasible" means no solution costs less than the cutoff."""
        return _run_mip(
            self.highs, self.offset, time_limit, relative_gap_target, warm_start, objective_cutoff
        )

    def value_of(self, values: np.ndarray, var: pulp.LpVariable) -> float:
        return float(values[self.index[id(var)]])


def _run_mip(
    h: highspy.Highs,
    offset: float,
    time_limit: float,
    relative_gap_target: float,
    warm_start: np.ndarray | None,
    objective_cutoff: float | None,
) -> SolveResult:
    h.setOptionValue("time_limit", max(0.01, float(time_limit)))
    h.setOptionValue("mip_rel_gap", float(relative_gap_target))
    # a cutoff prunes every node that cannot hold a solution below it (none: no cutoff, also
    # after an earlier solve of the same model had one)
    cutoff = highspy.kHighsInf if objective_cutoff is None else float(objective_cutoff) - offset
    h.setOptionValue("objective_bound", cutoff)
    if warm_start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(map(float, warm_start))
        h.setSolution(sol)
    start = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - start
    status = _STATUS.get(h.getModelStatus(), h.modelStatusToString(h.getModelStatus()))
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    values = np.array(h.getSolution().col_value) if has_solution else None
    objective = float(info.objective_function_value) + offset if has_solution else None
    bound = float(info.mip_dual_bound) + offset
    if status == "optimal" and objective is not None:
        bound = min(bound, objective)
    if not np.isfinite(bound):
        bound = None
    if status == "infeasible":
        objective, bound, values = None, None, None
    return SolveResult(status, objective, bound, relative_gap(objective, bound), seconds, values)


def _highs(threads: int, seed: int) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", threads)
    h.setOptionValue("random_seed", seed)
    return h


class ArrayMip:
    """A 0-1 programme given as arrays (costs and compressed rows), for models too large to
    write through PuLP quickly: min cost @ x, row_lower <= rows @ x <= row_upper, x binary."""

    def __init__(
        self,
        cost: np.ndarray,
        rows: csr_matrix,
        row_lower: np.ndarray,
        row_upper: np.ndarray,
        *,
        threads: int = 1,
        seed: int = 0,
    ) -> None:
        h = self.highs = _highs(threads, seed)
        n = len(cost)
        empty_i = np.array([], np.int32)
        h.addCols(
            n, cost.astype(float), np.zeros(n), np.ones(n), 0, empty_i, empty_i, np.array([], float)
        )
        h.changeColsIntegrality(
            n, np.arange(n, dtype=np.int32), np.full(n, highspy.HighsVarType.kInteger)
        )
        h.addRows(
            rows.shape[0],
            row_lower.astype(float),
            row_upper.astype(float),
            rows.nnz,
            rows.indptr.astype(np.int32),
            rows.indices.astype(np.int32),
            rows.data.astype(float),
        )

    def solve(
        self, *, time_limit: float, relative_gap_target: float, warm_start: np.ndarray | None = None
    ) -> SolveResult:
        """Run HiGHS and read status, objective, bound and gap from it."""
        return _run_mip(self.highs, 0.0, time_limit, relative_gap_target, warm_start, None)


@dataclass(frozen=True)
class LpSolution:
    """An optimal LP solution with its duals (HiGHS convention: col_dual = c - A^T row_dual)."""

    objective: float
    x: np.ndarray
    row_dual: np.ndarray
    col_dual: np.ndarray


class IncrementalLp:
    """An LP in HiGHS that grows by columns and rows and re-solves from its last basis.

    Used for column generation: bounds and reduced costs, not plans.
    """

    def __init__(self, row_lower: np.ndarray, row_upper: np.ndarray, *, threads: int = 1) -> None:
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("threads", threads)
        self.highs.setOptionValue("solver", "simplex")
        empty_i, empty_f = np.array([], np.int32), np.array([], float)
        self.highs.addRows(
            len(row_lower),
            row_lower.astype(float),
            row_upper.astype(float),
            0,
            empty_i,
            empty_i,
            empty_f,
        )

    @property
    def num_col(self) -> int:
        return self.highs.getNumCol()

    @property
    def num_row(self) -> int:
        return self.highs.getNumRow()

    def add_columns(
        self,
        cost: np.ndarray,
        upper: np.ndarray,
        start: np.ndarray,
        index: np.ndarray,
        value: np.ndarray,
    ) -> None:
        """Columns in compressed-column form over the existing rows (lower bound 0)."""
        self.highs.addCols(
            len(cost),
            cost.astype(float),
            np.zeros(len(cost)),
            upper.astype(float),
            len(index),
            start.astype(np.int32),
            index.astype(np.int32),
            value.astype(float),
        )

    def add_rows(
        self,
        lower: np.ndarray,
        upper: np.ndarray,
        start: np.ndarray,
        index: np.ndarray,
        value: np.ndarray,
    ) -> None:
        """Rows in compressed-row form over the existing columns."""
        self.highs.addRows(
            len(lower),
            lower.astype(float),
            upper.astype(float),
            len(index),
            start.astype(np.int32),
            index.astype(np.int32),
            value.astype(float),
        )

    def solve(self) -> LpSolution | None:
        h = self.highs
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        sol = h.getSolution()
        return LpSolution(
            objective=float(h.getInfo().objective_function_value),
            x=np.array(sol.col_value),
            row_dual=np.array(sol.row_dual),
            col_dual=np.array(sol.col_dual),
        )


def assignment_lp(
    cost: np.ndarray, weights: np.ndarray, low: float, high: float, *, threads: int = 1
) -> tuple[np.ndarray, float] | None:
    """LP of the capacitated assignment: each row i spread over the columns j of ``cost``
    (n, k) at least cost, every column's weighted total within [low, high]. Returns the
    fractional x (n, k) and its cost, or None when no assignment fits."""
    n, k = cost.shape
    lp = IncrementalLp(
        np.r_[np.ones(n), np.full(k, low)], np.r_[np.ones(n), np.full(k, high)], threads=threads
    )
    # column (i, j) sits in row i (one team each) and row n + j (the band of team j)
    lp.add_columns(
        cost.ravel(),
        np.ones(n * k),
        np.arange(0, 2 * n * k, 2),
        np.column_stack([np.repeat(np.arange(n), k), n + np.tile(np.arange(k), n)]).ravel(),
        np.column_stack([np.ones(n * k), np.repeat(weights, k)]).ravel(),
    )
    sol = lp.solve()
    return None if sol is None else (sol.x.reshape(n, k), sol.objective)
