"""Tiny hand-drawn grids for unit tests: one character per area, one row per line.

A letter is an area in the district of that letter; '.' is no area. Cells are 1 km apart and touch
their four neighbours (rook contiguity). Weights default to 1 person per area.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planning.geography import Geography


def grid(picture: str, weights: dict[tuple[int, int], float] | None = None):
    """(areas table, geography) for a picture such as::

    AAB
    AAB
    """
    rows = [line.strip() for line in picture.strip().splitlines()]
    cells = [(r, c, ch) for r, line in enumerate(rows) for c, ch in enumerate(line) if ch != "."]
    index = {(r, c): k for k, (r, c, _) in enumerate(cells)}
    codes = np.array([f"E0100{k:04d}" for k in range(len(cells))])
    names = np.array([f"cell {r},{c}" for r, c, _ in cells])
    weight = np.array([(weights or {}).get((r, c), 1.0) for r, c, _ in cells])
    edges = sorted(
        (index[r, c], index[r + dr, c + dc])
        for (r, c, _) in cells
        for dr, dc in ((0, 1), (1, 0))
        if (r + dr, c + dc) in index
    )
    areas = pd.DataFrame(
        {
            "area_code": codes,
            "area_name": names,
            "district_code": [f"E0700{ord(ch):04d}" for _, _, ch in cells],
            "district_name": [f"District {ch}" for _, _, ch in cells],
            "residents": weight,
            "children_0_17": weight / 5,
            "children_0_19": weight / 4.5,
            "children_0_24": weight / 3.5,
            "imd_score": np.full(len(cells), 10.0),
        }
    )
    geo = Geography(
        codes=codes,
        names=names,
        x_m=np.array([c * 1000.0 for _, c, _ in cells]),
        y_m=np.array([-r * 1000.0 for r, _, _ in cells]),
        edges=np.array(edges, dtype=int).reshape(-1, 2),
        links=(),
    )
    return areas, geo
