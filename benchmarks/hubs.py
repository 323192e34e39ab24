"""Benchmark the hub stage: solve time, HiGHS status and gap per locality and in total.

Runs Sefton and Staffordshire from their shipped scenarios and Hampshire (E10000014) from its
scenario plus the hub settings below. Teams are a stand-in (each ward one team) so that the hub
stage is timed on its own; team bases are a post-step and do not change the models.

    .venv/bin/python benchmarks/hubs.py [sefton] [staffordshire] [hampshire] [--threads 1]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from planning.config import HubSettings, load_scenario
from planning.data import load_areas
from planning.geography import build_geography
from planning.hubs import place_hubs

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {
    "sefton": ROOT / "scenarios" / "sefton.yaml",
    "staffordshire": ROOT / "scenarios" / "staffordshire.yaml",
    "hampshire": ROOT / "scenarios" / "hampshire.yaml",
}
#: Hampshire's scenario plans teams only; hubs here: each district a locality, one main hub and
#: the fewest community hubs putting 90% of children aged 0-17 within 3 km (road estimate).
HAMPSHIRE_HUBS = HubSettings(
    population_basis="children_0_17", coverage_share=0.9, target_distance_km=3.0
)


def run(name: str, threads: int) -> tuple[float, bool]:
    scenario = load_scenario(SCENARIOS[name])
    hubs = scenario.hubs or HAMPSHIRE_HUBS
    solver = scenario.solver.model_copy(update={"threads": threads})
    areas = load_areas(scenario.councils, scenario.data_dir).areas
    geo = build_geography(areas, scenario.geography)
    teams = areas.set_index("area_code")["ward_code"]  # stand-in: each ward one team
    start = time.perf_counter()
    plan = place_hubs(
        areas,
        geo,
        teams,
        hubs,
        solver,
        default_basis=scenario.teams.population_basis,
        base_dir=SCENARIOS[name].parent,
    )
    wall = time.perf_counter() - start
    print(f"\n{scenario.name}\n  travel: {plan.travel}; weighting: {plan.children_basis}")
    print(
        f"  {'locality':<26}{'stage':<23}{'areas':>6}{'vars':>8}{'status':>10}"
        f"{'gap':>10}{'seconds':>9}"
    )
    solver_seconds = 0.0
    worst_gap = 0.0
    for loc, runs in plan.evidence.items():
        for r in runs:
            gap = "-" if r.gap is None else f"{r.gap:.4%}"
            areas_n = plan.accessibility[loc]["areas"]
            print(
                f"  {loc:<26}{r.stage:<23}{areas_n:>6}{r.variables:>8}{r.status:>10}"
                f"{gap:>10}{r.seconds:>9.2f}"
            )
            solver_seconds += r.seconds
            worst_gap = max(worst_gap, r.gap or 0.0)
    main = int((plan.hubs["kind"] == "main").sum())
    community = int((plan.hubs["kind"] == "community").sum())
    print(
        f"  total: {len(plan.evidence)} localities, {main} main + {community} community hubs; "
        f"HiGHS {solver_seconds:.2f} s, stage wall {wall:.2f} s; worst gap {worst_gap:.4%}; "
        f"{'all proven optimal' if plan.proven else 'NOT all proven optimal'}"
    )
    return wall, plan.proven


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("councils", nargs="*", help=f"any of {', '.join(SCENARIOS)} (default all)")
    parser.add_argument("--threads", type=int, default=1, help="HiGHS threads (default 1)")
    parser.add_argument("--verbose", action="store_true", help="log every stage")
    args = parser.parse_args()
    unknown = sorted(set(args.councils) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown council(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    total, proven = 0.0, True
    for name in args.councils or list(SCENARIOS):
        wall, ok = run(name, args.threads)
        total += wall
        proven &= ok
    print(f"\nall: {total:.2f} s; {'all proven optimal' if proven else 'NOT all proven optimal'}")


if __name__ == "__main__":
    main()
