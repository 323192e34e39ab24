"""Scenario studio: compare plans side by side and sweep settings, reusing what does not change.

``compare_scenarios`` runs several scenario files and returns one table with a column per
scenario (teams; residents and children per team; objective and gap; hub distances; FTE by role;
cost and headroom) and, for every scenario after the first, the areas that change team.
``sweep_scenario`` varies dotted settings (``teams.max_population=45000,50000``) and returns one
row per variant. Both are pure: they return tables and figures. ``write_compare`` and
``write_sweep`` write them, all or nothing.

Stages are cached by the settings they read (``run_stages``), so a sweep that varies only
workforce or cost settings allocates teams and places hubs once and re-runs only workforce sizing
and costing; two scenarios over the same councils share the areas table and the geography.

Teams are numbered afresh in every plan, so "changes team" is measured after matching each
team of the other plan to the team of the first plan it shares most residents with (a maximum
weight matching); renumbering alone is never a change.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pydantic import BaseModel, ValidationError
from scipy.optimize import linear_sum_assignment

from planning.config import (
    Scenario,
    _model_of,
    describe_validation_error,
    load_raw,
    load_scenario,
)
from planning.errors import ConfigError, PlanningError
from planning.hubs import weighted_quantile
from planning.pipeline import Result, input_file_problems, run_stages
from planning.report import write_staged
from planning.workbook import cost_figures, team_costs
from planning.workforce import CASE_HOLDING, ROLE_NAMES, team_fte_spread

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


# --------------------------------------------------------------------------- running with reuse


def run_file(
    path: Path | str,
    data_dir: Path | str | None = None,
    cache: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> Result:
    """``pipeline.run_scenario`` with a stage cache: pass the same dict to later calls (and to
    ``compare_scenarios`` or ``sweep_scenario``) and they reuse every stage already run."""
    path = Path(path)
    return run_stages(load_scenario(path), path, data_dir, cache, progress, path.stem)[0]


# --------------------------------------------------------------------------- one plan's figures


def _hub_distances(result: Result) -> dict[str, Any]:
    plan = result.hubs
    if plan is None:
        return {}
    areas = result.area_data.areas.set_index("area_code")
    codes = plan.area_hub.index.to_numpy()
    sites = plan.sites.drop_duplicates("site_name").set_index("site_name")
    hub = sites.loc[plan.area_hub.to_numpy(), ["easting", "northing"]].to_numpy(float)
    where = pd.DataFrame({"x": result.geo.x_m, "y": result.geo.y_m}, index=result.geo.codes)
    xy = where.loc[codes, ["x", "y"]].to_numpy(float)
    km = np.hypot(*(xy - hub).T) / 1000.0 * result.scenario.hubs.circuity_factor
    weights = areas.loc[codes, plan.children_basis].to_numpy(float)
    acc = plan.accessibility.values()
    children = np.array([a["children"] for a in acc], dtype=float)

    def pooled(key: str) -> float:
        values = np.array([a[key] for a in acc], dtype=float)
        return round(float(values @ children / children.sum()), 4) if children.sum() else np.nan

    return {
        "main_hubs": int((plan.hubs["kind"] == "main").sum()),
        "community_hubs": int((plan.hubs["kind"] == "community").sum()),
        "hub_children_basis": plan.children_basis,
        "hub_mean_distance_km": round(float(weights @ km / weights.sum()), 3),
        "hub_p90_distance_km": round(weighted_quantile(km, weights, 0.9), 3),
        "hub_max_distance_km": round(float(km.max()), 3),
        "hub_share_within_target": pooled("share_within_target"),
        "mean_distance_to_main_hub_km": pooled("mean_distance_to_main_hub_km"),
        "hubs_proven_optimal": bool(plan.proven),
    }


def _band(band) -> str:
    """A workload band as text ("case_holding_fte 14-29"), or "none"."""
    if band is None:
        return "none"
    low = "" if band.min is None else f"{band.min:g}"
    high = "" if band.max is None else f"{band.max:g}"
    return f"{band.basis} {low}-{high}"


def plan_metrics(result: Result) -> list[tuple[str, str, Any]]:
    """One plan's headline figures as (section, metric, value); units are in the metric names."""
    sc, teams, posts, costs = result.scenario, result.teams, result.posts, result.costs
    frame = teams.teams
    rows: list[tuple[str, str, Any]] = [
        ("scenario", "name", sc.name),
        ("scenario", "file", result.scenario_path.name),
        ("scenario", "councils", ", ".join(sc.councils)),
        ("scenario", "areas", len(result.area_data.areas)),
        ("scenario", "population_basis", sc.teams.population_basis),
        ("scenario", "band_min_population", sc.teams.min_population),
        ("scenario", "band_max_population", sc.teams.max_population),
        ("scenario", "nesting", sc.teams.nesting),
        ("scenario", "building_block", sc.teams.building_block),
        ("scenario", "workload_band", _band(sc.teams.workload)),
        ("teams", "teams", len(frame)),
    ]
    columns = ["residents", "children_0_17"]
    if sc.teams.population_basis not in columns:
        columns.append(sc.teams.population_basis)
    for col in columns:
        values = frame[col].astype(float)
        rows += [
            ("teams", f"{col}_per_team_{stat}", round(float(getattr(values, stat)()), 1))
            for stat in ("min", "mean", "max")
        ]
    rows += [
        ("allocation", "status", teams.status),
        ("allocation", "objective_person_km", round(float(teams.objective), 1)),
        ("allocation", "bound_person_km", round(float(teams.bound), 1)),
        ("allocation", "gap", round(float(teams.gap), 6)),
        ("allocation", "solve_seconds", round(float(teams.seconds), 1)),
    ]
    for name in ("changed_areas", "changed_residents", "changed_children"):
        value = getattr(teams, name, None)  # set when the scenario names a current plan
        if value is not None:
            rows.append(("allocation", f"{name}_vs_current_plan", value))
    rows += [("hubs", k, v) for k, v in _hub_distances(result).items()]
    table = posts.table
    for role in ROLE_NAMES:
        rows.append(("workforce", f"fte_{role}", float(table.loc[table.role == role, "fte"].sum())))
    holders = table[table.role.isin(CASE_HOLDING)]
    rows += [
        ("workforce", "case_holding_fte", float(holders.fte.sum())),
        ("workforce", "total_fte", float(table.fte.sum())),
        ("workforce", "family_help_cases", round(float(posts.teams.family_help_cases.sum()), 1)),
        (
            "workforce",
            "child_protection_cases",
            round(float(posts.teams.child_protection_cases.sum()), 1),
        ),
        ("workforce", "worst_caseload_pressure", round(float(holders.caseload_pressure.max()), 3)),
    ]
    for col, spread in team_fte_spread(posts.teams).items():
        rows += [
            ("workforce", f"team_{col}_min", spread["min"]),
            ("workforce", f"team_{col}_max", spread["max"]),
            ("workforce", f"team_{col}_largest_over_smallest", spread["ratio"]),
        ]
    door = getattr(result, "front_door", None)
    if door is not None:
        average, peak = door.day("average"), door.day("peak")

        def finite(value: float, digits: int) -> float | None:
            return round(float(value), digits) if np.isfinite(value) else None

        rows += [
            ("front_door", "front_door_weekly_contacts", round(door.demand.weekly_contacts, 1)),
            ("front_door", "front_door_contact_officer_fte", door.fte("contact_officer")),
            ("front_door", "front_door_duty_social_worker_fte", door.fte("duty_social_worker")),
            (
                "front_door",
                "front_door_average_day_service_level",
                finite(average["service_level"], 4),
            ),
            (
                "front_door",
                "front_door_average_day_mean_wait_seconds",
                finite(average["mean_wait_seconds"], 2),
            ),
            ("front_door", "front_door_peak_day_service_level", finite(peak["service_level"], 4)),
            (
                "front_door",
                "front_door_peak_day_mean_wait_seconds",
                finite(peak["mean_wait_seconds"], 2),
            ),
            # whole pounds, as staffing.csv, the workbook and the report show it
            ("front_door", "front_door_cost_gbp", cost_figures(costs)["front_door_cost_gbp"]),
        ]
    fit = costs.within_budget
    shown = cost_figures(costs)  # whole pounds, as the workbook and report show them
    achievable = fit.worst_caseload_pressure if fit is not None else holders.caseload_pressure.max()
    rows += [
        ("costs", "total_cost_gbp", shown["total_cost_gbp"]),
        ("costs", "budget_gbp", shown["budget_gbp"]),
        ("costs", "budget_position", costs.position),
        ("costs", "headroom_gbp", shown["headroom_gbp"]),
        ("costs", "shortfall_gbp", shown["shortfall_gbp"]),
        ("costs", "minimum_staffable_cost_gbp", shown["minimum_staffable_cost_gbp"]),
        ("costs", "within_budget_worst_caseload_pressure", round(float(achievable), 3)),
    ]
    return rows


# --------------------------------------------------------------------------- changes of team


def match_teams(first: pd.Series, other: pd.Series, weights: pd.Series) -> dict[str, str]:
    """Each team of ``other`` matched to the team of ``first`` it shares most weight with (one to
    one, maximum total shared weight). Teams with no match (more teams, or no overlap) are left
    out. All three Series are indexed by area code over the same areas."""
    frame = pd.DataFrame({"a": first, "b": other, "w": weights.astype(float)})
    overlap = frame.pivot_table(index="b", columns="a", values="w", aggfunc="sum", fill_value=0.0)
    rows, cols = linear_sum_assignment(overlap.to_numpy(), maximize=True)
    return {
        str(overlap.index[r]): str(overlap.columns[c])
        for r, c in zip(rows, cols, strict=True)
        if overlap.iat[r, c] > 0
    }


def team_changes(first: Result, other: Result) -> pd.DataFrame:
    """Areas in both plans, with their team in each, the first plan's team the other team was
    matched to, and whether the area changes team (``changed``)."""
    a = first.area_data.areas.set_index("area_code")
    b = other.area_data.areas.set_index("area_code")
    common = a.index.intersection(b.index).sort_values()
    team_a = first.teams.assignment.reindex(common).astype(str)
    team_b = other.teams.assignment.reindex(common).astype(str)
    weights = a.loc[common, "residents"].astype(float)
    if weights.sum() <= 0:
        weights = pd.Series(1.0, index=common)
    matched = team_b.map(match_teams(team_a, team_b, weights))
    frame = pd.DataFrame(
        {
            "area_code": common,
            "area_name": a.loc[common, "area_name"].to_numpy(),
            "district_name": a.loc[common, "district_name"].to_numpy(),
            "team_in_first": team_a.to_numpy(),
            "team_in_other": team_b.to_numpy(),
            "matched_first_team": matched.to_numpy(),
            "changed": (matched != team_a).to_numpy(),
            "residents": a.loc[common, "residents"].round(2).to_numpy(),
            "children_0_17": a.loc[common, "children_0_17"].round(2).to_numpy(),
        }
    )
    only = len(a.index.difference(b.index)) + len(b.index.difference(a.index))
    if only:
        log.info("changes: %d areas are in only one of the two plans and are left out", only)
    return frame.reset_index(drop=True)


def change_metrics(changes: pd.DataFrame) -> list[tuple[str, str, Any]]:
    moved = changes[changes.changed]
    return [
        ("changes", "areas_in_both_plans", len(changes)),
        ("changes", "areas_changing_team_vs_first", len(moved)),
        ("changes", "residents_changing_team_vs_first", round(float(moved.residents.sum()), 1)),
        (
            "changes",
            "children_0_17_changing_team_vs_first",
            round(float(moved.children_0_17.sum()), 1),
        ),
        (
            "changes",
            "share_of_residents_changing_team",
            round(float(moved.residents.sum() / changes.residents.sum()), 4)
            if changes.residents.sum() > 0
            else None,
        ),
    ]


def changed_areas_figure(
    first: Result, other: Result, changes: pd.DataFrame, first_label: str, other_label: str
) -> Figure:
    """Areas that change team (red) over both plans' team boundaries (first: black, other: blue
    dashed)."""
    from planning.maps import team_polygons

    fig = Figure(figsize=(10, 10), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_axis_off()
    if changes.empty:
        ax.set_title(f"{first_label} and {other_label} have no areas in common", fontsize=10)
        return fig
    areas = first.area_data.areas
    areas = areas[areas.area_code.isin(changes.area_code)]
    changed = set(changes.loc[changes.changed, "area_code"])
    colours = ["#d7301f" if c in changed else "#e6e6e6" for c in areas.area_code]
    areas.plot(ax=ax, color=colours, edgecolor="white", linewidth=0.2)
    common = changes.set_index("area_code")
    team_polygons(areas, common["team_in_first"]).boundary.plot(ax=ax, color="black", linewidth=1.0)
    team_polygons(areas, common["team_in_other"]).boundary.plot(
        ax=ax, color="#1f78b4", linewidth=1.4, linestyle="--"
    )
    moved = changes[changes.changed]
    ax.set_title(
        f"Areas that change team: {other_label} against {first_label}\n"
        f"{len(moved):,} of {len(changes):,} areas, {moved.residents.sum():,.0f} residents, "
        f"{moved.children_0_17.sum():,.0f} children 0-17 (red); teams of {first_label} in black, "
        f"of {other_label} dashed blue",
        fontsize=10,
    )
    ax.set_aspect("equal")
    ax.text(
        0.0,
        -0.01,
        "Contains OS data © Crown copyright and database right; ONS data under "
        "the Open Government Licence v3.0",
        transform=ax.transAxes,
        fontsize=6,
        va="top",
    )
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- compare


@dataclass(frozen=True)
class Comparison:
    """Runs of several scenarios and the tables comparing them (first scenario = reference)."""

    labels: list[str]
    results: dict[str, Result]
    table: pd.DataFrame  # section, metric, then one column per label
    teams: pd.DataFrame  # one row per scenario and team
    changes: dict[str, pd.DataFrame]  # label (2nd onwards) -> team_changes against the first


@contextmanager
def naming(what: str) -> Iterator[None]:
    """Re-raise a planning error from inside with ``what`` (the scenario or variant) in front, so
    a compare or sweep says which of its runs failed; the error's class and exit code are kept."""
    try:
        yield
    except PlanningError as exc:
        raise type(exc)(f"{what}: {exc.args[0] if exc.args else exc}", exc.problems) from None


def scenario_labels(paths: list[Path]) -> list[str]:
    """Folder-safe labels from file names (hampshire, hampshire_children_band), made unique."""
    labels: list[str] = []
    for path in paths:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).stem) or "scenario"
        label, k = base, 2
        while label in labels:
            label, k = f"{base}_{k}", k + 1
        labels.append(label)
    return labels


def _load_all(paths: list[Path]) -> list[Scenario]:
    scenarios, problems = [], []
    for path in paths:
        try:
            scenarios.append(Scenario.model_validate(load_raw(path)))
        except ValidationError as exc:
            err = describe_validation_error(exc, str(path))
            problems += [f"{path}: {p}" for p in err.problems]
        except ConfigError as exc:
            problems += [str(exc)]
        else:
            problems += [f"{path}: {p}" for p in input_file_problems(scenarios[-1], path)]
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in the scenarios to compare:", problems)
    return scenarios


def team_rows(label: str, result: Result) -> pd.DataFrame:
    """One row per team: population, FTE, cost and base hub, for the comparison workbook."""
    frame = result.teams.teams[["team_id", "group", "n_areas", "residents", "children_0_17"]]
    frame = frame.copy()
    cost = result.costs.by_team.set_index("team_id")
    frame["total_fte"] = frame.team_id.map(cost["fte"]).astype(float)
    frame["cost_gbp"] = frame.team_id.map(team_costs(result.costs.table)).astype(float)
    if result.hubs is not None:
        frame["base_hub"] = frame.team_id.map(result.hubs.team_base)
    frame.insert(0, "scenario", label)
    return frame


def compare_results(labels: list[str], results: list[Result]) -> Comparison:
    """The side-by-side table, per-team rows and changes of team, for runs already made."""
    columns: dict[str, dict[tuple[str, str], Any]] = {}
    order: list[tuple[str, str]] = []
    changes: dict[str, pd.DataFrame] = {}
    for k, (label, result) in enumerate(zip(labels, results, strict=True)):
        metrics = plan_metrics(result)
        if k == 0:
            metrics += [
                (s, m, 0 if "changing" in m else v)
                for s, m, v in change_metrics(team_changes(result, result))
            ]
        else:
            changes[label] = team_changes(results[0], result)
            metrics += change_metrics(changes[label])
        columns[label] = {(s, m): v for s, m, v in metrics}
        order += [(s, m) for s, m, _ in metrics if (s, m) not in order]
    section_rank = {
        s: i
        for i, s in enumerate(
            [
                "scenario",
                "teams",
                "allocation",
                "changes",
                "hubs",
                "workforce",
                "front_door",
                "costs",
            ]
        )
    }
    order.sort(key=lambda sm: section_rank.get(sm[0], len(section_rank)))
    table = pd.DataFrame(
        [
            {"section": s, "metric": m, **{lab: columns[lab].get((s, m)) for lab in labels}}
            for s, m in order
        ]
    )
    teams = pd.concat(
        [team_rows(lab, res) for lab, res in zip(labels, results, strict=True)], ignore_index=True
    )
    return Comparison(list(labels), dict(zip(labels, results, strict=True)), table, teams, changes)


def compare_scenarios(
    paths: list[Path | str],
    data_dir: Path | str | None = None,
    progress: Progress | None = None,
    cache: dict[str, Any] | None = None,
) -> Comparison:
    """Run every scenario (validated up front, all problems at once) and compare them; stages
    already in ``cache`` (see ``run_file``) are reused."""
    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise ConfigError(f"compare needs at least two scenario files, got {len(paths)}")
    scenarios = _load_all(paths)
    labels = scenario_labels(paths)
    cache = {} if cache is None else cache
    results = []
    for label, scenario, path in zip(labels, scenarios, paths, strict=True):
        with naming(f"scenario {label} ({path})"):
            result, _ = run_stages(scenario, path, data_dir, cache, progress, label)
        results.append(result)
    log.info("compare: %d scenarios run", len(results))
    return compare_results(labels, results)


# --------------------------------------------------------------------------- sweep


@dataclass(frozen=True)
class Setting:
    """One ``--set`` option: a dotted key and the values it takes."""

    key: str
    values: tuple[Any, ...]


def _split_values(text: str) -> list[str]:
    """Split on commas outside brackets, so ``[a, b],[c]`` is two values."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts]


def parse_set(text: str) -> Setting:
    """``key=v1,v2,...`` -> Setting; values are read as YAML (45000, 0.9, null, true, [a, b])."""
    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep or not key or not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", key):
        raise ConfigError(
            f"--set {text!r}: expected key=value1,value2 with a dotted key such as "
            "teams.max_population=45000,50000"
        )
    values = []
    for item in _split_values(rest):
        if item == "":
            raise ConfigError(f"--set {text!r}: empty value; separate values by single commas")
        try:
            value = yaml.safe_load(item)
        except yaml.YAMLError:
            raise ConfigError(f"--set {key}: cannot read the value {item!r}") from None
        if isinstance(value, str) and re.fullmatch(r"[-+]?\d[\d_]*(\.\d*)?[eE][-+]?\d+", item):
            value = float(item.replace("_", ""))  # YAML 1.1 reads 25e6 as text
        values.append(value)
    return Setting(key, tuple(values))


def check_key(key: str) -> None:
    """Raise ConfigError if a dotted key does not name a scenario setting (with a suggestion).
    Parts below a mapping-valued setting (e.g. a role under caseload targets) are checked when
    the variant is validated."""
    model: type[BaseModel] | None = Scenario
    done: list[str] = []
    for part in key.split("."):
        if model is None:
            return
        if part.isdigit():
            continue
        fields = model.model_fields
        if part not in fields:
            close = difflib.get_close_matches(part, list(fields), n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(fields)}"
            where = ".".join(done) or "the top level"
            raise ConfigError(f"--set {key}: '{part}' is not a setting under {where}; {hint}")
        model = _model_of(fields[part].annotation)
        done.append(part)


def _set_dotted(raw: dict[str, Any], resolved: Any, key: str, value: Any) -> None:
    """Set ``key`` in the raw mapping; a section the file leaves out is first copied from the
    resolved scenario, so setting one role's caseload target keeps the other roles' defaults."""
    node: Any = raw
    full: Any = resolved
    parts = key.split(".")
    for part in parts[:-1]:
        index: Any = int(part) if isinstance(node, list) else part
        if isinstance(node, list):
            if not 0 <= index < len(node):
                raise ConfigError(
                    f"--set {key}: there is no item {index} (the list has {len(node)})"
                )
        elif not isinstance(node.get(part), dict | list):
            seed = full.get(part) if isinstance(full, dict) else None
            node[part] = copy.deepcopy(seed) if isinstance(seed, dict | list) else {}
        node = node[index]
        if isinstance(full, dict):
            full = full.get(part)
        elif isinstance(full, list) and 0 <= index < len(full):
            full = full[index]
        else:
            full = None
    last = parts[-1]
    if isinstance(node, list):
        if not (last.isdigit() and int(last) < len(node)):
            raise ConfigError(f"--set {key}: there is no item {last} (the list has {len(node)})")
        node[int(last)] = value
    else:
        node[last] = value


def slug(text: str) -> str:
    """A folder-safe name for a variant label (``teams.max_population=45000``)."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_") or "variant"


@dataclass(frozen=True)
class Variant:
    label: str
    values: dict[str, Any]
    scenario: Scenario


def _value_text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def sweep_variants(path: Path | str, settings: list[Setting]) -> list[Variant]:
    """Every combination of the settings' values as a validated scenario; every problem (unknown
    key, bad value) is reported at once as a ConfigError naming the key and value."""
    if not settings:
        raise ConfigError("sweep needs at least one --set key=value1,value2")
    keys = [s.key for s in settings]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ConfigError(
            f"--set names {', '.join(repeated)} more than once; give all its values "
            "in one --set, separated by commas"
        )
    for setting in settings:
        check_key(setting.key)
    raw = load_raw(Path(path))
    try:
        base = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise describe_validation_error(exc, str(path)) from None
    resolved = base.model_dump(mode="json")
    variants, problems = [], []
    for combo in itertools.product(*(s.values for s in settings)):
        values = dict(zip(keys, combo, strict=True))
        label = "; ".join(f"{k}={_value_text(v)}" for k, v in values.items())
        data = copy.deepcopy(raw)
        for k, v in values.items():
            _set_dotted(data, resolved, k, v)
        data["name"] = f"{base.name} [{label}]"
        try:
            variant = Variant(label, values, Scenario.model_validate(data))
        except ValidationError as exc:
            err = describe_validation_error(exc, label)
            problems += [f"--set {label}: {p}" for p in err.problems]
            continue
        variants.append(variant)
        problems += [f"--set {label}: {p}" for p in input_file_problems(variant.scenario, path)]
    if problems:
        raise ConfigError(
            f"{len(problems)} problem(s) in the sweep's settings:",
            sorted(set(problems), key=problems.index),
        )
    return variants


@dataclass(frozen=True)
class Sweep:
    """A sweep's variants, their runs and the table of their figures (one row per variant)."""

    scenario_path: Path
    settings: list[Setting]
    variants: list[Variant]
    results: list[Result]
    table: pd.DataFrame
    reused: list[list[str]] = field(default_factory=list)


def sweep_scenario(
    path: Path | str,
    settings: list[Setting | str],
    data_dir: Path | str | None = None,
    progress: Progress | None = None,
    cache: dict[str, Any] | None = None,
) -> Sweep:
    """Run every variant of a scenario, reusing stages whose settings do not change (and any
    already in ``cache``). ``settings`` are Settings or ``key=v1,v2`` texts."""
    path = Path(path)
    settings = [parse_set(s) if isinstance(s, str) else s for s in settings]
    variants = sweep_variants(path, settings)
    cache = {} if cache is None else cache
    results, reused, rows = [], [], []
    for variant in variants:
        start = time.perf_counter()
        with naming(f"sweep variant {variant.label}"):
            result, again = run_stages(
                variant.scenario, path, data_dir, cache, progress, variant.label
            )
        results.append(result)
        reused.append(again)
        row: dict[str, Any] = {"variant": variant.label}
        row.update(
            {
                k: _value_text(v) if isinstance(v, dict | list) else v
                for k, v in variant.values.items()
            }
        )
        row.update({m: v for s, m, v in plan_metrics(result) if s != "scenario" or m == "name"})
        row["stages_reused"] = ", ".join(again)
        row["run_seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)
    log.info("sweep: %d variants of %s", len(variants), path.name)
    return Sweep(path, list(settings), variants, results, pd.DataFrame(rows), reused)


def _tick(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return (
        f"{value:,}"
        if isinstance(value, int) and not isinstance(value, bool)
        else _value_text(value)
    )


def sweep_figure(sweep: Sweep) -> Figure:
    """Teams, allocation objective, hub distance, FTE, cost against budget, the worst caseload
    pressure the budget allows and the spread of team sizes, for every variant."""
    table = sweep.table
    x = np.arange(len(table))
    panels = [
        ("teams", "teams", 1.0),
        ("objective_person_km", "allocation objective (thousand person-km)", 1e3),
        ("hub_mean_distance_km", "mean distance to hub (km)", 1.0),
        ("total_fte", "total FTE", 1.0),
        ("total_cost_gbp", "cost (£ million a year)", 1e6),
        ("within_budget_worst_caseload_pressure", "worst caseload / target within budget", 1.0),
        (
            "team_case_holding_fte_largest_over_smallest",
            "largest / smallest team (case-holding FTE)",
            1.0,
        ),
    ]
    panels = [p for p in panels if p[0] in table]
    varying = [s.key for s in sweep.settings if len(s.values) > 1] or [
        s.key for s in sweep.settings
    ]
    ticks = [
        "\n".join(f"{k.split('.')[-1]}={_tick(var.values[k])}" for k in varying)
        for var in sweep.variants
    ]
    rows = -(-len(panels) // 3)
    fig = Figure(figsize=(12, 3.75 * rows), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 3, squeeze=False).ravel()
    for ax, (col, title, scale) in zip(axes, panels, strict=False):
        values = pd.to_numeric(table[col], errors="coerce") / scale
        ax.plot(x, values, marker="o", color="#1f4e79")
        if col == "total_cost_gbp" and table["budget_gbp"].notna().any():
            ax.plot(
                x,
                pd.to_numeric(table["budget_gbp"]) / scale,
                linestyle="-.",
                color="#c62828",
                label="budget",
            )
            ax.legend(fontsize=8)
        if col == "within_budget_worst_caseload_pressure":
            ax.axhline(1.0, color="#555555", linestyle=":")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(x)
        ax.set_xticklabels(ticks, fontsize=7)
        ax.margins(x=0.1)
        ax.grid(True, alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    keys = ", ".join(s.key for s in sweep.settings)
    base = sweep.results[0].scenario.name.split(" [")[0]
    fig.suptitle(f"Sweep of {keys}\n{base[:110]}", fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- writing


def _xlsx(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    """A plain workbook finance can re-sort: bold frozen header, widths, £ and number formats."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from planning.workbook import GBP, _cell_value, _stable_xlsx

    wb = Workbook()
    wb.remove(wb.active)
    for name, frame in sheets.items():
        ws = wb.create_sheet(name)
        ws.append(list(frame.columns))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for k, row in enumerate(frame.itertuples(index=False), start=2):
            ws.append([_cell_value(v) for v in row])
            metric = getattr(row, "metric", "") if "metric" in frame.columns else ""
            for j, col in enumerate(frame.columns, start=1):
                money = str(col).endswith("_gbp") or str(metric).endswith("_gbp")
                if money and isinstance(ws.cell(k, j).value, int | float):
                    ws.cell(k, j).number_format = GBP
        for j, col in enumerate(frame.columns, start=1):
            longest = max([len(str(col))] + [len(str(v)) for v in frame.iloc[:200, j - 1]])
            ws.column_dimensions[get_column_letter(j)].width = min(60.0, max(10.0, longest + 2))
        ws.freeze_panes = "A2"
    wb.properties.creator = "planning"
    path.write_bytes(_stable_xlsx(wb))


def write_compare(
    comparison: Comparison, out_dir: Path | str, progress: Progress | None = None
) -> list[Path]:
    """compare.csv, compare.xlsx, changed_areas_<label>.png and each scenario's run folder."""
    from planning.report import write_outputs

    def write(folder: Path) -> None:
        comparison.table.to_csv(folder / "compare.csv", index=False, lineterminator="\n")
        changed = pd.concat(
            [c.assign(scenario=lab) for lab, c in comparison.changes.items()], ignore_index=True
        )
        changed = changed[changed.changed].drop(columns="changed")
        changed = changed[["scenario", *[c for c in changed.columns if c != "scenario"]]]
        _xlsx(
            {"compare": comparison.table, "teams": comparison.teams, "changed_areas": changed},
            folder / "compare.xlsx",
        )
        first = comparison.labels[0]
        for label, changes in comparison.changes.items():
            fig = changed_areas_figure(
                comparison.results[first], comparison.results[label], changes, first, label
            )
            fig.savefig(folder / f"changed_areas_{label}.png", metadata={"Software": None})
        for label, result in comparison.results.items():
            write_outputs(result, folder / label)
            if progress is not None:
                progress(f"{label}: outputs")

    written = write_staged(out_dir, write)
    log.info("compare: wrote %d files and folders to %s", len(written), out_dir)
    return written


def write_sweep(
    sweep: Sweep, out_dir: Path | str, runs: bool = False, progress: Progress | None = None
) -> list[Path]:
    """sweep.csv, sweep.xlsx, sweep.png and, with ``runs``, each variant's run folder."""
    from planning.report import write_outputs

    def write(folder: Path) -> None:
        sweep.table.to_csv(folder / "sweep.csv", index=False, lineterminator="\n")
        _xlsx({"sweep": sweep.table}, folder / "sweep.xlsx")
        sweep_figure(sweep).savefig(folder / "sweep.png", metadata={"Software": None})
        if runs:
            for variant, result in zip(sweep.variants, sweep.results, strict=True):
                write_outputs(result, folder / "runs" / slug(variant.label))
                if progress is not None:
                    progress(f"{variant.label}: outputs")

    written = write_staged(out_dir, write)
    log.info("sweep: wrote %d files and folders to %s", len(written), out_dir)
    return written
