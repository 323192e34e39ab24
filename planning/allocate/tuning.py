"""Every time share, cap and tolerance of the allocation, named in one place.

The values are recorded in each run's manifest (``allocation.tuning``), so a result can be
re-derived with the same settings. None of them changes what a plan must satisfy (band,
contiguity, nesting); they steer where the time goes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Tuning:
    """Named tuning numbers of the allocation search."""

    # blocks and counts
    large_block_areas: int = 250  # above this, column generation is too slow on 2 cores
    band_tolerance: float = 1e-6  # people: a team this far outside the band still counts as in it

    # up-front bounds (every block, every admissible count)
    lagrangian_bound_steps: int = 150  # fixed, so the up-front bound is reproducible
    lagrangian_block_steps: int = 400  # a large block's own bound, after its plan
    lagrangian_stall_steps: int = 15  # halve the step after this many steps without progress
    lagrangian_min_step: float = 1e-4
    lp_first_columns_per_area: int = 12
    lp_columns_per_round: int = 20
    lp_max_rounds: int = 200

    # the count search
    first_look_share: float = 0.35  # of the time left x processes / max(processes, waiting)
    first_look_min_seconds: float = 3.0
    gap_budget_min_seconds: float = 3.0
    gap_budget_growth: float = 2.0  # each exact solve of a pair gets at least this x the last
    settled_look_share: float = 0.5  # a look using less of its time than this ended on its own
    rule_out_gap_share: float = 0.999  # a count outside the best plan is ruled out below the
    # best objective less this share of the gap target (and the other blocks' bounds)
    own_bound_share: float = 0.2  # of the time left: a large block's own Lagrangian bound

    # small blocks: quick plans before the exact model
    tight_count_slack: float = 0.05  # mean team this close to a band edge: star models first
    quick_plan_slacks: tuple[float, ...] = (0.02, 0.03)  # reduced-cost slack, share of the LP
    quick_plan_min_seconds: float = 1.5
    quick_plan_max_seconds: float = 10.0
    quick_plan_share: float = 0.4
    star_first_look_seconds: float = 5.0
    star_first_look_share: float = 0.2
    star_rescue_share: float = 0.5  # no quick plan: share of the time left for the star models
    resplit_share_exact: float = 0.3
    resplit_share_first_look: float = 0.8
    resplit_pair_seconds: float = 10.0
    resplit_gap: float = 0.005
    no_plan_column_share: float = 0.05  # no plan at all: MIP columns within this share of the LP

    # large blocks: star models over capacitated centres, Lagrangian bound
    star_search_share: float = 0.6
    resplit_share_large: float = 0.5  # of the time left after the star models
    star_starts: int = 4
    star_gap_first: float = 0.5  # x relative_gap: quick star solves first
    star_gap_tight: float = 0.1  # x relative_gap: once the centres settle
    star_centres_per_team: int = 3
    star_neighbourhood_seconds: float = 10.0  # cap on one centre-neighbourhood model
    capacitated_rounds: int = 30
    fallback_bound_share: float = 0.1
    fallback_widths: tuple[int, ...] = (3, 2, 1)  # x count: centres in the restricted MIP
    fallback_mip_share: float = 0.5
    model_seconds_per_column: float = 7e-5  # building Hess's model (PuLP, 2-core machine)

    # first plans by recursive spanning-tree bisection (tree_split)
    tree_draws: int = 20  # spanning trees drawn for one region before its attempt is given up
    tree_noise: float = 0.5  # edge lengths times uniform(1, 1 + noise): the trees vary
    tree_attempts: int = 10  # whole recursions tried before there is no tree plan

    # local search
    improve_max_passes: int = 50
    seed_pool_factor: int = 6
    balance_moves_factor: int = 20
    repair_moves_factor: int = 4

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


TUNING = Tuning()
