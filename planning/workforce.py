"""Demand per area and team from published rates, and the posts each team needs to meet it.

Case types, defined from the DfE tables in ``childrens_services/`` (counts at 31 March of a year):

- ``family_help``: children in need (table B1, ``At31_episodes``) minus children on child protection
  plans (table D5, ``CPP_At31``); less children looked after (``cla_number_and_rate...``) when
  ``looked_after_in_family_help`` is false; times ``1 + early_help_uplift_share``.
- ``child_protection``: children on child protection plans.

Rates are per 10,000 children aged 0-17, the denominator being the ONS mid-year estimate of the year
before (mid-2024 for 31 March 2025), as the DfE does. A council's rate is spread over its areas in
proportion to children 0-17 times ``gradient ** (10 - IMD decile)``, normalised so the council total
equals rate x children. Posts per team follow from cases, caseload targets and ratios, in FTE steps.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planning.checks import SUPPRESSED, numbers, read_csv, unique
from planning.config import CASE_TYPES, WorkforceSettings
from planning.data import RATE_FILES
from planning.errors import DataError

log = logging.getLogger(__name__)

ENGLAND = "E92000001"
PER = 10_000.0

#: Role names as shown in outputs (DOMAIN.md), in output order.
ROLE_NAMES = {
    "family_practitioner": "family practitioner",
    "social_worker": "social worker",
    "lead_child_protection_practitioner": "lead child protection practitioner",
    "senior_practitioner": "senior practitioner",
    "team_manager": "team manager",
    "business_support": "business support",
}
ROLE_ORDER = {role: k for k, role in enumerate(ROLE_NAMES)}
CASE_HOLDING = ("family_practitioner", "social_worker", "lead_child_protection_practitioner")
POST_COLUMNS = [
    "team_id",
    "role",
    "fte",
    "cases",
    "caseload_per_fte",
    "target_caseload",
    "caseload_pressure",
]


# --------------------------------------------------------------------------- published rates


@dataclass(frozen=True)
class Rates:
    """Published counts and rates per 10,000 children 0-17, one row per council (index code).

    Columns: council_name, year, source ('council' or 'England'), population_year,
    children_0_17_published, children_in_need, child_protection_plans, looked_after (counts at
    31 March), their ``*_per_10k`` rates, and the workforce figures of the same year
    (workforce_source, caseload_fte, cases, case_holders_fte; NaN when the council has none) with
    England's caseload_fte beside them.
    """

    year: int
    table: pd.DataFrame

    @classmethod
    def fixed(cls, per_10k: dict[str, dict[str, float]], year: int = 2025) -> Rates:
        """Rates given by hand: {council_code: {children_in_need, child_protection_plans[,
        looked_after]} per 10,000}, for tests and what-if runs."""
        rows = []
        for code, rates in sorted(per_10k.items()):
            rows.append(
                {
                    "council_code": code,
                    "council_name": code,
                    "year": year,
                    "source": "given",
                    "children_in_need_per_10k": float(rates["children_in_need"]),
                    "child_protection_plans_per_10k": float(rates["child_protection_plans"]),
                    "looked_after_per_10k": float(rates.get("looked_after", 0.0)),
                }
            )
        return cls(year=year, table=pd.DataFrame(rows).set_index("council_code"))

    def case_rates(self, settings: WorkforceSettings) -> pd.DataFrame:
        """Cases per 10,000 children per council and case type, under the settings' definitions."""
        t = self.table
        family_help = t["children_in_need_per_10k"] - t["child_protection_plans_per_10k"]
        if not settings.looked_after_in_family_help:
            missing = t.index[t["looked_after_per_10k"].isna()]
            if len(missing):
                raise DataError(
                    f"workforce.looked_after_in_family_help is false but there is no published "
                    f"count of children looked after at 31 March {self.year} for "
                    f"{', '.join(missing)} (published from 2021); set rates_year to 2021 or later"
                )
            family_help = family_help - t["looked_after_per_10k"]
        family_help = family_help.clip(lower=0) * (1 + settings.early_help_uplift_share)
        return pd.DataFrame(
            {"family_help": family_help, "child_protection": t["child_protection_plans_per_10k"]}
        )


def _read(data_dir: Path, role: str, columns: list[str]) -> pd.DataFrame:
    path = data_dir / RATE_FILES[role]
    if not path.is_file():
        raise DataError(
            f"missing data file {RATE_FILES[role]} ({role}) in {data_dir}; see "
            "shared/data/PROVENANCE.md section 5 for its source."
        )
    need = ["time_period", "geographic_level", "new_la_code", "la_name", *columns]
    frame = read_csv(path, RATE_FILES[role], need, only_columns=True)
    return frame


def _by_year_and_code(frame: pd.DataFrame, columns: list[str], role: str) -> pd.DataFrame:
    """Values (suppression markers c/x/z/k/u as NaN) keyed by (year, code); England as E92000001."""
    level = frame["geographic_level"]
    keep = frame[level.isin(["National", "Local authority"])].copy()
    keep["code"] = np.where(keep["geographic_level"] == "National", ENGLAND, keep["new_la_code"])
    what = RATE_FILES[role]
    keep["year"] = numbers(keep, "time_period", what, key="code", whole=True)
    for col in columns:
        keep[col] = numbers(keep, col, what, key="code", blank=SUPPRESSED)
    unique(keep, ["year", "code"], what)
    keep = keep.astype({"year": int})
    return keep.groupby(["year", "code"])[columns].first()


def _council_names(frames: list[pd.DataFrame]) -> dict[str, str]:
    names: dict[str, str] = {ENGLAND: "England"}
    for frame in frames:
        las = frame[frame["geographic_level"] == "Local authority"]
        names.update(zip(las["new_la_code"], las["la_name"], strict=True))
    return names


def _span(years: list[int]) -> str:
    return f"{min(years)}-{max(years)}" if years else "none"


def published_workforce(data_dir: Path | str) -> pd.DataFrame:
    """Each council's latest published social-work workforce (DfE CSWW), indexed by code.

    Columns: ``year`` (the latest in which the council has case-holding FTE), ``case_holders_fte``,
    ``cases`` and ``caseload_fte`` (cases per case-holding FTE). England is E92000001.
    """
    columns = ["case_holders_fte", "cases", "caseload_fte"]
    table = _by_year_and_code(_read(Path(data_dir), "workforce", columns), columns, "workforce")
    table = table.dropna(subset=["case_holders_fte"]).reset_index()
    latest = table.sort_values("year").groupby("code").tail(1)
    return latest.set_index("code")[["year", *columns]].sort_index()


def published_rates(council_codes: list[str], data_dir: Path, year: int | None = None) -> Rates:
    """Each council's published rates per 10,000 children 0-17 for a year (England's if missing).

    ``year`` None takes the latest year in which every council has its own figures. A year with no
    published figures at all is a DataError naming the years available.
    """
    data_dir = Path(data_dir)
    cin_raw = _read(data_dir, "children_in_need", ["At31_episodes"])
    cpp_raw = _read(data_dir, "child_protection", ["CPP_At31"])
    cla_raw = _read(data_dir, "looked_after", ["population_type", "children_count"])
    csww_raw = _read(data_dir, "workforce", ["cases", "caseload_fte", "case_holders_fte"])
    pop_raw = _read(data_dir, "population", ["age_group", "population_estimate"])
    cla_raw = cla_raw[cla_raw["population_type"] == "Children looked after on 31 March each year"]
    pop_raw = pop_raw[pop_raw["age_group"] == "Children aged 0 to 17 years"]

    counts = pd.concat(
        [
            _by_year_and_code(cin_raw, ["At31_episodes"], "children_in_need"),
            _by_year_and_code(cpp_raw, ["CPP_At31"], "child_protection"),
            _by_year_and_code(cla_raw, ["children_count"], "looked_after"),
        ],
        axis=1,
    ).rename(
        columns={
            "At31_episodes": "children_in_need",
            "CPP_At31": "child_protection_plans",
            "children_count": "looked_after",
        }
    )
    population = _by_year_and_code(pop_raw, ["population_estimate"], "population")[
        "population_estimate"
    ]
    # Rates at 31 March of year Y use the mid-(Y-1) population, as the DfE's own tables do.
    counts["population_year"] = counts.index.get_level_values("year") - 1
    counts["children_0_17_published"] = [
        population.get((y - 1, code), np.nan) for y, code in counts.index
    ]
    complete = (
        counts[["children_in_need", "child_protection_plans", "children_0_17_published"]]
        .notna()
        .all(axis=1)
    )
    counts = counts[complete]
    england_years = sorted(y for y, code in counts.index if code == ENGLAND)
    if not england_years:
        raise DataError(f"no complete England figures in {RATE_FILES['children_in_need']}")

    codes = sorted(set(council_codes))
    if year is None:
        own = [y for y in england_years if all((y, c) in counts.index for c in codes)]
        year = max(own) if own else max(england_years)
    elif year not in england_years:
        raise DataError(
            f"workforce.rates_year {year}: no published children in need, child protection and "
            f"population figures for 31 March {year}; years available: {_span(england_years)} "
            f"({', '.join(map(str, england_years))})"
        )

    workforce = _by_year_and_code(
        csww_raw, ["cases", "caseload_fte", "case_holders_fte"], "workforce"
    )
    names = _council_names([cin_raw, cpp_raw])
    england_caseload = workforce.get("caseload_fte", pd.Series(dtype=float)).get(
        (year, ENGLAND), np.nan
    )
    rows = []
    for code in codes:
        source = "council" if (year, code) in counts.index else "England"
        if source == "England":
            council_years = sorted(y for y, c in counts.index if c == code)
            log.warning(
                "%s (%s): no published figures for 31 March %d (council years: %s); "
                "using England's rates",
                code,
                names.get(code, "?"),
                year,
                _span(council_years),
            )
        row = counts.loc[(year, code if source == "council" else ENGLAND)]
        wf = workforce.loc[(year, code)] if (year, code) in workforce.index else None
        record = {
            "council_code": code,
            "council_name": names.get(code, code),
            "year": year,
            "source": source,
            "population_year": int(row["population_year"]),
            "children_0_17_published": float(row["children_0_17_published"]),
        }
        for col in ("children_in_need", "child_protection_plans", "looked_after"):
            record[col] = float(row[col])  # looked_after is NaN before 2021
            record[f"{col}_per_10k"] = PER * float(row[col]) / float(row["children_0_17_published"])
        record.update(
            {
                "workforce_source": "council" if wf is not None else "none",
                "caseload_fte": float(wf["caseload_fte"]) if wf is not None else np.nan,
                "cases": float(wf["cases"]) if wf is not None else np.nan,
                "case_holders_fte": float(wf["case_holders_fte"]) if wf is not None else np.nan,
                "england_caseload_fte": float(england_caseload),
            }
        )
        rows.append(record)
    table = pd.DataFrame(rows).set_index("council_code")
    log.info(
        "rates %d: %s",
        year,
        "; ".join(
            f"{c} {r.source} CIN {r.children_in_need_per_10k:.1f}, CPP "
            f"{r.child_protection_plans_per_10k:.1f} per 10k"
            for c, r in table.iterrows()
        ),
    )
    return Rates(year=year, table=table)


# --------------------------------------------------------------------------- demand


def area_demand(areas: pd.DataFrame, rates: Rates, settings: WorkforceSettings) -> pd.DataFrame:
    """Cases per area and case type: each council's rate x children, spread by deprivation.

    Returns one row per area (index area_code, sorted) with council_code, children_0_17,
    imd_decile, demand_weight and one column of cases per case type.
    """
    table = pd.DataFrame(areas).set_index("area_code", drop=False).sort_index()
    case_rates = rates.case_rates(settings)
    unknown = sorted(set(table["council_code"]) - set(case_rates.index))
    if unknown:
        raise DataError(
            f"no rates for council(s) {', '.join(unknown)}: pass them to published_rates"
        )
    gradient = settings.deprivation_gradient_per_decile
    weight = table["children_0_17"].astype(float) * gradient ** (10 - table["imd_decile"])
    out = pd.DataFrame(
        {
            "council_code": table["council_code"],
            "children_0_17": table["children_0_17"].astype(float),
            "imd_decile": table["imd_decile"].astype(int),
            "demand_weight": weight,
        }
    )
    by_council = out.groupby("council_code")
    children = by_council["children_0_17"].transform("sum")
    weight_total = by_council["demand_weight"].transform("sum")
    share = (weight / weight_total.where(weight_total > 0)).fillna(0.0)
    for case_type in CASE_TYPES:
        rate = out["council_code"].map(case_rates[case_type])
        out[case_type] = rate / PER * children * share
    out.index.name = "area_code"
    log.info(
        "demand: %d areas; %s cases (gradient x%.2f per decile)",
        len(out),
        ", ".join(f"{ct} {out[ct].sum():,.0f}" for ct in CASE_TYPES),
        gradient,
    )
    return out


def area_workload(areas: pd.DataFrame, rates: Rates, settings: WorkforceSettings) -> pd.DataFrame:
    """The areas table with each area's workload: ``expected_cases`` (every case type) and
    ``case_holding_fte`` (each case-holding role's cases over its caseload target, unrounded).

    Both add up over a team's areas, so a band on them is linear in the assignment; a team's
    posts are these FTE rounded up to ``fte_step`` per role (and topped up to the team minimum).
    """
    demand = area_demand(areas, rates, settings).reindex(areas.area_code)
    shares = role_case_shares(settings)
    targets = settings.caseload_target_cases_per_fte
    fte = sum(
        demand[ct] * share / targets[role]
        for ct in CASE_TYPES
        for role, share in shares[ct].items()
        if role in targets
    )
    out = areas.copy()
    out["expected_cases"] = demand[list(CASE_TYPES)].sum(axis=1).to_numpy()
    out["case_holding_fte"] = np.asarray(fte, dtype=float)
    return out


# --------------------------------------------------------------------------- posts


def ceil_step(value: float, step: float) -> float:
    """Round up to a multiple of step (tolerating float noise)."""
    return math.ceil(value / step - 1e-9) * step


def role_case_shares(settings: WorkforceSettings) -> dict[str, dict[str, float]]:
    """Share of each case type each case-holding role holds.

    Non-social-worker holders share ``max_non_social_worker_share`` equally; social-worker holders
    share the rest equally (all of it when a case type has no non-social-worker holder).
    """
    shares: dict[str, dict[str, float]] = {}
    for case_type in CASE_TYPES:
        holders = list(settings.case_holders[case_type])  # type: ignore[index]
        others = [r for r in holders if r in settings.non_social_worker_roles]
        qualified = [r for r in holders if r not in settings.non_social_worker_roles]
        other_share = settings.max_non_social_worker_share if others else 0.0
        if not qualified:
            other_share = 1.0
        part: dict[str, float] = {}
        for role in others:
            part[role] = part.get(role, 0.0) + other_share / len(others)
        for role in qualified:
            part[role] = part.get(role, 0.0) + (1.0 - other_share) / len(qualified)
        shares[case_type] = part
    return shares


def qualified_roles(settings: WorkforceSettings) -> list[str]:
    """Case-holding roles held by qualified social workers (in output order)."""
    holders = {r for roles in settings.case_holders.values() for r in roles}
    return [r for r in CASE_HOLDING if r in holders and r not in settings.non_social_worker_roles]


def support_posts(case_holding_fte: float, settings: WorkforceSettings) -> dict[str, float]:
    """Team manager (whole posts, at least one), senior practitioner and business support FTE."""
    step = settings.fte_step
    return {
        "senior_practitioner": ceil_step(
            case_holding_fte / settings.practitioner_fte_per_senior_practitioner, step
        ),
        "team_manager": float(
            max(1, math.ceil(case_holding_fte / settings.team_manager_span_fte - 1e-9))
        ),
        "business_support": ceil_step(
            case_holding_fte / settings.practitioner_fte_per_business_support, step
        ),
    }


@dataclass(frozen=True)
class Posts:
    """Posts per team and role, the demand behind them and the published comparison.

    ``table``: one row per team and role (POST_COLUMNS; role as a config key; cases and caseloads
    NaN-free for case holders, 0 cases and NaN caseload for other roles). ``teams``: one row per
    team. ``demand``: cases per area. ``comparison``: per council, published figures beside the
    plan's.
    """

    table: pd.DataFrame
    teams: pd.DataFrame
    demand: pd.DataFrame
    comparison: pd.DataFrame
    rates: Rates
    settings: WorkforceSettings

    @property
    def role_cases(self) -> pd.DataFrame:
        """Cases per team (rows) and case-holding role (columns)."""
        holders = self.table[self.table["role"].isin(CASE_HOLDING)]
        return holders.pivot(index="team_id", columns="role", values="cases").fillna(0.0)

    @property
    def total_fte(self) -> float:
        return float(self.table["fte"].sum())


def _check_assignment(demand: pd.DataFrame, assignment: pd.Series) -> pd.Series:
    assignment = assignment.astype(str)
    missing = demand.index.difference(assignment.index)
    extra = assignment.index.difference(demand.index)
    problems = []
    if len(missing):
        problems.append(f"{len(missing)} area(s) have no team: {', '.join(missing[:10])}")
    if len(extra):
        problems.append(
            f"{len(extra)} assigned area(s) are not in the areas table: {', '.join(extra[:10])}"
        )
    if assignment.index.duplicated().any():
        problems.append("some areas are assigned twice")
    if problems:
        raise DataError("the team assignment does not match the areas:", problems)
    return assignment.reindex(demand.index)


def size_workforce(
    areas: pd.DataFrame, assignment: pd.Series, rates: Rates, settings: WorkforceSettings
) -> Posts:
    """Posts per team: case holders from cases and caseload targets, then managers and support.

    Each case type's cases go to its holders by ``role_case_shares``; a case-holding role's FTE is
    cases / target rounded up to ``fte_step``; a team below ``min_team_case_holding_fte`` is topped
    up with its first qualified social-worker role; managers, senior practitioners and business
    support follow by ratio (``support_posts``).
    """
    demand = area_demand(areas, rates, settings)
    team_of = _check_assignment(demand, assignment)
    frame = pd.DataFrame(areas).set_index("area_code").reindex(demand.index)
    per_area = demand[list(CASE_TYPES)].assign(
        team_id=team_of,
        areas=1,
        residents=frame.get("residents", np.nan),
        children_0_17=demand["children_0_17"],
    )
    teams = per_area.groupby("team_id").sum(min_count=1).sort_index()
    shares = role_case_shares(settings)
    targets = settings.caseload_target_cases_per_fte
    step = settings.fte_step
    top_up_role = qualified_roles(settings)[0] if qualified_roles(settings) else None

    rows = []
    for team_id, team in teams.iterrows():
        cases = {
            role: sum(team[ct] * shares[ct].get(role, 0.0) for ct in CASE_TYPES)
            for role in CASE_HOLDING
        }
        fte = {
            role: ceil_step(cases[role] / targets[role], step) if cases[role] > 0 else 0.0
            for role in CASE_HOLDING
            if role in targets
        }
        short = settings.min_team_case_holding_fte - sum(fte.values())
        if short > 1e-9 and top_up_role is not None:
            fte[top_up_role] += ceil_step(short, step)
        holding = sum(fte.values())
        for role in CASE_HOLDING:
            if role not in fte or (fte[role] == 0 and cases[role] == 0):
                continue
            load = cases[role] / fte[role] if fte[role] > 0 else math.inf
            rows.append(
                (team_id, role, fte[role], cases[role], load, targets[role], load / targets[role])
            )
        for role, value in support_posts(holding, settings).items():
            rows.append((team_id, role, value, 0.0, np.nan, np.nan, np.nan))
    table = pd.DataFrame(rows, columns=POST_COLUMNS)
    table = sort_posts(table)

    holders = table[table["role"].isin(CASE_HOLDING)]
    summary = (
        pd.DataFrame(
            {
                "areas": teams["areas"].astype(int),
                "residents": teams["residents"],
                "children_0_17": teams["children_0_17"],
                "family_help_cases": teams["family_help"],
                "child_protection_cases": teams["child_protection"],
                "case_holding_fte": holders.groupby("team_id")["fte"].sum(),
                "total_fte": table.groupby("team_id")["fte"].sum(),
                "worst_caseload_pressure": holders.groupby("team_id")["caseload_pressure"].max(),
            }
        )
        .rename_axis("team_id")
        .reset_index()
    )
    comparison = published_comparison(demand, team_of, table, rates, settings)
    log.info(
        "posts: %d teams, %.1f FTE (%.1f case-holding); worst caseload pressure %.2f",
        len(summary),
        table["fte"].sum(),
        holders["fte"].sum(),
        holders["caseload_pressure"].max(),
    )
    return Posts(
        table=table,
        teams=summary,
        demand=demand,
        comparison=comparison,
        rates=rates,
        settings=settings,
    )


def team_fte_spread(posts_teams: pd.DataFrame) -> dict:
    """The smallest and largest team in case-holding and total FTE, and largest / smallest."""
    out = {}
    for col in ("case_holding_fte", "total_fte"):
        low, high = float(posts_teams[col].min()), float(posts_teams[col].max())
        out[col] = {"min": low, "max": high, "ratio": round(high / low, 3) if low > 0 else None}
    return out


def sort_posts(table: pd.DataFrame) -> pd.DataFrame:
    """Rows by team, then roles in output order."""
    order = table["role"].map(ROLE_ORDER)
    return (
        table.assign(_order=order)
        .sort_values(["team_id", "_order"])
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def published_comparison(
    demand: pd.DataFrame,
    team_of: pd.Series,
    table: pd.DataFrame,
    rates: Rates,
    settings: WorkforceSettings,
) -> pd.DataFrame:
    """Per council: published counts and workforce beside the plan's cases and FTE.

    A team's FTE is credited to councils in proportion to its cases there. ``plan_social_work_*``
    counts qualified social-worker roles only, which is what the DfE workforce census counts.
    ``published_*`` workforce figures are the whole council's: compare them with the plan only
    when the areas cover the council (``areas_share_of_published_children`` near 1).
    """
    case_rates = rates.case_rates(settings)
    qualified = qualified_roles(settings)
    cases = demand[list(CASE_TYPES)].sum(axis=1)
    share = (
        cases.groupby([team_of, demand["council_code"]]).sum() / cases.groupby(team_of).sum()
    ).fillna(0.0)
    share.index.names = ["team_id", "council_code"]
    holders = table[table["role"].isin(CASE_HOLDING)]
    social = holders[holders["role"].isin(qualified)]

    def credited(frame: pd.DataFrame, col: str) -> pd.Series:
        per_team = frame.groupby("team_id")[col].sum()
        return (
            (share * share.index.get_level_values("team_id").map(per_team).to_numpy())
            .groupby("council_code")
            .sum()
        )

    plan_fte = credited(holders, "fte")
    plan_sw_fte = credited(social, "fte")
    plan_sw_cases = credited(social, "cases")
    rows = []
    for code, group in demand.groupby("council_code"):
        r = rates.table.loc[code]
        published_fh = r.get("children_in_need", np.nan) - r.get("child_protection_plans", np.nan)
        if not settings.looked_after_in_family_help:
            published_fh -= r.get("looked_after", np.nan)
        implied = r.get("cases", np.nan) / r.get("caseload_fte", np.nan)
        row = {
            "council_code": code,
            "council_name": r.get("council_name", code),
            "rates_year": rates.year,
            "rates_source": r.get("source", "given"),
            "children_0_17_areas": group["children_0_17"].sum(),
            "children_0_17_published": r.get("children_0_17_published", np.nan),
            "areas_share_of_published_children": (
                group["children_0_17"].sum() / r.get("children_0_17_published", np.nan)
            ),
            "family_help_per_10k": case_rates.loc[code, "family_help"],
            "child_protection_per_10k": case_rates.loc[code, "child_protection"],
            "published_family_help_cases": published_fh * (1 + settings.early_help_uplift_share),
            "published_child_protection_cases": r.get("child_protection_plans", np.nan),
            "plan_family_help_cases": group["family_help"].sum(),
            "plan_child_protection_cases": group["child_protection"].sum(),
            "published_caseload_fte": r.get("caseload_fte", np.nan),
            "published_cases": r.get("cases", np.nan),
            "published_case_holders_fte": r.get("case_holders_fte", np.nan),
            "published_implied_fte": implied,
            "england_caseload_fte": r.get("england_caseload_fte", np.nan),
            "plan_case_holding_fte": plan_fte.get(code, 0.0),
            "plan_social_work_case_holding_fte": plan_sw_fte.get(code, 0.0),
            "plan_social_work_cases": plan_sw_cases.get(code, 0.0),
        }
        row["plan_social_work_vs_implied_share"] = (
            row["plan_social_work_case_holding_fte"] / implied - 1 if implied > 0 else np.nan
        )
        rows.append(row)
    return pd.DataFrame(rows)
