"""Front-door staffing for Sefton and for a council with ten times its volume, with the seconds.

Run from the repository root:  .venv/bin/python benchmarks/front_door.py

Sefton is ``scenarios/sefton.yaml``'s ``front_door:`` section (326.3 contacts a week, 90% of calls
answered within 20 s). The same settings are then run with ten times the contacts, with Sefton's
own "under one second" (a mean wait of at most 1 s) and with contacts estimated from Sefton's
DfE referrals instead of given. Each line is the sizing alone (demand, Erlang C per hour, FTE),
timed over repeated runs; no allocation or other stage runs.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from planning.config import FrontDoorSettings, load_scenario
from planning.data import read_referrals, resolve_data_dir
from planning.front_door import FrontDoorPlan, contacts_demand, size_front_door

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 20


def timed(settings: FrontDoorSettings, referrals=None, year=None) -> tuple[FrontDoorPlan, float]:
    start = time.perf_counter()
    for _ in range(REPEATS):
        plan = size_front_door(settings, contacts_demand(settings, referrals, year))
    return plan, (time.perf_counter() - start) / REPEATS


def line(name: str, plan: FrontDoorPlan, seconds: float) -> str:
    avg, peak = plan.day("average"), plan.day("peak")

    def wait(v: float) -> str:
        return f"{v:6.1f}" if math.isfinite(v) else "   inf"

    return (
        f"{name:<34} {plan.demand.weekly_contacts:8.1f} {avg['calls']:7.1f} "
        f"{int(plan.intervals['phone_officers'].max()):5d} "
        f"{plan.fte('contact_officer'):6.1f} {plan.fte('duty_social_worker'):6.1f} "
        f"{100 * avg['service_level']:6.1f} {wait(avg['mean_wait_seconds'])} "
        f"{100 * peak['service_level']:6.1f} {wait(peak['mean_wait_seconds'])} "
        f"{100 * avg['phone_occupancy']:5.1f} {seconds:8.4f}"
    )


def main() -> None:
    door = load_scenario(ROOT / "scenarios" / "sefton.yaml").front_door
    assert door is not None
    ten = door.model_copy(update={"weekly_contacts": 10 * door.weekly_contacts})
    under_one = door.model_copy(update={"answered_within_share": None, "mean_wait_seconds": 1.0})
    ten_under_one = under_one.model_copy(update={"weekly_contacts": 10 * door.weekly_contacts})
    estimated = door.model_copy(update={"weekly_contacts": None})
    referrals = read_referrals(resolve_data_dir(), ["E08000014"])
    print(
        f"{'front door':<34} {'contacts':>8} {'calls':>7} {'phone':>5} {'CO FTE':>6} "
        f"{'DSW':>6} {'SL %':>6} {'wait s':>6} {'pk SL':>6} {'pk wt':>6} {'occ %':>5} "
        f"{'seconds':>8}"
    )
    print(f"{'':<34} {'a week':>8} {'a day':>7} {'most':>5}")
    runs = [
        ("Sefton, 90% in 20 s", door, None, None),
        ("Sefton x10, 90% in 20 s", ten, None, None),
        ("Sefton, mean wait <= 1 s", under_one, None, None),
        ("Sefton x10, mean wait <= 1 s", ten_under_one, None, None),
        (f"Sefton from referrals {referrals.year}", estimated, referrals.table, referrals.year),
    ]
    for name, settings, table, year in runs:
        plan, seconds = timed(settings, table, year)
        print(line(name, plan, seconds))
    print(
        "\nphone most: most contact officers on the phones in one hour; CO: contact officer, "
        "DSW: duty social worker FTE;\nSL, wait: average day's share answered within 20 s and "
        "mean wait (s); pk: the peak day with the same officers;\nocc: phone occupancy; "
        f"seconds: one sizing, mean of {REPEATS} runs."
    )


if __name__ == "__main__":
    main()
