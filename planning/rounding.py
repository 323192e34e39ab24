"""One rounding rule for every figure a reader sees: whole pounds, whole people.

``whole`` rounds half away from zero (as Excel and LibreOffice display), after snapping away
float noise (a sum of tenths that should end in .5 rounds up, not down). ``largest_remainder``
rounds a list of parts so that they add up exactly to their rounded total: each part becomes the
floor or the ceiling of its value, and the units left over go to the largest remainders (ties to
the earlier part, so the result is deterministic). The workbook, the CSVs, the report and the map
all use these two, so a headline and the parts beneath it always agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

#: Decimal places kept before rounding: float sums carry noise around the 12th digit.
_SNAP = 6


def whole(value: float) -> int:
    """``value`` to the nearest whole number, halves away from zero."""
    snapped = round(float(value), _SNAP)
    return int(math.copysign(math.floor(abs(snapped) + 0.5), snapped))


def largest_remainder(values: Sequence[float] | np.ndarray, total: int | None = None) -> np.ndarray:
    """Whole numbers, each the floor or ceiling of its value, adding up to ``total``.

    ``total`` defaults to ``whole(sum(values))``; it must lie between the sum of the floors and
    the sum of the ceilings. Ties between equal remainders go to the earlier value.
    """
    x = np.round(np.asarray(values, dtype=float), _SNAP)
    if x.size == 0:
        return np.zeros(0, dtype=np.int64)
    floors = np.floor(x)
    frac = x - floors
    target = whole(float(x.sum())) if total is None else int(total)
    extra = target - int(floors.sum())
    ceilings = int(np.count_nonzero(frac > 0))
    if not 0 <= extra <= ceilings:
        raise ValueError(f"cannot round {x.size} values summing to {x.sum()} to total {target}")
    out = floors.astype(np.int64)
    order = np.argsort(-frac, kind="stable")
    out[order[:extra]] += 1
    return out


def nested_whole(values: Sequence[float], groups: Iterable) -> np.ndarray:
    """Whole parts that add up to whole group totals, which add up to the whole grand total.

    The group totals are rounded by largest remainder across groups (each is the floor or ceiling
    of its exact sum, so a band met exactly stays met), then each group's parts to its total.
    """
    x = np.asarray(values, dtype=float)
    keys = np.asarray(list(groups), dtype=object)
    names = sorted(set(keys.tolist()))
    sums = np.array([x[keys == name].sum() for name in names])
    group_totals = largest_remainder(sums)
    out = np.zeros(x.size, dtype=np.int64)
    for name, total in zip(names, group_totals, strict=True):
        mask = keys == name
        out[mask] = largest_remainder(x[mask], int(total))
    return out


def gbp_text(value: float | None) -> str:
    """Money as a reader sees it: £1,234,567 (whole pounds), or 'n/a'."""
    if value is None:
        return "n/a"
    pounds = whole(value)
    return f"-£{-pounds:,}" if pounds < 0 else f"£{pounds:,}"


#: Head counts written as whole numbers wherever a reader sees them.
COUNT_COLUMNS = ("residents", "children_0_17", "children_0_19", "children_0_24")


def whole_counts(areas, assignment) -> dict[str, np.ndarray]:
    """Each area's counts as whole numbers that add up exactly to whole team totals, which add
    up to the whole total of all areas (``nested_whole`` by team). Children are estimates
    apportioned from 2011 areas, so they carry fractions; residents are whole already.

    Returns {column: integers in the order of ``areas``}.
    """
    teams = areas["area_code"].map(assignment).astype(str).to_numpy()
    return {
        col: nested_whole(areas[col].to_numpy(float), teams)
        for col in COUNT_COLUMNS
        if col in areas
    }
