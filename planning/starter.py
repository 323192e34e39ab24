"""``planning init``: a starter scenario for any English councils, written as commented YAML.

The file lists every district with its name, residents and children and the team counts the band
admits there, the islands found in the boundaries with the links the planner makes for them, and
a comment on each setting. It uses the README's defaults: 30,000-50,000 residents, team count
free, teams within districts for a two-tier county (none for a unitary council), 60 s, 1% gap.

Two cases get an explicit choice, said in the file:
* a district too small or too awkward for the band on its own (e.g. 50,000-60,000 residents: one
  team is over the maximum, two are under the minimum) is grouped with the touching district it
  shares the longest boundary with (``nesting: groupings``);
* a council below the band's minimum on its own (the City of London, the Isles of Scilly) is
  planned as one team below the band (``teams.undersized: one_team``), flagged in every output.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planning.allocate.blocks import count_range
from planning.config import GeographySettings
from planning.data import load_areas
from planning.geography import build_geography

DEFAULT_BAND = (30_000, 50_000)
DEFAULT_TIME_LIMIT_SECONDS = 60
DEFAULT_GAP = 0.01


@dataclass(frozen=True)
class Starter:
    """A starter scenario: its YAML text and what it decided."""

    text: str
    nesting: str
    groupings: list[tuple[str, list[str]]]  # (name, district codes) when districts are merged
    undersized: bool
    fewest_district_areas: int  # areas in the smallest district (a locality's most sites)


def _admits(population: float, band: tuple[float, float]) -> str:
    lo, hi = count_range(population, *band)
    if hi < lo:
        return "none (cannot meet the band on its own)"
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def _district_edges(areas: pd.DataFrame, edges: np.ndarray) -> pd.Series:
    """Touching area pairs between each two districts (a measure of shared boundary)."""
    d = areas.district_code.to_numpy()
    a, b = d[edges[:, 0]], d[edges[:, 1]]
    cross = a != b
    pairs = pd.DataFrame({"a": np.minimum(a[cross], b[cross]), "b": np.maximum(a[cross], b[cross])})
    return pairs.value_counts()


def _merge_unfit(
    areas: pd.DataFrame, edges: np.ndarray, basis: str, band: tuple[float, float]
) -> list[list[str]]:
    """Districts as groups, each unfit one merged with its most-touching neighbour group."""
    groups = [[c] for c in sorted(areas.district_code.unique())]
    pop = areas.groupby("district_code")[basis].sum()
    shared = _district_edges(areas, edges)

    def fits(group: list[str]) -> bool:
        lo, hi = count_range(float(pop[group].sum()), *band)
        return lo <= hi

    while True:
        unfit = [g for g in groups if not fits(g)]
        if not unfit or len(groups) == 1:
            return groups
        g = min(unfit, key=lambda x: (float(pop[x].sum()), x))
        touching = []
        for other in groups:
            if other is g:
                continue
            links = sum(int(shared.get((min(x, y), max(x, y)), 0)) for x in g for y in other)
            if links:
                touching.append((-links, float(pop[other].sum()), other))
        if not touching:
            return groups
        other = min(touching)[2]
        groups = [x for x in groups if x is not g and x is not other] + [sorted(g + other)]
        groups.sort()


def starter_scenario(
    councils: list[str],
    data_dir: Path | str | None = None,
    band: tuple[float, float] = DEFAULT_BAND,
    basis: str = "residents",
) -> Starter:
    """The commented YAML of a default scenario for ``councils``."""
    area_data = load_areas(councils, data_dir)
    areas = area_data.areas
    geo = build_geography(areas, GeographySettings(islands="link_nearest"))
    districts = area_data.districts
    two_tier = (
        any(c.startswith("E10") or c.startswith("E07") for c in councils) and len(districts) > 1
    )
    council_names = ", ".join(sorted(areas.council_name.unique()))
    total = float(areas[basis].sum())
    lines = [
        f"# Starter scenario for {council_names}, written by `planning init {' '.join(councils)}`",
        f"# on {dt.date.today().isoformat()} from the data in {area_data.data_dir}.",
        "# Every setting is a default you may change; `planning validate` checks the file and",
        "# `planning run FILE --out DIR` runs it. Settings are documented in planning/config.py.",
        f"name: {json.dumps(council_names + ' Family Help teams (starter)')}",
        "description: >",
        f"  {len(areas)} LSOA 2021 areas ({areas.residents.sum():,.0f} residents, "
        f"{areas.children_0_17.sum():,.0f} children 0-17) in contiguous team patches of",
        f"  {band[0]:,.0f}-{band[1]:,.0f} {basis.replace('_', ' ')}, the team count chosen by",
        "  the planner.",
        f"councils: [{', '.join(councils)}]",
        "",
        "geography:",
    ]
    links = [link for link in geo.links if link.source == "nearest"]
    if links:
        lines += [
            "  # Detached parts found in the boundaries (islands, or areas cut off by a river in",
            "  # the generalised boundaries), each joined to its nearest area. Replace a link with",
            "  # the real bridge or ferry where it differs.",
            "  islands: links          # link_nearest | links | fail",
            "  links:",
        ]
        names = dict(zip(geo.codes, geo.names, strict=True))
        for link in links:
            lines.append(
                f"    - {{from_area: {link.from_code}, to_area: {link.to_code}, kind: road, "
                "name: "
                + json.dumps(
                    f"nearest, {link.distance_km:.2f} km: {names[link.from_code]} - "
                    f"{names[link.to_code]}"
                )
                + "}"
            )
    else:
        lines += [
            "  # No detached parts: every area touches another.",
            "  islands: link_nearest   # link_nearest | links | fail",
        ]
    lines += [
        "",
        "teams:",
        "  population_basis: " + basis + "   # residents | children_0_17 | children_0_19 | "
        "children_0_24 | expected_cases | case_holding_fte",
        f"  min_population: {band[0]:.0f}    # smallest team on that basis",
        f"  max_population: {band[1]:.0f}    # largest team",
        "  building_block: lsoa   # lsoa | ward: ward keeps every May 2024 ward whole",
        "  # workload: {basis: case_holding_fte, min: 15, max: 30}   # a second band per team",
        "  # fixed_areas_csv: locks.csv   # area_code,team: areas that must share a team",
    ]
    groupings: list[tuple[str, list[str]]] = []
    nesting = "district" if two_tier else "none"
    columns = list(dict.fromkeys([basis, "residents", "children_0_17"]))
    pops = areas.groupby("district_code")[columns].sum()
    names = dict(zip(districts.district_code, districts.district_name, strict=True))
    if two_tier:
        merged = _merge_unfit(areas, geo.edges, basis, band)
        if any(len(g) > 1 for g in merged):
            nesting = "groupings"
            groupings = [(" and ".join(names[c] for c in g), g) for g in merged]
    lines.append(
        f"  nesting: {nesting}   # none | district | groupings: teams lie within each "
        + {"none": "council as a whole", "district": "district", "groupings": "grouping"}[nesting]
    )
    lines.append(f"  # districts: {basis} -> team counts the band admits on its own")
    for code in sorted(names):
        row = pops.loc[code]
        lines.append(
            f"  #   {code} {names[code]}: {row.residents:,.0f} residents, "
            f"{row.children_0_17:,.0f} children 0-17 -> {_admits(float(row[basis]), band)}"
        )
    if nesting == "groupings":
        lines += [
            "  # Some districts cannot meet the band on their own, so each is grouped with the",
            "  # touching district it shares most boundary with; the others stand alone.",
            "  groupings:",
        ]
        for name, codes in groupings:
            pop = float(pops.loc[codes, basis].sum())
            lines.append(
                f"    - {{name: {json.dumps(name)}, districts: [{', '.join(codes)}]}}"
                f"   # {pop:,.0f} -> {_admits(pop, band)}"
            )
    if nesting == "district":
        lines += [
            "  # Per-district caps, by code or name, e.g.:",
            "  # district_limits:",
            f"  #   - {{district: {sorted(names)[0]}, min_teams: 2, max_teams: 4}}",
        ]
    if nesting == "none":
        lines.append(f"  # the whole council: {total:,.0f} {basis} -> {_admits(total, band)} teams")
    undersized = count_range(total, *band)[1] == 0
    if undersized:
        lines += [
            f"  # {council_names} has {total:,.0f} {basis}, below the band's minimum on its own.",
            "  # It is planned as one team below the band, flagged in every output. To meet the",
            "  # band instead, add a neighbouring council to `councils` and set undersized: fail.",
            "  undersized: one_team     # fail | one_team",
        ]
    else:
        lines.append("  undersized: fail         # fail | one_team (a block below the band)")
    lines += [
        "  # total_teams: 20         # fix the number of teams in all (free when omitted)",
        "  # min_teams_per_group: 1  # fewest teams per district or grouping",
        "  # max_teams_per_group: 9  # most teams per district or grouping",
        "",
        "solver:",
        f"  time_limit_seconds: {DEFAULT_TIME_LIMIT_SECONDS}   # the whole allocation stage",
        f"  relative_gap: {DEFAULT_GAP}        # proven within 1% of the best possible plan",
        "  processes: 2            # sub-problems solved at once (one per core)",
        "",
    ]
    fewest = int(areas.groupby("district_code").size().min())
    return Starter("\n".join(lines), nesting, groupings, undersized, fewest)
