"""Static maps (matplotlib, Agg): team patches, labels and boundaries.

Teams are coloured by a graph colouring of their adjacency over ColorBrewer Set3, so no two
touching teams share a colour; ``team_colours`` is the one source of colours for teams.png,
map.html and the GeoPackage's QGIS style."""

from __future__ import annotations

import re

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import shapely

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

#: ColorBrewer Set3 (12 classes, qualitative; Cynthia Brewer, Apache-2.0), light enough for
#: black labels and for the hubs and boundaries drawn over it.
PALETTE = [
    "#8dd3c7",
    "#ffffb3",
    "#bebada",
    "#fb8072",
    "#80b1d3",
    "#fdb462",
    "#b3de69",
    "#fccde5",
    "#d9d9d9",
    "#bc80bd",
    "#ccebc5",
    "#ffed6f",
]
#: Used only if a plan's teams ever need more than 12 colours (ColorBrewer Paired).
SPARE = [
    "#a6cee3",
    "#1f78b4",
    "#b2df8a",
    "#33a02c",
    "#fb9a99",
    "#e31a1c",
    "#fdbf6f",
    "#ff7f00",
    "#cab2d6",
    "#6a3d9a",
    "#b15928",
    "#ffff99",
]


def team_adjacency(assignment, codes, edges) -> dict[str, set[str]]:
    """Teams that touch: two teams touch when any of their areas do (the planner's adjacency,
    queen contiguity with its tolerance, plus bridge and ferry links)."""
    teams = pd.Series(list(codes)).map(assignment).astype(str).to_numpy()
    graph: dict[str, set[str]] = {t: set() for t in sorted(set(teams))}
    for a, b in np.asarray(edges, dtype=int).reshape(-1, 2):
        ta, tb = teams[a], teams[b]
        if ta != tb:
            graph[ta].add(tb)
            graph[tb].add(ta)
    return graph


def colour_graph(
    graph: dict[str, set[str]], palette: list[str] | None = None, *, spare: bool = True
) -> dict[str, str]:
    """A colour per node, different from every neighbour's: DSatur order (most distinct
    neighbour colours first, then most neighbours, then name), each node taking the allowed
    colour used least so far (then the earliest), which spreads the palette evenly. Depends
    only on the graph, so the same plan always gets the same colours."""
    colours = list(palette or PALETTE)
    base = len(colours)
    colours += [c for c in SPARE if c not in colours] if spare else []
    chosen: dict[str, int] = {}
    used = [0] * len(colours)
    while len(chosen) < len(graph):
        node = min(
            (n for n in graph if n not in chosen),
            key=lambda n: (
                -len({chosen[m] for m in graph[n] if m in chosen}),
                -len(graph[n]),
                n,
            ),
        )
        taken = {chosen[m] for m in graph[node] if m in chosen}
        free = [k for k in range(len(colours)) if k not in taken]
        if not free:
            raise ValueError(f"{node}: more than {len(colours)} colours needed")
        main = [k for k in free if k < base] or free  # the spare colours only when needed
        pick = min(main, key=lambda k: (used[k], k))
        chosen[node] = pick
        used[pick] += 1
    return {n: colours[k] for n, k in sorted(chosen.items())}


#: Teams this close (a share of the map's diagonal) also get different colours when the
#: palette allows, so two patches that nearly meet are not mistaken for one.
NEAR_SHARE = 0.015


def near_pairs(areas: gpd.GeoDataFrame, assignment, distance_m: float) -> list[tuple[str, str]]:
    """Pairs of teams with areas within ``distance_m`` of each other."""
    geoms = areas.geometry.to_numpy()
    teams = areas["area_code"].map(assignment).astype(str).to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=distance_m)
    keep = teams[left] != teams[right]
    return sorted(
        {tuple(sorted(p)) for p in zip(teams[left][keep], teams[right][keep], strict=True)}
    )


def team_colours(result) -> dict[str, str]:
    """Hex colour per team id, touching teams never sharing one: the same in teams.png,
    map.html and the GeoPackage's style. Teams that nearly touch are kept apart too when the
    twelve colours allow it; touching teams are kept apart always."""
    areas = result.area_data.areas
    assignment = result.teams.assignment
    graph = team_adjacency(assignment, areas["area_code"], result.geo.edges)
    x0, y0, x1, y1 = areas.total_bounds
    distance = NEAR_SHARE * float(np.hypot(x1 - x0, y1 - y0))
    wider = {team: set(neighbours) for team, neighbours in graph.items()}
    for a, b in near_pairs(areas, assignment, distance):
        wider[a].add(b)
        wider[b].add(a)
    try:
        return colour_graph(wider, spare=False)
    except ValueError:
        return colour_graph(graph)


def team_polygons(areas: gpd.GeoDataFrame, assignment) -> gpd.GeoDataFrame:
    """One polygon per team (areas dissolved), with a label point inside each."""
    frame = areas[["area_code", "geometry"]].copy()
    frame["team_id"] = frame.area_code.map(assignment)
    teams = frame.dissolve(by="team_id", sort=True).reset_index()[["team_id", "geometry"]]
    return teams


def team_map(result, teams_gdf: gpd.GeoDataFrame | None = None) -> Figure:
    """teams.png: areas coloured by team, team labels, district boundaries, hubs if placed."""
    areas = result.area_data.areas
    assignment = result.teams.assignment
    teams_gdf = teams_gdf if teams_gdf is not None else team_polygons(areas, assignment)
    fig, ax = plt.subplots(figsize=(10, 10), dpi=110)
    palette = team_colours(result)
    colours = areas.area_code.map(assignment).astype(str).map(palette)
    areas.plot(ax=ax, color=list(colours), edgecolor="white", linewidth=0.15)
    if result.scenario.teams.building_block == "ward":  # the wards the patches are built from
        wards = areas[["ward_code", "geometry"]].dissolve(by="ward_code", sort=True)
        wards.boundary.plot(ax=ax, color="#555555", linewidth=0.35, linestyle=(0, (2, 2)))
    teams_gdf.boundary.plot(ax=ax, color="#333333", linewidth=0.6)
    districts = areas[["district_code", "geometry"]].dissolve(by="district_code", sort=True)
    districts.boundary.plot(ax=ax, color="black", linewidth=1.6)
    if result.hubs is not None:
        from planning.hubs import hubs_layer, localities_layer

        localities_layer(areas, result.hubs).boundary.plot(
            ax=ax, color="#7a0177", linewidth=2.0, linestyle="--"
        )
        hubs = hubs_layer(result.hubs)
        main = hubs[hubs.kind == "main"]
        community = hubs[hubs.kind != "main"]
        if len(community):
            community.plot(
                ax=ax, marker="o", facecolor="white", edgecolor="black", markersize=28, zorder=5
            )
        if len(main):
            main.plot(
                ax=ax, marker="*", color="#d7301f", edgecolor="black", markersize=220, zorder=6
            )
    for team_id, geom in zip(teams_gdf.team_id, teams_gdf.geometry, strict=True):
        point = geom.representative_point()
        ax.annotate(
            team_id,
            (point.x, point.y),
            ha="center",
            va="center",
            fontsize=7,
            fontweight="bold",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
        )
    teams = result.teams
    basis = re.sub(r"(\d+)_(\d+)", r"\1-\2", teams.population_basis).replace("_", " ")
    ax.set_title(
        f"{result.scenario.name}\n{len(teams.teams)} teams of "
        f"{result.scenario.teams.min_population:,g}-{result.scenario.teams.max_population:,g} "
        f"{basis}; gap {100 * teams.gap:.2f}% ({teams.status})",
        fontsize=11,
    )
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.text(
        0.0,
        -0.01,
        "Contains OS data © Crown copyright and database right; ONS, MHCLG, DfE "
        "data under the Open Government Licence v3.0",
        transform=ax.transAxes,
        fontsize=6,
        va="top",
    )
    fig.tight_layout()
    return fig
