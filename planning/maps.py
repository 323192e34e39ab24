"""Static maps (matplotlib, Agg): team patches with stable colours, labels and boundaries."""

from __future__ import annotations

import hashlib

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

PALETTE = [plt.get_cmap("tab20")(i) for i in range(20)] + [
    plt.get_cmap("Set3")(i) for i in range(12)
]


def team_colour(team_id: str) -> tuple:
    """A colour that depends only on the team id, so maps of different runs agree."""
    digits = "".join(ch for ch in team_id if ch.isdigit())
    number = int(digits) if digits else int(hashlib.sha256(team_id.encode()).hexdigest()[:8], 16)
    return PALETTE[(number * 7) % len(PALETTE)]


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
    colours = areas.area_code.map(assignment).map(team_colour)
    areas.plot(ax=ax, color=list(colours), edgecolor="white", linewidth=0.15)
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
    ax.set_title(
        f"{result.scenario.name}\n{len(teams.teams)} teams of "
        f"{result.scenario.teams.min_population:,g}-{result.scenario.teams.max_population:,g} "
        f"{teams.population_basis.replace('_', ' ')}; gap {100 * teams.gap:.2f}% ({teams.status})",
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
