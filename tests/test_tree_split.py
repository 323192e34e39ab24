"""First plans by recursive spanning-tree bisection, on grids and on a real council."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_large_blocks import instance

from planning.allocate.graph import neighbour_lists, plan_is_valid, split_teams
from planning.allocate.local_search import medoids
from planning.allocate.tree_split import tree_first_plan, tree_plan

SQUARE = "\n".join(["AAAAAAAAAA"] * 10)
RING = """
AAAAAAAA
A......A
A......A
AAAAAAAA
"""


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("count", [2, 5, 9])
def test_tree_plans_are_contiguous_and_in_band(seed, count):
    inst = instance(SQUARE, 1, 1e7, count, seed)  # the band is set below from the weights
    total = float(inst.weights.sum())
    lo, hi = 0.8 * total / count, 1.2 * total / count
    inst = replace(inst, min_pop=lo, max_pop=hi)
    labels = tree_plan(inst, count, seed)
    assert labels is not None
    adj = neighbour_lists(len(inst.weights), inst.edges)
    assert len(np.unique(labels)) == count
    pops = np.bincount(labels, weights=inst.weights)
    assert (pops >= lo - 1e-6).all() and (pops <= hi + 1e-6).all()
    assert not split_teams(medoids(labels, inst), adj)  # every team one connected piece
    plan = tree_first_plan(inst, count, adj, seed)
    assert plan is not None and plan_is_valid(plan, inst, adj)


def test_tree_plan_is_reproducible_and_refuses_counts_the_band_cannot_hold():
    inst = instance(RING, 1, 1e7, 4, 0)
    total = float(inst.weights.sum())
    inst = replace(inst, min_pop=total / 5, max_pop=total / 3)
    first, again = tree_plan(inst, 4, 7), tree_plan(inst, 4, 7)
    assert first is not None and np.array_equal(first, again)
    assert tree_plan(inst, 2, 0) is None  # two teams would each exceed the maximum
    assert tree_plan(inst, 6, 0) is None  # six teams would each be under the minimum


@pytest.mark.slow
def test_somerset_bounds_are_real_and_tree_plans_respect_them(data_dir, tmp_path):
    """Somerset (339 areas, one block, 12-19 teams): the up-front Lagrangian once stalled near 0
    at 16-19 teams. Every count's bound must clear the nearest-centre floor and stay below a real
    plan's cost at that count."""
    from planning.allocate.blocks import band_for_count, block_instance, feasible_blocks
    from planning.allocate.bounds import nearest_centre_bound
    from planning.allocate.graph import allowed_columns, plan_cost
    from planning.allocate.search import BoundTask, bound_task
    from planning.config import load_scenario
    from planning.data import load_areas
    from planning.geography import build_geography
    from planning.starter import starter_scenario

    path = tmp_path / "somerset.yaml"
    path.write_text(starter_scenario(["E06000066"], data_dir).text)
    scenario = load_scenario(path)
    areas = load_areas(scenario.councils, data_dir).areas
    geo = build_geography(areas, scenario.geography)
    (block,) = feasible_blocks(areas, scenario.teams)
    weights = areas[scenario.teams.population_basis].to_numpy(float)
    inst = block_instance(geo, weights, block, scenario.teams)
    bounds = bound_task(BoundTask(0, inst))
    adj = neighbour_lists(len(inst.weights), inst.edges)
    planned = 0
    for count, bound in bounds.items():
        own = band_for_count(inst, count)
        assert bound > nearest_centre_bound(own, allowed_columns(own), count), count
        plan = tree_first_plan(own, count, adj)
        if plan is not None:
            planned += 1
            assert bound <= plan_cost(plan, inst) + 1e-6, count
    assert planned >= 3
