"""The large-block path: Lagrangian bound, star models and capacitated centres, on grids."""

from __future__ import annotations

import math

import numpy as np
import pytest
from grids import grid
from scipy.optimize import linprog

from planning.allocate.blocks import Block, BlockResult, block_instance
from planning.allocate.bounds import (
    _knapsacks,
    lagrangian_bound,
    lagrangian_bounds,
    lp_bound,
    nearest_centre_bound,
)
from planning.allocate.deadline import Deadline, DeadlinePassed
from planning.allocate.graph import (
    allowed_columns,
    geodesic_km,
    neighbour_lists,
    plan_cost,
    plan_is_valid,
    split_teams,
)
from planning.allocate.large_block import solve_large_block
from planning.allocate.search import CountSearch, Pair, pair_bound
from planning.allocate.small_block import rule_out, solve_exact, solve_small_block
from planning.allocate.star import capacitated_centres, star_model, star_plan, star_search
from planning.allocate.tree_split import tree_first_plan
from planning.allocate.tuning import TUNING
from planning.config import SolverSettings, TeamSettings
from planning.solve import assignment_lp

SOLVER = SolverSettings(time_limit_seconds=30, relative_gap=0.0, processes=1)


def instance(picture: str, low: float, high: float, count: int, seed: int = 0):
    """A one-block instance of a grid with random weights of 1-4 people per area."""
    rng = np.random.default_rng(seed)
    rows = [line.strip() for line in picture.strip().splitlines()]
    weights = {
        (r, c): float(rng.integers(1, 5))
        for r, line in enumerate(rows)
        for c, ch in enumerate(line)
        if ch != "."
    }
    areas, geo = grid(picture, weights)
    settings = TeamSettings(min_population=low, max_population=high, total_teams=count)
    block = Block("grid", np.arange(len(areas)), (count,), float(areas.residents.sum()))
    return block_instance(geo, areas.residents.to_numpy(float), block, settings)


def count_search(*blocks: tuple[int, tuple[int, ...]]) -> CountSearch:
    """A count search over groups of the first n areas of a 6x4 grid of one person each (teams
    of 5-8), at a 1% gap target on one process; its pairs are set by the test."""
    areas, geo = grid("AAAAAA\nAAAAAA\nAAAAAA\nAAAAAA")
    w = areas.residents.to_numpy(float)
    settings = TeamSettings(min_population=5, max_population=8)
    insts = [
        block_instance(geo, w, Block("AB"[b], np.arange(n), counts, float(n)), settings)
        for b, (n, counts) in enumerate(blocks)
    ]
    solver = SolverSettings(time_limit_seconds=30, relative_gap=0.01, processes=1)
    return CountSearch(insts, solver, None)


def exact(inst, count: int):
    res = solve_small_block(inst, count, SOLVER, Deadline.after(60), 0.0)
    assert res.status == "optimal"
    return res


def test_knapsacks_match_the_lp_of_each_centre():
    """Each centre's value is the LP: r_jj + min sum r_ij x_ij, w_j + sum w_i x_ij in band."""
    rng = np.random.default_rng(1)
    inst = instance("AAAAA\nAAAAA\nAAAAA", low=8, high=12, count=3)
    n = len(inst.weights)
    r = rng.normal(0, 3, (n, n))
    usable = np.ones((n, n), dtype=bool) & ~np.eye(n, dtype=bool)
    usable[0, 5] = usable[3, 5] = False  # some pairs left out
    values, order, share = _knapsacks(r, inst, np.ascontiguousarray(usable.T))
    w = inst.weights
    for j in range(n):
        others = np.flatnonzero(usable[:, j])
        res = linprog(
            r[others, j],
            A_ub=np.vstack([w[others], -w[others]]),
            b_ub=[inst.max_pop - w[j], w[j] - inst.min_pop],
            bounds=(0, 1),
            method="highs",
        )
        assert res.status == 0
        assert values[j] == pytest.approx(r[j, j] + res.fun, abs=1e-9)
        x = np.zeros(n)
        np.add.at(x, order[j], share[j])
        assert not x[~usable[:, j]].any()  # nothing taken that may not join
        assert inst.min_pop - 1e-9 <= w[j] + w @ x <= inst.max_pop + 1e-9


def test_knapsack_of_a_centre_whose_band_cannot_be_met_is_infinite():
    inst = instance("AAA", low=100, high=120, count=1)
    values, _, _ = _knapsacks(np.zeros((3, 3)), inst, ~np.eye(3, dtype=bool))
    assert np.isinf(values).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lagrangian_bound_never_exceeds_the_proven_optimum(seed):
    inst = instance("AAAAAA\nAAAAAA\nAAAAAA\nAAAAAA", low=14, high=22, count=4, seed=seed)
    best = exact(inst, 4)
    bound, _ = lagrangian_bound(inst, allowed_columns(inst), 4, best.objective, 400)
    assert bound <= best.objective + 1e-6
    assert bound >= 0.8 * best.objective  # and it is not a trivial bound


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lagrangian_started_at_the_lp_duals_begins_at_the_lp_bound(seed):
    """The LP's assignment duals are optimal multipliers of the Lagrangian with LP knapsacks:
    started there, its first step already gives the LP bound, and more steps stay below the
    proven optimum."""
    inst = instance("AAAAAA\nAAAAAA\nAAAAAA\nAAAAAA", low=14, high=22, count=4, seed=seed)
    allowed = allowed_columns(inst)
    lp = lp_bound(inst, allowed, 4)
    first, _ = lagrangian_bounds(inst, allowed, (4,), math.inf, 1, start=lp.assignment_dual)
    assert first[4] == pytest.approx(lp.value, rel=1e-6)
    best = exact(inst, 4)
    more, _ = lagrangian_bounds(inst, allowed, (4,), best.objective, 50, start=lp.assignment_dual)
    assert first[4] - 1e-6 <= more[4] <= best.objective + 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nearest_centre_bound_is_positive_and_below_the_proven_optimum(seed):
    inst = instance("AAAAAA\nAAAAAA\nAAAAAA\nAAAAAA", low=14, high=22, count=4, seed=seed)
    best = exact(inst, 4)
    floor = nearest_centre_bound(inst, allowed_columns(inst), 4)
    assert 0 < floor <= best.objective + 1e-6
    assert nearest_centre_bound(inst, allowed_columns(inst), len(inst.weights)) == 0.0


def test_geodesic_walks_round_a_gap():
    """
    A.A      the two top corners are 2 km apart as the crow flies, 6 km walking round the U
    A.A
    AAA
    """
    inst = instance("A.A\nA.A\nAAA", low=1, high=100, count=1)
    geo = geodesic_km(inst)
    assert inst.dist_km[0, 1] == pytest.approx(2.0)
    assert geo[0, 1] == pytest.approx(6.0, abs=1e-4)
    assert np.allclose(geo, geo.T)


def test_star_model_gives_contiguous_star_shaped_teams_in_band():
    """Every non-centre area has a touching team-mate nearer (walking) to the centre."""
    picture = "AAAAAAA\nAA...AA\nAA...AA\nAAAAAAA"
    inst = instance(picture, low=14, high=20, count=3, seed=3)
    n = len(inst.weights)
    adj = neighbour_lists(n, inst.edges)
    geo = geodesic_km(inst)
    centres = np.array([0, 6, 19])
    model = star_model(inst, geo, centres, allowed_columns(inst)[:, centres], 3, SOLVER)
    plan = star_plan(model, inst, Deadline.after(30), 0.0, None)
    assert plan is not None
    assert set(np.unique(plan)) == set(centres)
    assert plan_is_valid(plan, inst, adj) and not split_teams(plan, adj)
    for i in range(n):
        j = plan[i]
        if i != j:
            assert any(plan[k] == j and geo[k, j] < geo[i, j] for k in adj[i]), i


def test_star_model_is_infeasible_when_no_star_plan_meets_the_band():
    """Two centres side by side in a line of 6 people cannot each reach 3 going one way."""
    areas, grid_geo = grid("AAAAAA")  # one person per area
    settings = TeamSettings(min_population=3, max_population=3.5, total_teams=2)
    block = Block("line", np.arange(6), (2,), 6.0)
    inst = block_instance(grid_geo, areas.residents.to_numpy(float), block, settings)
    geo = geodesic_km(inst)
    centres = np.array([0, 1])  # the team at 0 can only be {0}: 1 person, out of band
    model = star_model(inst, geo, centres, np.ones((6, 2), dtype=bool), 2, SOLVER)
    assert star_plan(model, inst, Deadline.after(10), 0.0, None) is None


def test_capacitated_centres_are_distinct_and_their_assignment_fits_the_band():
    inst = instance("AAAAAAAA\nAAAAAAAA\nAAAAAAAA\nAAAAAAAA", low=15, high=25, count=4, seed=4)
    centres, value = capacitated_centres(inst, 4, 0, SOLVER)
    assert len(set(centres.tolist())) == 4
    x, lp_value = assignment_lp(inst.cost[:, centres], inst.weights, inst.min_pop, inst.max_pop)
    assert lp_value == pytest.approx(value)
    assert np.allclose(x.sum(axis=1), 1.0)
    team_pop = inst.weights @ x
    assert (team_pop >= 15 - 1e-6).all() and (team_pop <= 25 + 1e-6).all()


def test_star_search_stops_once_a_plan_costs_no_more_than_enough():
    """With ``enough`` above every plan's cost, the first star plan is kept; with none, the
    search goes on and can only do as well or better. Either way the plan is valid."""
    inst = instance("AAAAAAA\nAAAAAAA\nAAAAAAA\nAAAAAAA\nAAAAAAA", low=16, high=24, count=4)
    n = len(inst.weights)
    allowed, adj = allowed_columns(inst), neighbour_lists(n, inst.edges)
    args = (inst, 4, allowed, adj, SOLVER)
    first = star_search(*args, Deadline.after(30), None, None, math.inf)
    searched = star_search(*args, Deadline.after(30), None)
    assert first is not None and searched is not None
    assert plan_is_valid(first, inst, adj) and plan_is_valid(searched, inst, adj)
    assert plan_cost(searched, inst) <= plan_cost(first, inst) + 1e-9
    # stopping at the searched plan's cost returns a plan at least that good
    again = star_search(*args, Deadline.after(30), None, None, plan_cost(searched, inst))
    assert plan_cost(again, inst) <= plan_cost(searched, inst) + 1e-9


def test_assignment_lp_without_room_is_none():
    assert assignment_lp(np.ones((3, 2)), np.array([5.0, 5.0, 5.0]), 8, 9) is None


@pytest.mark.parametrize("seed", [0, 5])
def test_large_block_path_is_valid_and_close_to_the_exact_optimum(seed):
    picture = "AAAAAAA\nAAAAAAA\nAAAAAAA\nAAAAAAA\nAAAAAAA"
    inst = instance(picture, low=16, high=24, count=4, seed=seed)
    best = exact(inst, 4)
    res = solve_large_block(inst, 4, SOLVER, Deadline.after(30), 0.0)
    adj = neighbour_lists(len(inst.weights), inst.edges)
    assert res.centres is not None and plan_is_valid(res.centres, inst, adj)
    assert len(np.unique(res.centres)) == 4
    assert res.objective == pytest.approx(plan_cost(res.centres, inst))
    assert best.objective - 1e-6 <= res.objective <= 1.05 * best.objective
    assert res.bound <= best.objective + 1e-6  # a bound for every plan, not just the star ones
    assert res.gap == pytest.approx((res.objective - res.bound) / res.objective)


def test_an_lp_bound_cut_short_by_its_deadline_is_no_bound_and_the_pair_keeps_its_plan():
    """Hampshire's children band lost 7 s past its stage clock to one pair's LP in the re-split
    (12-07): the LP now stops at its deadline, and the re-split keeps the plan it had."""
    picture = "\n".join(["AAAAAAAA"] * 8)
    inst = instance(picture, low=70, high=90, count=2)
    allowed = allowed_columns(inst)
    full = lp_bound(inst, allowed, 2)
    assert full is not None and full.value > 0
    with pytest.raises(DeadlinePassed):  # this grid's LP needs more than its first round
        lp_bound(inst, allowed, 2, deadline=Deadline.after(0))
    plan = tree_first_plan(inst, 2, neighbour_lists(len(inst.weights), inst.edges), 0)
    assert plan is not None
    res = solve_exact(inst, 2, SOLVER, Deadline.after(0), 0.0, plan)
    assert res.status == "time_limit" and res.bound is None
    assert np.array_equal(res.centres, plan)
    assert res.objective == pytest.approx(plan_cost(plan, inst))
    in_time = lp_bound(inst, allowed, 2, deadline=Deadline.after(60))
    assert in_time is not None and in_time.value == pytest.approx(full.value)


def test_a_pair_bound_whose_lp_the_deadline_cuts_short_is_no_bound():
    """A small group's own bound (the LP) stops at the stage's deadline: no bound, not an
    overrun of the stage clock by the LP's whole run."""
    inst = instance("\n".join(["AAAAAAAA"] * 8), low=70, high=90, count=2)
    late = pair_bound(inst, 2, SOLVER, Deadline.after(0), False, None)
    assert late.bound is None and late.status == "bound only" and late.lp is None
    in_time = pair_bound(inst, 2, SOLVER, Deadline.after(60), False, None)
    assert in_time.bound == pytest.approx(lp_bound(inst, allowed_columns(inst), 2).value)


def test_a_count_ruled_out_below_a_cutoff_has_the_cutoff_as_its_bound():
    """small_block.rule_out: with the cutoff between the LP and the optimum there is no plan
    below it, and the bound is the cutoff (no plan needed); with the cutoff above the optimum it
    finds a plan below the cutoff, here the optimum itself."""
    inst = instance("AAAAAA\nAAAAAA\nAAAAAA\nAAAAAA", low=14, high=22, count=4)
    lp = lp_bound(inst, allowed_columns(inst), 4)
    best = solve_small_block(inst, 4, SOLVER, Deadline.after(60), 0.0)
    assert lp is not None and best.status == "optimal" and lp.value < best.objective - 0.1
    cutoff = (lp.value + best.objective) / 2
    below = rule_out(inst, 4, SOLVER, Deadline.after(60), 0.0, cutoff)
    assert below.centres is None and below.objective is None and below.status == "time_limit"
    assert below.bound == pytest.approx(cutoff) and below.cut_rounds >= 1
    kept = rule_out(inst, 4, SOLVER, Deadline.after(60), 0.0, cutoff, best.centres)
    assert kept.objective == pytest.approx(best.objective) and kept.bound == pytest.approx(cutoff)
    above = rule_out(inst, 4, SOLVER, Deadline.after(60), 0.0, 1.05 * best.objective)
    assert above.status == "optimal" and above.objective == pytest.approx(best.objective)
    assert plan_is_valid(above.centres, inst, neighbour_lists(len(inst.weights), inst.edges))
    assert above.bound == pytest.approx(best.objective)


def test_a_holder_outside_the_best_plan_is_ruled_out_below_its_share_of_the_gap():
    """Group 0's plan has 3 teams, but its 4-team bound holds the overall gap (6.7%). Its next
    task rules it out below the best objective less the gap target, less group 1's bound; once
    its bound reaches that, the overall gap is within the target and the search is done."""
    search = count_search((24, (3, 4)), (12, (2,)))
    solver = search.solver
    plan = np.zeros(24, dtype=int)
    search.pairs[0, 3] = Pair(0, 3, 99.5, 100.0, plan, status="optimal", looks=1)
    holder = Pair(0, 4, 90.0, status="no plan", looks=1, bound_refined=True)
    search.pairs[0, 4] = holder
    search.pairs[1, 2] = Pair(1, 2, 50.0, 50.0, plan[:12], status="optimal", looks=1)
    assert search.gap() == pytest.approx(10 / 150)
    task = search.next_task(Deadline.after(60), set())
    share = TUNING.rule_out_gap_share * solver.relative_gap
    assert task is not None and (task.block, task.count) == (0, 4) and task.exact
    assert task.cutoff == pytest.approx((1 - share) * 150.0 - 50.0)
    # a look at 4 teams begun without a cutoff: the other worker rules the pair out beside it
    beside = search.next_task(Deadline.after(60), {(0, 4)})
    assert beside is not None and beside.cutoff == pytest.approx(task.cutoff)
    assert search.next_task(Deadline.after(60), {(0, 4)}, {(0, 4)}) is None
    ruled = BlockResult("A", 4, "time_limit", None, task.cutoff, None, 1.0, 1, 0)
    search.record(task, ruled)
    assert holder.ruled_out_below == pytest.approx(task.cutoff) and holder.status == "no plan"
    assert search.gap() <= solver.relative_gap
    assert search.next_task(Deadline.after(60), set()) is None


def test_the_best_plans_own_pair_is_proven_below_its_share_of_the_gap():
    """The best plan's own pair, open at 10%, is solved exactly with a cutoff at its plan less
    its share of the gap target (HiGHS prunes every node above it): a bound that reaches the
    cutoff proves the pair, and the search is done."""
    search = count_search((24, (3, 4)))
    solver = search.solver
    plan = np.zeros(24, dtype=int)
    own = Pair(0, 3, 90.0, 100.0, plan, status="time_limit", looks=1, exact_solves=1)
    search.pairs[0, 3] = own
    search.pairs[0, 4] = Pair(0, 4, 120.0, status="no plan", looks=1, bound_refined=True)
    task = search.next_task(Deadline.after(60), set())
    share = TUNING.rule_out_gap_share * solver.relative_gap
    assert task is not None and (task.block, task.count) == (0, 3) and task.exact
    assert task.cutoff == pytest.approx((1 - share) * 100.0)
    assert task.incumbent is plan  # the plan is kept when nothing below the cutoff exists
    search.record(task, BlockResult("A", 3, "time_limit", 100.0, task.cutoff, plan, 1.0, 1, 0))
    assert own.status == "optimal" and search.gap() <= solver.relative_gap
    assert search.next_task(Deadline.after(60), set()) is None


def test_a_groups_best_plan_pair_gets_its_cutoff_once_the_plans_other_pairs_are_proven():
    """Two groups, both best-plan pairs open: neither gets a cutoff (each looks on its own
    gap). Once group 1's pair is proven, group 0's is solved below the best objective less the
    gap target less group 1's bound: all the slack the proven pair leaves is its own."""
    search = count_search((24, (3,)), (12, (2,)))
    solver = search.solver
    plan = np.zeros(24, dtype=int)
    first = Pair(0, 3, 90.0, 100.0, plan, status="time_limit", looks=1, exact_solves=1)
    second = Pair(1, 2, 45.0, 50.0, plan[:12], status="time_limit", looks=1, exact_solves=1)
    search.pairs[0, 3], search.pairs[1, 2] = first, second
    task = search.next_task(Deadline.after(60), set())
    assert task is not None and task.exact and task.cutoff is None
    second.bound, second.status = 49.9, "optimal"
    task = search.next_task(Deadline.after(60), set())
    share = TUNING.rule_out_gap_share * solver.relative_gap
    assert task is not None and (task.block, task.count) == (0, 3) and task.exact
    assert task.cutoff == pytest.approx((1 - share) * 150.0 - 49.9)
    assert task.incumbent is plan


def test_large_block_path_finds_the_t_shapes():
    """The 4x4 square into four T shapes (star-shaped about their centres): optimum 12."""
    areas, geo = grid("AAAA\nAAAA\nAAAA\nAAAA")
    settings = TeamSettings(min_population=4, max_population=4.5, total_teams=4)
    block = Block("square", np.arange(16), (4,), 16.0)
    inst = block_instance(geo, areas.residents.to_numpy(float), block, settings)
    res = solve_large_block(inst, 4, SOLVER, Deadline.after(30), 0.0)
    assert res.objective == pytest.approx(12.0)
    assert res.bound <= 12.0 + 1e-9 and math.isfinite(res.bound)


def test_large_block_path_reports_a_band_no_team_can_reach_as_infeasible():
    areas, geo = grid("AAAA\nAAAA")  # 8 people; no team can hold the 10 the band asks
    settings = TeamSettings(min_population=10, max_population=12, total_teams=1)
    block = Block("small", np.arange(8), (1,), 8.0)
    inst = block_instance(geo, areas.residents.to_numpy(float), block, settings)
    res = solve_large_block(inst, 1, SOLVER, Deadline.after(10), 0.0)
    assert res.status == "infeasible"
    assert res.objective is None and res.centres is None and res.bound is None


def test_no_model_is_built_when_the_deadline_leaves_no_time_to_solve_it():
    from planning.allocate.hess import BlockModel, build_model

    inst = instance("AAAAAA\nAAAAAA\nAAAAAA\nAAAAAA", low=14, high=22, count=4)
    columns = allowed_columns(inst)
    assert build_model(inst, columns, 4, SOLVER, Deadline.after(0.0)) is None
    model = build_model(inst, columns, 4, SOLVER, Deadline.after(60.0))
    assert isinstance(model, BlockModel)
    assert len(model.x) == int(columns.sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_proof_model_proves_the_same_optimum_from_a_plan_with_fewer_rows(seed):
    """From a valid plan, the model built for the bound (no neighbour rows, no HiGHS heuristics)
    ends at the exact optimum with a contiguous plan; the hole makes contiguity bind."""
    from planning.allocate.hess import build_model

    picture = "AAAAAA\nAA..AA\nAA..AA\nAAAAAA\nAAAAAA"
    inst = instance(picture, low=16, high=26, count=3, seed=seed)
    best = exact(inst, 3)
    start = solve_large_block(inst, 3, SOLVER, Deadline.after(30), 0.5)
    assert start.centres is not None
    columns = allowed_columns(inst)
    full = build_model(inst, columns, 3, SOLVER, Deadline.after(60))
    lean = build_model(inst, columns, 3, SOLVER, Deadline.after(60), proof=True)
    assert len(lean.problem.constraints) < len(full.problem.constraints)
    effort = [m.mip.highs.getOptionValue("mip_heuristic_effort") for m in (full, lean)]
    effort = [e[-1] if isinstance(e, tuple) else e for e in effort]  # (status, value) in 1.16
    assert effort[0] > 0.0 and effort[1] == 0.0
    status, plan, bound, _ = lean.solve(Deadline.after(60), 0.0, start.centres, math.inf)
    adj = neighbour_lists(len(inst.weights), inst.edges)
    assert status == "optimal" and plan_is_valid(plan, inst, adj)
    assert plan_cost(plan, inst) == pytest.approx(best.objective)
    assert bound == pytest.approx(best.objective)


def test_a_look_that_ends_early_without_change_settles_its_pair():
    """An exact re-look from the same plan that was solved, used under half its time and changed
    nothing would repeat itself: the pair is settled and gets no more looks. One whose model was
    not built, one that used its time, and one that raised the bound do not settle it."""
    inst = instance("AAAAAA\nAAAAAA\nAAAAAA\nAAAAAA", low=14, high=22, count=4)
    search = CountSearch([inst], SOLVER, None)
    first = solve_large_block(inst, 4, SOLVER, Deadline.after(30), 0.5)
    low = 0.5 * first.objective
    pair = Pair(0, 4, low, first.objective, first.centres, status="time_limit", looks=1)
    search.pairs[0, 4] = pair
    task = search.next_task(Deadline.after(60), set())
    assert task is not None and task.exact and task.incumbent is not None
    assert task.seconds == pytest.approx(60, abs=1)

    def result(bound: float, seconds: float, rounds: int) -> BlockResult:
        return BlockResult(
            inst.name, 4, "time_limit", first.objective, bound, first.centres, seconds, rounds, 0
        )

    for unsettled in (result(low, 0.1, 0), result(low, 0.9 * task.seconds, 1)):
        search.record(task, unsettled)
        assert not pair.settled
    search.record(task, result(low, 0.1, 1))
    assert pair.settled and search.next_task(Deadline.after(60), set()) is None
    search.record(task, result(0.6 * first.objective, 0.1, 1))
    assert not pair.settled and pair.bound == pytest.approx(0.6 * first.objective)
