"""The count search over (block, team count) pairs: the strategy of the allocation.

1. Every admissible count of every block gets a real lower bound up front (Lagrangian relaxation,
   all counts of a block in one pass, a fixed number of steps).
2. Plans first: a block with no plan at any count gets a first look at its most promising count
   not yet tried; a count that yields no plan hands its time back and the next count is tried.
   No block is left without a plan while an untried count remains.
3. Then the gap: the pairs that the cheapest-bound and the cheapest-plan choices of counts use
   get first looks and then the exact model, smallest open gaps first, until the overall plan is
   proven within the target or the deadline passes.

Workers run one pair at a time; a freed worker takes the next task at once. The overall bound is
the minimum over count choices of the summed pair bounds (an exact dynamic programme), so anyone
can re-derive it from the per-pair table this module returns.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np

from planning.allocate.blocks import BlockInstance, BlockResult, band_for_count
from planning.allocate.bounds import (
    LpBound,
    lagrangian_bound,
    lagrangian_bounds,
    lp_bound,
    nearest_centre_bound,
)
from planning.allocate.deadline import Deadline, DeadlinePassed
from planning.allocate.graph import allowed_columns, plan_cost
from planning.allocate.large_block import solve_large_block
from planning.allocate.small_block import rule_out, solve_small_block
from planning.allocate.tree_split import tree_first_plan
from planning.allocate.tuning import TUNING
from planning.config import SolverSettings
from planning.geography import neighbour_lists
from planning.solve import relative_gap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SolveTask:
    """One pair to solve in a worker, until its deadline."""

    block: int
    inst: BlockInstance
    count: int
    solver: SolverSettings
    deadline: Deadline
    incumbent: np.ndarray | None
    lp: LpBound | None
    exact: bool  # False: a first look (bound and quick plans, the full MIP only if no plan)
    bound_only: bool = False  # just a bound: the LP (small blocks, with reduced costs) or the
    # block's own Lagrangian bound (large blocks)
    hint: np.ndarray | None = None  # no plan yet: the best plan of the block at another count
    seconds: float = 0.0  # the time it was given (0: never counts as having ended early)
    cutoff: float | None = None  # a small block's count only to be ruled out: plans below this
    # matter, and with none below it the pair's bound reaches it (small_block.rule_out)


@dataclass(frozen=True)
class BoundTask:
    """Up-front Lagrangian bounds for every admissible count of one block."""

    block: int
    inst: BlockInstance


@dataclass
class Pair:
    """What is known of one block at one team count."""

    block: int
    count: int
    bound: float  # best lower bound for every plan of this block with this many teams
    objective: float = math.inf  # cost of the best plan found
    plan: np.ndarray | None = None
    lp: LpBound | None = None
    status: str = "bound only"  # bound only | no plan | time_limit | optimal | infeasible
    looks: int = 0
    exact_solves: int = 0
    last_budget: float = 0.0  # seconds given to the last exact solve (each next gets more)
    seconds: float = 0.0
    cut_rounds: int = 0
    cuts: int = 0
    bound_refined: bool = False  # its own bound computed (LP or block Lagrangian), beyond up front
    ruled_out_below: float | None = None  # proven: no plan of this pair costs less than this
    settled: bool = False  # its last look from its plan ran every step to the end in under half
    # its time and changed nothing: the same plan, LP and seed again would give the same result

    @property
    def proven(self) -> bool:
        return self.status in ("optimal", "infeasible")

    @property
    def has_plan(self) -> bool:
        return self.plan is not None


@dataclass(frozen=True)
class Progress:
    """A snapshot of the search for a progress line."""

    blocks_with_plan: int
    blocks: int
    gap: float | None
    seconds_left: float


@dataclass
class CountSearch:
    """Bounds and plans for every (block, team count) pair, and the choice of counts."""

    insts: list[BlockInstance]
    solver: SolverSettings
    total: tuple[int, int] | None
    progress: Callable[[Progress], None] | None = None
    pairs: dict[tuple[int, int], Pair] = field(default_factory=dict)

    # ----------------------------------------------------------------- choices of counts

    def choice(self, value: Callable[[Pair], float]) -> tuple[float, list[int]] | None:
        table = [
            {c: value(self.pairs[b, c]) for c in inst.counts} for b, inst in enumerate(self.insts)
        ]
        return choose_counts(table, self.total)

    def best(self) -> tuple[float, list[int]] | None:
        """The cheapest choice of counts over the plans found."""
        return self.choice(lambda p: p.objective)

    def bound(self) -> tuple[float, list[int]] | None:
        """The cheapest choice of counts over the bounds: the overall lower bound."""
        return self.choice(lambda p: p.bound)

    def gap(self) -> float | None:
        best, bound = self.best(), self.bound()
        if best is None or bound is None:
            return None
        return relative_gap(best[0], min(best[0], bound[0]))

    # ----------------------------------------------------------------- the search

    def run(self, deadline: Deadline) -> None:
        """Bounds up front, then plans for every block, then the gap, until ``deadline``."""
        with _Workers(self.solver.processes) as workers:
            tasks = [BoundTask(b, inst) for b, inst in enumerate(self.insts)]
            tasks.sort(key=lambda t: -len(t.inst.weights) * len(t.inst.counts))
            for task, bounds in zip(tasks, workers.map(bound_task, tasks), strict=True):
                for c in task.inst.counts:
                    self.pairs[task.block, c] = Pair(task.block, c, bounds[c])
                    if not np.isfinite(bounds[c]):
                        self.pairs[task.block, c].status = "infeasible"
            log.info(
                "bounds for %d (block, team count) pairs, %.1f s left",
                len(self.pairs),
                deadline.remaining(),
            )
            self.seed_plans()
            running: dict[Future, SolveTask] = {}
            while True:
                while len(running) < self.solver.processes and not deadline.expired():
                    busy = {(t.block, t.count) for t in running.values()}
                    ruling = {(t.block, t.count) for t in running.values() if t.cutoff is not None}
                    task = self.next_task(deadline, busy, ruling)
                    if task is None:
                        break
                    running[workers.submit(solve_task, task)] = task
                if not running:
                    return
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    self.record(running.pop(future), future.result())
                self._report(deadline)
                gap = self.gap()
                if running and gap is not None and gap <= self.solver.relative_gap:
                    # proven within the target: what still runs cannot change the answer
                    log.info("gap %.3f%%: stopping %d running look(s)", 100 * gap, len(running))
                    workers.stop()
                    return

    def seed_plans(self) -> None:
        """A first plan for every large block, from a spanning-tree bisection at its
        cheapest-bound count that has one (tried in bound order; each try takes well under a
        second), so no large block waits for its first look to have a plan."""
        for b, inst in enumerate(self.insts):
            if len(inst.weights) <= TUNING.large_block_areas:
                continue
            adj = neighbour_lists(len(inst.weights), inst.edges)
            open_counts = [c for c in inst.counts if np.isfinite(self.pairs[b, c].bound)]
            for c in sorted(open_counts, key=lambda c: (self.pairs[b, c].bound, c)):
                start = time.monotonic()
                plan = tree_first_plan(band_for_count(inst, c), c, adj, self.solver.seed)
                pair = self.pairs[b, c]
                pair.seconds += time.monotonic() - start
                if plan is None:
                    continue
                pair.plan, pair.objective = plan, plan_cost(plan, inst)
                pair.bound = min(pair.bound, pair.objective)
                pair.status = self._plan_status(pair)
                log.info(
                    "%s, %d teams: a first plan by tree bisection, objective %.0f, bound %.0f",
                    inst.name,
                    c,
                    pair.objective,
                    pair.bound,
                )
                break

    def next_task(
        self,
        deadline: Deadline,
        busy: set[tuple[int, int]],
        ruling: AbstractSet[tuple[int, int]] = frozenset(),
    ) -> SolveTask | None:
        """What a free worker should do next, or None when nothing is worth doing. ``busy``: the
        pairs a worker has; ``ruling``: those of them being ruled out below a cutoff."""
        best, bound = self.best(), self.bound()
        if best is not None and bound is not None:
            gap = relative_gap(best[0], min(best[0], bound[0]))
            if gap <= self.solver.relative_gap:
                return None
        free = [p for p in self.pairs.values() if (p.block, p.count) not in busy]
        busy_blocks = {b for b, _ in busy}
        bound_counts = {} if bound is None else dict(enumerate(bound[1]))
        # 1. plans first: every block needs a plan at some count
        needy = [
            b
            for b in range(len(self.insts))
            if not any(self.pairs[b, c].has_plan for c in self._counts(b))
        ]
        untried = [p for p in free if p.block in needy and p.looks == 0 and not p.proven]
        if untried:
            waiting = {p.block for p in untried}
            pick = min(
                untried,
                key=lambda p: (
                    p.block in busy_blocks,
                    bound_counts.get(p.block) != p.count,
                    p.bound,
                    p.block,
                    p.count,
                ),
            )
            seconds = self._first_look_seconds(deadline, len(waiting) + len(busy))
            return self._task(pick, deadline, seconds)
        retry = [p for p in free if p.block in needy and not p.proven]
        if retry:  # every count looked at once: the exact model, least solved first
            pick = min(retry, key=lambda p: (p.exact_solves, p.bound, p.block, p.count))
            return self._task(pick, deadline, deadline.remaining(), exact=True)
        # 2. the gap: the pairs the cheapest-bound and cheapest-plan choices use
        chosen = set()
        for choice in (bound, best):
            if choice is not None:
                chosen.update(enumerate(choice[1]))
        open_pairs = [self.pairs[k] for k in sorted(chosen) if k not in busy]
        open_pairs = [p for p in open_pairs if not p.proven and not p.settled]
        planned = set() if best is None else set(enumerate(best[1]))

        def looked_at(b: int) -> bool:  # the pair of block b's best plan has had (or has) a look
            return all(self.pairs[k].looks > 0 or k in busy for k in planned if k[0] == b)

        need_bound = [
            p
            for p in open_pairs
            if p.looks == 0 and not p.bound_refined and (self._small(p) or looked_at(p.block))
        ]
        if need_bound:  # a pair's own bound may settle the choice without a look
            pick = min(need_bound, key=lambda p: (p.bound, p.block, p.count))
            share = 1.0 if self._small(pick) else TUNING.own_bound_share
            return self._task(pick, deadline, share * deadline.remaining(), bound_only=True)
        fresh = [p for p in open_pairs if p.looks == 0]
        if fresh:  # the best plan's pairs first: a look improves a plan more than it finds one
            pick = min(
                fresh, key=lambda p: ((p.block, p.count) not in planned, p.bound, p.block, p.count)
            )
            waiting = len(fresh) + len(busy)
            return self._task(pick, deadline, self._first_look_seconds(deadline, waiting))
        # a small block's pair, after its first look (which may find a plan that beats the
        # best), only needs ruling out below its cutoff: outside the best plan at once, in it
        # once the plan's other pairs are proven (see _rule_out_cutoff)
        cutoffs = {
            (p.block, p.count): cutoff
            for p in open_pairs
            if (cutoff := self._rule_out_cutoff(p, planned, best)) is not None
        }
        beaters = [
            p
            for p in free
            if p.looks == 0 and not p.proven and best is not None and self._could_beat(p, best)
        ]
        if open_pairs and beaters:  # an untried count that could beat an open plan: before repeats
            pick = min(beaters, key=lambda p: (p.bound, p.block, p.count))
            return self._bound_then_look(pick, deadline, len(beaters) + len(busy))
        if open_pairs:
            widths = {
                (p.block, p.count): min(p.objective, cutoffs.get((p.block, p.count), math.inf))
                - p.bound
                for p in open_pairs
            }
            pick = min(open_pairs, key=lambda p: (widths[p.block, p.count], p.block, p.count))
            width = widths[pick.block, pick.count]
            finite = [w for w in widths.values() if np.isfinite(w)]
            share = 1.0
            if len(open_pairs) > self.solver.processes and finite and np.isfinite(width):
                share = self.solver.processes * width / sum(finite)
            seconds = max(
                TUNING.gap_budget_min_seconds,
                share * deadline.remaining(),
                TUNING.gap_budget_growth * pick.last_budget,
            )
            pick.last_budget = seconds
            cutoff = cutoffs.get((pick.block, pick.count))
            return self._task(pick, deadline, seconds, exact=True, cutoff=cutoff)
        # 3. a spare worker: a count whose bound says it could still beat the best plan
        if best is None:
            return None
        spare = [p for p in free if p.looks == 0 and not p.proven]
        spare = [p for p in spare if self._could_improve(p, best)]
        if spare:
            pick = min(spare, key=lambda p: (p.bound, p.block, p.count))
            return self._bound_then_look(pick, deadline, 1 + len(busy))
        # 4. a pair whose look began while the best plan used it, and which now only needs
        # ruling out: rule it out beside that look (Reigate and Banstead at 5 teams had 41 s of
        # a look aimed at its own plan's gap while the other worker idled)
        for key in sorted((chosen & busy) - ruling):
            pair = self.pairs[key]
            cutoff = None if pair.proven else self._rule_out_cutoff(pair, planned, best)
            if cutoff is not None:
                return self._task(pair, deadline, deadline.remaining(), exact=True, cutoff=cutoff)
        return None

    def record(self, task: SolveTask, res: BlockResult) -> None:
        """Fold a worker's result into the pair: bounds only rise, plans only improve."""
        pair = self.pairs[task.block, task.count]
        pair.seconds += res.seconds
        if task.bound_only:
            pair.bound_refined = True
            self._fold(pair, res)
            log.info(
                "%s, %d teams: own bound %.0f, %.1f s",
                task.inst.name,
                task.count,
                pair.bound,
                res.seconds,
            )
            return
        pair.looks += 1
        pair.exact_solves += int(task.exact)
        pair.cut_rounds += res.cut_rounds
        pair.cuts += res.cuts
        before = (pair.objective, pair.bound)
        self._fold(pair, res)
        if task.cutoff is not None and res.bound is not None and res.bound >= task.cutoff:
            pair.ruled_out_below = max(task.cutoff, pair.ruled_out_below or 0.0)
        ended_early = res.seconds < TUNING.settled_look_share * task.seconds
        # a small group's look counts only if its exact model was built and solved
        ran = not self._small(pair) or (task.exact and res.cut_rounds > 0)
        repeatable = task.incumbent is not None and ran and ended_early
        pair.settled = repeatable and (pair.objective, pair.bound) == before
        if pair.status == "infeasible":
            return
        if pair.plan is None:
            pair.status = "no plan"
        log.info(
            "%s, %d teams: %s, objective %.0f, bound %.0f, %.1f s (look %d%s)",
            task.inst.name,
            task.count,
            pair.status,
            pair.objective,
            pair.bound,
            res.seconds,
            pair.looks,
            "" if task.cutoff is None else f", ruling out plans below {task.cutoff:.0f}",
        )

    # ----------------------------------------------------------------- helpers

    def _fold(self, pair: Pair, res: BlockResult) -> None:
        """A result's LP, bound and plan into the pair; infeasible only while it has no plan."""
        if res.lp is not None:
            pair.lp = res.lp
        if res.status == "infeasible" and pair.plan is None:
            pair.status, pair.bound = "infeasible", math.inf
            return
        if res.bound is not None:
            pair.bound = max(pair.bound, res.bound)
        if res.objective is not None and res.objective < pair.objective:
            pair.objective, pair.plan = res.objective, res.centres
        if pair.plan is not None:
            pair.bound = min(pair.bound, pair.objective)
            pair.status = self._plan_status(pair)

    def _plan_status(self, pair: Pair) -> str:
        """A pair with a plan: optimal when its own gap meets the target."""
        gap = relative_gap(pair.objective, pair.bound)
        return "optimal" if gap <= self.solver.relative_gap + 1e-12 else "time_limit"

    def _counts(self, b: int) -> tuple[int, ...]:
        return self.insts[b].counts

    def _could_improve(self, pair: Pair, best: tuple[float, list[int]]) -> bool:
        """A plan at this count could beat the best choice. Once the block's chosen pair is
        settled (more looks would only repeat it), it is enough that this count's bound is below
        that plan by more than the gap target."""
        current = self.pairs[pair.block, best[1][pair.block]]
        if current.settled:
            return self._below_plan(pair, current)
        return pair.bound < best[0] - (current.objective - current.bound) and (
            pair.bound < current.objective
        )

    def _could_beat(self, pair: Pair, best: tuple[float, list[int]]) -> bool:
        """A small block's chosen plan is open, and this count's bound is below that plan by more
        than the gap target: a plan at this count may well cost less."""
        current = self.pairs[pair.block, best[1][pair.block]]
        if pair.count == current.count or current.proven or not self._small(pair):
            return False  # a large block's look at another count costs its plan's improvement
        return self._below_plan(pair, current)

    def _rule_out_cutoff(
        self, pair: Pair, planned: set[tuple[int, int]], best: tuple[float, list[int]] | None
    ) -> float | None:
        """The cutoff of a small block's pair that has had its first look (so a running look of
        it is an exact one), when it is above its bound and below its plan; else None. A pair of
        the best plan gets it only once the plan's other pairs are proven (with one group, at
        once): then ``_cutoff`` leaves it all the gap target the others leave, and HiGHS prunes
        every node above it. The README's count search has the measurements (Sefton, Essex,
        Surrey)."""
        key = (pair.block, pair.count)
        waits = key in planned and any(not self.pairs[k].proven for k in planned if k != key)
        if best is None or waits or pair.looks == 0 or not self._small(pair):
            return None
        cutoff = self._cutoff(pair, best[0])
        return cutoff if cutoff is not None and pair.bound < cutoff < pair.objective else None

    def _cutoff(self, pair: Pair, best: float) -> float | None:
        """The cost below which a plan of this pair matters: with no plan below it, every
        choice of counts using the pair sums to at least the best plan's objective less the gap
        target (a share of it, so the overall gap ends just inside), given the other blocks'
        bounds."""
        table = [
            {pair.count: 0.0}
            if b == pair.block
            else {c: self.pairs[b, c].bound for c in inst.counts}
            for b, inst in enumerate(self.insts)
        ]
        rest = choose_counts(table, self.total)
        if rest is None:
            return None
        return (1 - TUNING.rule_out_gap_share * self.solver.relative_gap) * best - rest[0]

    def _below_plan(self, pair: Pair, current: Pair) -> bool:
        """This count's bound is below the block's chosen plan by more than the gap target."""
        return pair.bound < current.objective * (1 - self.solver.relative_gap)

    def _bound_then_look(self, pick: Pair, deadline: Deadline, waiting: int) -> SolveTask:
        """A first look at another count; a small block's LP before it, which may rule the
        count out without the look."""
        if self._small(pick) and not pick.bound_refined:
            return self._task(pick, deadline, deadline.remaining(), bound_only=True)
        return self._task(pick, deadline, self._first_look_seconds(deadline, waiting))

    def _first_look_seconds(self, deadline: Deadline, waiting: int) -> float:
        share = TUNING.first_look_share * deadline.remaining() * self.solver.processes
        share /= max(self.solver.processes, waiting)
        return max(TUNING.first_look_min_seconds, share)

    def _small(self, pair: Pair) -> bool:
        return len(self.insts[pair.block].weights) <= TUNING.large_block_areas

    def _task(
        self,
        pair: Pair,
        deadline: Deadline,
        seconds: float,
        exact: bool = False,
        bound_only: bool = False,
        cutoff: float | None = None,
    ) -> SolveTask:
        return SolveTask(
            pair.block,
            self.insts[pair.block],
            pair.count,
            self.solver,
            deadline.within(seconds),
            pair.plan,
            pair.lp,
            exact or pair.looks > 0,
            bound_only,
            None if pair.has_plan else self._hint(pair),
            min(seconds, deadline.remaining()),
            cutoff,
        )

    def _hint(self, pair: Pair) -> np.ndarray | None:
        """The plan of the nearest count of the same block that has one (fewer teams first)."""
        others = [
            p
            for c in self._counts(pair.block)
            if (p := self.pairs[pair.block, c]).has_plan and c != pair.count
        ]
        if not others:
            return None
        return min(others, key=lambda p: (abs(p.count - pair.count), p.count > pair.count)).plan

    def _report(self, deadline: Deadline) -> None:
        with_plan = sum(
            any(self.pairs[b, c].has_plan for c in inst.counts) for b, inst in enumerate(self.insts)
        )
        snapshot = Progress(with_plan, len(self.insts), self.gap(), deadline.remaining())
        if self.progress is not None:
            self.progress(snapshot)


def choose_counts(
    values: list[dict[int, float]], total: tuple[int, int] | None
) -> tuple[float, list[int]] | None:
    """Team count per block minimising the summed value, with the total count in a range.

    An exact dynamic programme over blocks; None if no choice has a finite value.
    """
    states: dict[int, tuple[float, list[int]]] = {0: (0.0, [])}
    for options in values:
        nxt: dict[int, tuple[float, list[int]]] = {}
        for teams, (acc, picks) in states.items():
            for count in sorted(options):
                value = options[count]
                if not np.isfinite(value):
                    continue
                key = teams + count
                cand = (acc + value, [*picks, count])
                if key not in nxt or cand[0] < nxt[key][0] - 1e-9:
                    nxt[key] = cand
        states = nxt
    feasible = [
        (acc, picks)
        for teams, (acc, picks) in sorted(states.items())
        if total is None or total[0] <= teams <= total[1]
    ]
    return min(feasible, key=lambda s: s[0]) if feasible else None


def bound_task(task: BoundTask) -> dict[int, float]:
    """Lagrangian bounds for every admissible count of a block (a fixed number of steps): one
    pass for the counts that keep the band, one for each count that narrows it."""
    inst = task.inst
    narrowed = {c: band_for_count(inst, c) for c in inst.counts}
    allowed = {c: allowed_columns(own) for c, own in narrowed.items() if own is not inst}
    shared = tuple(c for c in inst.counts if narrowed[c] is inst)
    if shared:
        allowed.update(dict.fromkeys(shared, allowed_columns(inst)))
    bounds: dict[int, float] = {}
    if shared:
        found, _ = lagrangian_bounds(
            inst, allowed[shared[0]], shared, math.inf, TUNING.lagrangian_bound_steps
        )
        bounds.update(found)
    for c in inst.counts:
        if narrowed[c] is not inst:
            found, _ = lagrangian_bounds(
                narrowed[c], allowed[c], (c,), math.inf, TUNING.lagrangian_bound_steps
            )
            bounds.update(found)
    # the shared pass raises the weakest count; a count it leaves below a certain floor gets a
    # pass of its own, and the floor holds whatever the steps reach
    floors = {c: nearest_centre_bound(narrowed[c], allowed[c], c) for c in bounds}
    for c in shared if len(shared) > 1 else ():
        if bounds[c] <= floors[c]:
            found, _ = lagrangian_bounds(
                inst, allowed[c], (c,), math.inf, TUNING.lagrangian_bound_steps
            )
            bounds[c] = max(bounds[c], found[c])
    return {c: max(0.0, v, floors[c]) if np.isfinite(v) else v for c, v in bounds.items()}


def pair_bound(
    inst: BlockInstance,
    count: int,
    solver: SolverSettings,
    deadline: Deadline,
    large: bool,
    incumbent: np.ndarray | None,
) -> BlockResult:
    """A pair's own bound: the LP by column generation (small blocks, with reduced costs for the
    exact model) or the block's own Lagrangian bound, steered towards its plan (large blocks);
    no bound when ``deadline`` passes before it is done."""
    start = time.monotonic()
    allowed = allowed_columns(inst)
    lp = None
    if large:
        upper = math.inf if incumbent is None else plan_cost(incumbent, inst)
        bound, _ = lagrangian_bound(
            inst, allowed, count, upper, TUNING.lagrangian_block_steps, deadline
        )
    else:
        try:  # the stage's deadline: an LP cut short is no bound, and it would only overrun
            lp = lp_bound(inst, allowed, count, solver.threads, deadline)
        except DeadlinePassed:
            seconds = time.monotonic() - start
            return BlockResult(inst.name, count, "bound only", None, None, None, seconds, 0, 0)
        bound = math.inf if lp is None else lp.value
    status = "infeasible" if not np.isfinite(bound) else "bound only"
    bound_or_none = bound if np.isfinite(bound) else None
    seconds = time.monotonic() - start
    return BlockResult(inst.name, count, status, None, bound_or_none, None, seconds, 0, 0, lp)


def solve_task(task: SolveTask) -> BlockResult:
    """One pair in a worker: the small- or large-block method by the block's size."""
    inst = band_for_count(task.inst, task.count)
    large = len(inst.weights) > TUNING.large_block_areas
    if task.bound_only:
        return pair_bound(inst, task.count, task.solver, task.deadline, large, task.incumbent)
    if task.cutoff is not None and not large:
        return rule_out(
            inst,
            task.count,
            task.solver,
            task.deadline,
            task.solver.relative_gap,
            task.cutoff,
            task.incumbent,
            task.lp,
        )
    solve = solve_large_block if large else solve_small_block
    return solve(
        inst,
        task.count,
        task.solver,
        task.deadline,
        task.solver.relative_gap,
        task.incumbent,
        task.lp,
        task.exact,
        task.hint,
    )


#: Seconds to wait for a stopped worker process, or the pool's manager thread, to end.
_STOP_SECONDS = 2


class _Workers:
    """Worker processes (fork) for independent pairs, or the calling process when one."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.pool: ProcessPoolExecutor | None = None

    @staticmethod
    def _worker_signals() -> None:
        """A worker dies quietly on SIGTERM (the parent's handler would print a traceback)."""
        import signal

        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us

    def __enter__(self) -> _Workers:
        if self.processes > 1:
            self.pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_Workers._worker_signals,
            )
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if self.pool is None:
            return
        if exc_type is None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            return
        # Leaving on an exception (an interrupt, a SIGTERM, an error): a worker may be deep in a
        # solve, so stop the processes rather than wait for them.
        self.stop()

    def stop(self) -> None:
        """Stop the worker processes now, whatever they are solving (the pool is then done)."""
        if self.pool is None:
            return
        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        manager = getattr(self.pool, "_executor_manager_thread", None)  # shutdown forgets it
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            if proc.is_alive():
                proc.terminate()
        for proc in processes:
            proc.join(timeout=_STOP_SECONDS)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=_STOP_SECONDS)
        # Wait for the pool's manager thread to close its wake-up pipe; otherwise Python's exit
        # hook may write to that pipe while the thread closes it (a traceback on 3.11).
        if manager is not None:
            manager.join(timeout=_STOP_SECONDS)
        self.pool = None

    def map(self, fn, tasks: list) -> list:
        if self.pool is None or len(tasks) <= 1:
            return [fn(t) for t in tasks]
        return list(self.pool.map(fn, tasks))

    def submit(self, fn, task) -> Future:
        if self.pool is not None:
            return self.pool.submit(fn, task)
        future: Future = Future()
        future.set_result(fn(task))
        return future
