"""Scenario schema: typed, frozen pydantic models whose fields document themselves.

A scenario is a YAML file. It may ``extends:`` another scenario (path relative to itself) and
override a few settings; mappings merge key by key, lists and values replace. Unknown keys are
rejected with the nearest valid key suggested.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from planning.errors import ConfigError

PopulationBasis = Literal["residents", "children_0_17", "children_0_19", "children_0_24"]
#: Workload per area, from the workforce stage's demand model (computed before allocation).
WorkloadBasis = Literal["expected_cases", "case_holding_fte"]
WORKLOAD_BASES = ("expected_cases", "case_holding_fte")
AreaCode = Annotated[str, Field(pattern=r"^[EW]\d{8}$")]
#: A number written as text: YAML 1.1 reads 25e6 as a string, so such text is taken as the number.
_NUMBER_TEXT = re.compile(r"[-+]?\d[\d_]*(\.\d*)?([eE][-+]?\d+)?")
#: Largest team population a band may name: more people than any English council has.
MAX_TEAM_POPULATION = 10_000_000


def _strict_number(value: Any) -> Any:
    """Refuse true/false and text (50k, 1,000, n/a) where a number is expected; plain numbers
    written as text (25e6, "45000") are read as the number."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {str(value).lower()}")
    if isinstance(value, str):
        if not _NUMBER_TEXT.fullmatch(value.strip()):
            raise ValueError(
                f"must be a number such as 45000 or 0.5, not the text {value!r} "
                "(no units, thousands commas, 'k' or '%')"
            )
        return float(value.strip().replace("_", ""))
    return value


def _strict_whole(value: Any) -> Any:
    """As ``_strict_number``, for whole numbers."""
    value = _strict_number(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Number = Annotated[float, BeforeValidator(_strict_number)]
Whole = Annotated[int, BeforeValidator(_strict_whole)]


class StrictModel(BaseModel):
    """Base of every scenario section: unknown keys are errors, values are immutable, numbers
    are finite numbers (no inf or nan, no true/false or text)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Grouping(StrictModel):
    """A named set of districts whose teams must lie within it (e.g. 'Fareham and Gosport')."""

    name: str = Field(description="Name shown in outputs.")
    districts: list[AreaCode] = Field(min_length=1, description="District (LTLA) codes.")
    min_teams: Whole | None = Field(None, ge=1, description="Fewest teams in this grouping.")
    max_teams: Whole | None = Field(None, ge=1, description="Most teams in this grouping.")

    @model_validator(mode="after")
    def _check(self) -> Grouping:
        if self.min_teams and self.max_teams and self.min_teams > self.max_teams:
            raise ValueError(
                f"grouping '{self.name}': min_teams ({self.min_teams}) is greater than "
                f"max_teams ({self.max_teams})"
            )
        doubled = sorted({d for d in self.districts if self.districts.count(d) > 1})
        if doubled:
            raise ValueError(f"grouping '{self.name}' lists {', '.join(doubled)} twice")
        return self


class DistrictLimit(StrictModel):
    """Fewest and most teams in one district (with nesting: district)."""

    district: str = Field(description="District code (E06/E07/E08/E09) or its name as in the data.")
    min_teams: Whole | None = Field(None, ge=1, description="Fewest teams in this district.")
    max_teams: Whole | None = Field(None, ge=1, description="Most teams in this district.")

    @model_validator(mode="after")
    def _check(self) -> DistrictLimit:
        if self.min_teams and self.max_teams and self.min_teams > self.max_teams:
            raise ValueError(
                f"district '{self.district}': min_teams ({self.min_teams}) is greater than "
                f"max_teams ({self.max_teams})"
            )
        return self


class WorkloadBand(StrictModel):
    """A second band on each team's workload, beside the population band."""

    basis: WorkloadBasis = Field(
        "case_holding_fte",
        description="expected_cases (family help and child protection cases at 31 March) or "
        "case_holding_fte (those cases over the caseload targets, before rounding to fte_step).",
    )
    min: Number | None = Field(None, ge=0, description="Least workload of a team.")
    max: Number | None = Field(None, gt=0, description="Most workload of a team.")

    @model_validator(mode="after")
    def _check(self) -> WorkloadBand:
        if self.min is None and self.max is None:
            raise ValueError("teams.workload needs min, max or both")
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"teams.workload: min ({self.min:g}) must be below max ({self.max:g})")
        return self


class TeamSettings(StrictModel):
    """How areas are allocated into team patches."""

    population_basis: PopulationBasis | WorkloadBasis = Field(
        "residents",
        description="What the band counts: residents, children by age, or workload "
        "(expected_cases or case_holding_fte per area, from the workforce settings).",
    )
    workload: WorkloadBand | None = Field(
        None,
        description="A second band on each team's expected cases or case-holding FTE "
        "(e.g. {basis: case_holding_fte, min: 15, max: 30}).",
    )
    building_block: Literal["lsoa", "ward"] = Field(
        "lsoa",
        description="lsoa: teams are built from single areas; ward: every May 2024 ward (its "
        "LSOAs by the ONS best-fit lookup) stays whole in one team.",
    )
    fixed_areas_csv: Path | None = Field(
        None,
        description="Locks: CSV with columns area_code, team (a label of your own); areas that "
        "share a label end in the same team (path relative to the scenario file).",
    )
    min_population: Number = Field(
        30_000, gt=0, le=MAX_TEAM_POPULATION, description="Smallest team population (people)."
    )
    max_population: Number = Field(
        50_000, gt=0, le=MAX_TEAM_POPULATION, description="Largest team population (people)."
    )
    nesting: Literal["none", "district", "groupings"] = Field(
        "none", description="Teams lie within districts, within named groupings, or anywhere."
    )
    groupings: list[Grouping] = Field(
        default_factory=list, description="Named groupings of districts (nesting: groupings)."
    )
    min_teams_per_group: Whole | None = Field(
        None, ge=1, description="Default fewest teams per district or grouping."
    )
    max_teams_per_group: Whole | None = Field(
        None, ge=1, description="Default most teams per district or grouping."
    )
    total_teams: Whole | None = Field(
        None, ge=1, description="Exact number of teams in all; free within the band if omitted."
    )
    district_limits: list[DistrictLimit] = Field(
        default_factory=list,
        description="With nesting: district, fewest and most teams for named districts "
        "(others keep min/max_teams_per_group).",
    )
    undersized: Literal["fail", "one_team"] = Field(
        "fail",
        description="A block below the band's minimum on its own (e.g. the City of London): "
        "fail (exit 3, add a neighbouring council) or plan it as one team below the band, "
        "flagged in every output.",
    )
    current_plan_csv: Path | None = Field(
        None,
        description="The current plan: CSV with columns area_code, team_id (path relative "
        "to the scenario file). Outputs report how many areas, residents and children change team.",
    )
    change_penalty_km_per_person: Number = Field(
        0.0,
        ge=0,
        description="With a current plan: moving a person to another team costs as "
        "much as that person travelling this many km further (0 = compactness only).",
    )

    @property
    def uses_workload(self) -> bool:
        """Whether the allocation reads the workload columns (as its basis or a second band)."""
        return self.workload is not None or self.population_basis in WORKLOAD_BASES

    @model_validator(mode="after")
    def _check(self) -> TeamSettings:
        if self.min_population >= self.max_population:
            raise ValueError(
                f"min_population ({self.min_population:,.0f}) must be below "
                f"max_population ({self.max_population:,.0f})"
            )
        if (
            self.min_teams_per_group
            and self.max_teams_per_group
            and self.min_teams_per_group > self.max_teams_per_group
        ):
            raise ValueError(
                f"min_teams_per_group ({self.min_teams_per_group}) is greater than "
                f"max_teams_per_group ({self.max_teams_per_group})"
            )
        if self.district_limits and self.nesting != "district":
            raise ValueError("'district_limits' are listed but nesting is not 'district'")
        if self.nesting == "groupings" and not self.groupings:
            raise ValueError("nesting: groupings needs a list under 'groupings'")
        if self.nesting != "groupings" and self.groupings:
            raise ValueError("'groupings' are listed but nesting is not 'groupings'")
        names = [g.name for g in self.groupings]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"grouping names must be unique; repeated: {', '.join(dupes)}")
        return self


class Link(StrictModel):
    """A crossing that joins two areas that do not touch (a bridge, causeway or ferry)."""

    from_area: AreaCode = Field(description="LSOA 2021 code on one side.")
    to_area: AreaCode = Field(description="LSOA 2021 code on the other side.")
    kind: Literal["bridge", "ferry", "causeway", "road"] = "bridge"
    name: str = Field("", description="Name shown in logs and outputs, e.g. 'Langstone Bridge'.")

    @model_validator(mode="after")
    def _check(self) -> Link:
        if self.from_area == self.to_area:
            raise ValueError(
                f"link {self.name or self.kind!r} joins {self.from_area} to itself; "
                "a link joins two different areas"
            )
        return self


class GeographySettings(StrictModel):
    """Adjacency between areas and what to do with detached parts."""

    islands: Literal["link_nearest", "links", "fail"] = Field(
        "link_nearest",
        description="Detached parts: link each to its nearest area, use only the listed links, "
        "or fail naming them.",
    )
    links: list[Link] = Field(default_factory=list, description="Bridge and ferry links.")
    contiguity_tolerance_m: Number = Field(
        30.0,
        ge=0,
        le=500,
        description="Gap (metres) still counted as touching (generalised edges).",
    )


class SolverSettings(StrictModel):
    """Limits and tolerances for every optimisation run."""

    time_limit_seconds: Number = Field(60.0, gt=0, description="Wall-clock limit for one stage.")
    relative_gap: Number = Field(
        0.01, ge=0, le=1, description="Stop when (objective - bound) / objective is at most this."
    )
    threads: Whole = Field(1, ge=1, description="HiGHS threads per solve.")
    processes: Whole = Field(2, ge=1, description="Independent sub-problems solved at once.")
    seed: Whole = Field(0, ge=0, description="HiGHS random seed, for reproducible runs.")


class Locality(StrictModel):
    """A named group of districts, wards or areas (by code) served by its own hubs."""

    name: str = Field(description="Name shown in outputs, e.g. 'North'.")
    districts: list[AreaCode] = Field(default_factory=list, description="District (LTLA) codes.")
    wards: list[AreaCode] = Field(default_factory=list, description="Ward (May 2024) codes.")
    areas: list[AreaCode] = Field(default_factory=list, description="LSOA 2021 codes.")

    @model_validator(mode="after")
    def _check(self) -> Locality:
        if not (self.districts or self.wards or self.areas):
            raise ValueError(f"locality '{self.name}' lists no districts, wards or areas")
        return self


class HubSettings(StrictModel):
    """Where family hubs go in each locality, how far families travel, and where teams are based."""

    localities: list[Locality] = Field(
        default_factory=list, description="Named localities; empty means each district is one."
    )
    sites_csv: Path | None = Field(
        None,
        description="Candidate sites CSV (relative to the scenario file); else generated "
        "at area centres.",
    )
    site_tolerance_m: Number = Field(
        250.0,
        ge=0,
        le=2000,
        description="A site this many metres outside the (generalised) "
        "council boundary joins its nearest area; further out is an error.",
    )
    main_hubs_per_locality: Whole = Field(1, ge=1, description="Main hubs opened in each locality.")
    community_hubs_per_locality: Whole | None = Field(
        None,
        ge=0,
        description="Community hubs in each locality; 0 if neither this nor coverage_share is set.",
    )
    coverage_share: Number | None = Field(
        None,
        gt=0,
        le=1,
        description="Open the fewest community hubs that put this share "
        "(0-1) of children within the target of their hub.",
    )
    target_distance_km: Number = Field(
        2.0, gt=0, description="Road km (straight line x circuity) counted as near a hub."
    )
    target_minutes: Number | None = Field(
        None, gt=0, description="With travel_time_csv: minutes counted as near a hub."
    )
    circuity_factor: Number = Field(
        1.3, ge=1, le=3, description="Road km per straight-line km, for travel without a matrix."
    )
    travel_time_csv: Path | None = Field(
        None,
        description="Travel minutes, area code by site name (relative to the scenario "
        "file); replaces distance in the model.",
    )
    main_hub_visit_share: Number = Field(
        0.2,
        ge=0,
        lt=1,
        description="Share (0-1) of visits made to the nearest main hub rather "
        "than the nearest hub; weights travel to main hubs so they sit centrally [assumption].",
    )
    team_base_at_main_hub: bool = Field(False, description="Every team is based at a main hub.")
    keep_existing_sites: bool = Field(
        False, description="Keep every site marked existing open (unless forced closed)."
    )
    population_basis: Literal["children_0_17", "children_0_19", "children_0_24"] | None = Field(
        None,
        description="Children weighting travel, capacity and coverage; default the teams' "
        "basis if it counts children, else children_0_17.",
    )
    relative_gap: Number = Field(
        0.001, ge=0, le=1, description="Hub models are small: prove each to this gap."
    )

    @model_validator(mode="after")
    def _check(self) -> HubSettings:
        if self.community_hubs_per_locality is not None and self.coverage_share is not None:
            raise ValueError("set community_hubs_per_locality or coverage_share, not both")
        if self.target_minutes is not None and self.travel_time_csv is None:
            raise ValueError("target_minutes needs travel_time_csv (else use target_distance_km)")
        if self.travel_time_csv is not None and self.target_minutes is None:
            raise ValueError("travel_time_csv needs target_minutes (minutes counted as near)")
        names = [loc.name for loc in self.localities]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"locality names must be unique; repeated: {', '.join(dupes)}")
        return self


TeamRole = Literal[
    "family_practitioner",
    "social_worker",
    "lead_child_protection_practitioner",
    "senior_practitioner",
    "team_manager",
    "business_support",
]
FrontDoorRole = Literal["contact_officer", "duty_social_worker"]
Role = Literal[
    "family_practitioner",
    "social_worker",
    "lead_child_protection_practitioner",
    "senior_practitioner",
    "team_manager",
    "business_support",
    "contact_officer",
    "duty_social_worker",
]
CaseHoldingRole = Literal[
    "family_practitioner", "social_worker", "lead_child_protection_practitioner"
]
CaseType = Literal["family_help", "child_protection"]
#: The teams' roles (every one needs a salary); the front door's roles need one only when a
#: scenario has a front door.
ROLES: tuple[str, ...] = typing.get_args(TeamRole)
FRONT_DOOR_ROLES: tuple[str, ...] = typing.get_args(FrontDoorRole)
CASE_TYPES: tuple[str, ...] = typing.get_args(CaseType)
PositiveNumber = Annotated[Number, Field(gt=0)]
#: A salary (£ per FTE a year): above 0 and at most £1m, so 1e308 is caught as a typo.
Salary = Annotated[Number, Field(gt=0, le=1_000_000)]


class WorkforceSettings(StrictModel):
    """Demand per area from published rates, and the posts each team needs to meet it.

    Family Help cases are children in need at 31 March minus children on child protection plans at
    31 March (DfE tables B1 and D5), optionally less children looked after, plus an early-help
    uplift; child protection cases are plans at 31 March. Rates are per 10,000 children aged 0-17.
    """

    rates_year: Whole | None = Field(
        None,
        ge=2013,
        le=2100,
        description="Year (31 March) of the published children's "
        "services figures; the council's latest year if omitted. Missing council figures fall "
        "back to England's.",
    )
    looked_after_in_family_help: bool = Field(
        True,
        description="Children looked after at 31 March count as Family Help cases (the DfE "
        "counts them as children in need); false when a children-in-care service holds them.",
    )
    early_help_uplift_share: Number = Field(
        0.0,
        ge=0,
        le=5,
        description="Targeted early-help cases not counted as children in need, "
        "as a share of the published Family Help cases (0 = published figures only).",
    )
    deprivation_gradient_per_decile: Number = Field(
        1.33,
        ge=1,
        le=3,
        description="Demand multiplier per IMD decile more deprived (1.33: Child "
        "Welfare Inequalities Project); spread is normalised so each council's total is kept.",
    )
    caseload_target_cases_per_fte: dict[CaseHoldingRole, PositiveNumber] = Field(
        default_factory=lambda: {
            "family_practitioner": 18.0,
            "social_worker": 15.4,
            "lead_child_protection_practitioner": 12.0,
        },
        description="Cases per FTE each case-holding role is sized to (England average for "
        "social workers 15.4 in 2024; others are assumptions).",
    )
    case_holders: dict[CaseType, list[CaseHoldingRole]] = Field(
        default_factory=lambda: {
            "family_help": ["family_practitioner", "social_worker"],
            "child_protection": ["lead_child_protection_practitioner"],
        },
        description="Roles that hold each case type.",
    )
    non_social_worker_roles: list[CaseHoldingRole] = Field(
        default_factory=lambda: ["family_practitioner"],
        description="Case-holding roles that are not qualified social workers.",
    )
    max_non_social_worker_share: Number = Field(
        0.4,
        ge=0,
        le=1,
        description="Largest share (0-1) of a case type's cases held by "
        "non-social-workers; the plan uses all of it (they cost less). Assumption.",
    )
    team_manager_span_fte: PositiveNumber = Field(
        8.0, description="Case-holding FTE per team manager (6-8 assumed); at least one per team."
    )
    practitioner_fte_per_senior_practitioner: PositiveNumber = Field(
        6.0, description="Case-holding FTE per senior practitioner / practice supervisor FTE."
    )
    practitioner_fte_per_business_support: PositiveNumber = Field(
        8.0, description="Case-holding FTE per business support FTE."
    )
    fte_step: Number = Field(0.5, gt=0, le=1, description="Posts are sized in steps of this FTE.")
    min_team_case_holding_fte: Number = Field(
        4.0, ge=0, description="Fewest case-holding FTE in a team; social workers top it up."
    )

    @model_validator(mode="after")
    def _check(self) -> WorkforceSettings:
        problems = []
        for case_type in CASE_TYPES:
            holders = self.case_holders.get(case_type)
            if not holders:
                problems.append(f"case_holders.{case_type}: no role holds these cases")
                continue
            for role in holders:
                if role not in self.caseload_target_cases_per_fte:
                    problems.append(
                        f"caseload_target_cases_per_fte.{role}: {role} holds {case_type} cases "
                        "but has no caseload target"
                    )
            qualified = [r for r in holders if r not in self.non_social_worker_roles]
            if not qualified and self.max_non_social_worker_share < 1:
                problems.append(
                    f"case_holders.{case_type}: only non-social-workers hold these cases but "
                    f"max_non_social_worker_share is {self.max_non_social_worker_share}; add a "
                    "social worker role or set the share to 1"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class CostSettings(StrictModel):
    """What posts cost per year, and the budget envelope they must fit."""

    salary_gbp: dict[Role, Salary] = Field(
        default_factory=lambda: {
            "family_practitioner": 29_000.0,
            "social_worker": 42_000.0,
            "lead_child_protection_practitioner": 47_000.0,
            "senior_practitioner": 47_000.0,
            "team_manager": 53_000.0,
            "business_support": 24_000.0,
            "contact_officer": 26_000.0,
            "duty_social_worker": 42_000.0,
        },
        description="Basic salary per FTE per year (£) [assumption]: mid-points of typical "
        "council pay ranges (social worker £40,000-44,000, senior and lead practitioner "
        "£44,000-50,000, family practitioner £26,000-32,000, team manager £50,000-56,000); "
        "business support is an assumption, and so are the front door's contact officer "
        "(about £24,000-28,000) and duty social worker (the social worker mid-point). Every "
        "team role needs one; the front door's roles only with a front_door section.",
    )
    on_cost_share: Number = Field(
        0.275, ge=0, le=1, description="Employer NI and pension as a share of salary (25-30%)."
    )
    vacancy_share: Number = Field(
        0.0,
        ge=0,
        lt=1,
        description="Share of funded FTE vacant and not covered, saving its pay "
        "and on-costs (0 budgets the full establishment).",
    )
    agency_share: Number = Field(
        0.162,
        ge=0,
        le=1,
        description="Share of FTE in agency_roles filled by agency staff (16.2%, England 2024).",
    )
    agency_roles: list[Role] = Field(
        default_factory=lambda: [
            "social_worker",
            "lead_child_protection_practitioner",
            "senior_practitioner",
            "team_manager",
            "duty_social_worker",
        ],
        description="Roles partly filled by agency staff.",
    )
    agency_premium_share: Number = Field(
        0.17,
        ge=0,
        le=5,
        description="Agency cost above an employed post, as a share of basic salary (about +17%).",
    )
    non_pay_gbp_per_fte: Number = Field(
        4_000.0,
        ge=0,
        description="Non-pay cost per funded FTE per year (£): IT, travel, training. Assumption.",
    )
    budget_gbp: Number | None = Field(
        None, gt=0, description="Budget envelope per year (£); none: report cost only."
    )
    budget_sweep_points: Whole = Field(
        7,
        ge=0,
        le=50,
        description="Budgets in the budget curve, evenly spaced from half the "
        "full plan's cost (or the smallest staffable plan's, if more) to the full plan's, plus "
        "budget_gbp (0: no curve).",
    )

    @model_validator(mode="after")
    def _check(self) -> CostSettings:
        missing = [role for role in ROLES if role not in self.salary_gbp]
        if missing:
            raise ValueError(
                f"salary_gbp: no salary for {', '.join(missing)}; every role needs one"
            )
        if self.vacancy_share + self.agency_share > 1:
            raise ValueError(
                f"vacancy_share ({self.vacancy_share}) plus agency_share ({self.agency_share}) "
                "is more than 1"
            )
        return self


# --------------------------------------------------------------------------- front door

#: Sefton's CHAT, first three weeks from 1 May 2024 (DOMAIN.md): contacts and referrals into
#: social care per week, calls a day on average and on the busiest day, and the channel mix.
SEFTON_WEEKLY_CONTACTS = (337, 327, 315)
SEFTON_WEEKLY_REFERRALS = (86, 46, 61)
SEFTON_CALLS_PER_DAY_MEAN = 33
SEFTON_CALLS_PER_DAY_BUSIEST = 45
SEFTON_CHANNEL_SHARES = {"telephone": 0.56, "email": 0.43, "other": 0.01}
#: 979 contacts for 193 referrals: about 5.07 contacts per referral [assumption elsewhere].
SEFTON_CONTACTS_PER_REFERRAL = sum(SEFTON_WEEKLY_CONTACTS) / sum(SEFTON_WEEKLY_REFERRALS)
#: The busiest day against the average day: 45 / 33 = 1.36.
SEFTON_PEAK_DAY_FACTOR = SEFTON_CALLS_PER_DAY_BUSIEST / SEFTON_CALLS_PER_DAY_MEAN
Channel = Literal["telephone", "email", "other"]
CHANNELS: tuple[str, ...] = typing.get_args(Channel)
#: Shares that must add up to 1 may be off by this much (rounded published percentages).
SHARE_SUM_TOLERANCE = 0.005


class FrontDoorSettings(StrictModel):
    """The front door: contacts by channel, the service promised on the telephone line, and the
    contact officers and duty social workers that takes (sized by ``planning.front_door``).

    Calls are sized per opening hour with Erlang C (no abandonment); emails, other contacts and
    the social-worker conversations that follow are sized by their workload. Contacts are given
    (``weekly_contacts``) or estimated from the councils' published referrals (DfE table C1) times
    ``contacts_per_referral``.
    """

    weekly_contacts: Number | None = Field(
        None,
        gt=0,
        description="Contacts a week (every channel); omit to estimate them from the councils' "
        "published referrals times contacts_per_referral.",
    )
    contacts_per_referral: Number = Field(
        SEFTON_CONTACTS_PER_REFERRAL,
        gt=0,
        description="Contacts per referral to children's social care, for estimating contacts "
        "from the DfE referrals table (default Sefton's first three weeks: 979 contacts, 193 "
        "referrals, 5.07) [assumption].",
    )
    referrals_year: Whole | None = Field(
        None,
        ge=2013,
        le=2100,
        description="Reporting year (to 31 March) of the DfE referrals used for the estimate; "
        "the latest year published if omitted.",
    )
    channel_shares: dict[Channel, Annotated[Number, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: dict(SEFTON_CHANNEL_SHARES),
        description="Share (0-1) of contacts by telephone, email and other; they must add up "
        "to 1 (default Sefton's first weeks: 56%, 43%, 1%).",
    )
    call_handling_minutes: Number = Field(
        10.0,
        gt=0,
        description="A contact officer's average handling time per call, talk plus wrap-up "
        "(minutes) [assumption].",
    )
    email_triage_minutes: Number = Field(
        15.0,
        gt=0,
        description="A contact officer's minutes to read, record and route one email contact "
        "[assumption].",
    )
    other_handling_minutes: Number = Field(
        15.0,
        gt=0,
        description="A contact officer's minutes per other contact (letters, walk-ins, portal) "
        "[assumption].",
    )
    conversation_share: Number = Field(
        0.25,
        ge=0,
        le=1,
        description="Share (0-1) of contacts that go on to a conversation with a duty social "
        "worker (Sefton's referrals into social care were 20% of contacts; some conversations "
        "end in advice or early help) [assumption].",
    )
    conversation_minutes: Number = Field(
        45.0,
        gt=0,
        description="A duty social worker's minutes per conversation, including recording "
        "(Sefton's are not time-limited) [assumption].",
    )
    opens_at_hour: Whole = Field(
        9, ge=0, le=23, description="Clock hour the front door opens (9 = 09:00)."
    )
    opening_hours_per_day: Whole = Field(
        8, ge=1, le=24, description="Hours open each day, in whole hours (8: 09:00-17:00)."
    )
    days_per_week: Whole = Field(5, ge=1, le=7, description="Days open each week.")
    arrivals_csv: Path | None = Field(
        None,
        description="Your arrivals profile: CSV with columns hour (clock hour, 0-23) and share "
        "(of a day's contacts), one row per opening hour, shares adding up to 1 (relative to the "
        "scenario file). Omit for the default profile with a morning peak.",
    )
    peak_day_factor: Number = Field(
        SEFTON_PEAK_DAY_FACTOR,
        ge=1,
        le=10,
        description="Contacts on the busiest day over the average day (default Sefton's 45 "
        "calls against 33: 1.36).",
    )
    size_for_day: Literal["average", "peak"] = Field(
        "average",
        description="Staff to meet the target on the average day (the peak day is then "
        "reported) or on the peak day.",
    )
    answered_within_share: Number | None = Field(
        0.8,
        gt=0,
        le=1,
        description="Service target: this share (0-1) of calls answered within "
        "answer_within_seconds (null: mean wait target only).",
    )
    answer_within_seconds: Number = Field(
        20.0, ge=0, description="Service target: seconds within which calls count as answered."
    )
    mean_wait_seconds: Number | None = Field(
        None,
        ge=0,
        description="Service target: mean wait to answer, in seconds (average speed of answer); "
        "with answered_within_share both must be met.",
    )
    max_occupancy_share: Number = Field(
        0.85,
        gt=0,
        le=1,
        description="Highest share (0-1) of time an officer on duty spends handling contacts, "
        "for calls and for deferred work (85%: the contact-centre rule of thumb) [assumption].",
    )
    shrinkage_share: Number = Field(
        0.30,
        ge=0,
        lt=1,
        description="Share (0-1) of paid hours not available for contacts: leave, training, "
        "sickness, breaks, supervision (30%: the contact-centre rule of thumb) [assumption].",
    )
    fte_hours_per_week: Number = Field(
        37.0, gt=0, le=80, description="Paid hours per week of one FTE (NJC full time: 37)."
    )

    @model_validator(mode="after")
    def _check(self) -> FrontDoorSettings:
        problems = []
        missing = [c for c in CHANNELS if c not in self.channel_shares]
        total = sum(self.channel_shares.values())
        if missing:
            problems.append(
                f"channel_shares: give a share for every channel; missing {', '.join(missing)} "
                "(0 if none)"
            )
        elif abs(total - 1) > SHARE_SUM_TOLERANCE:
            shown = ", ".join(f"{c} {v:g}" for c, v in self.channel_shares.items())
            problems.append(
                f"channel_shares: shares must add up to 1, these add up to {total:g} ({shown})"
            )
        if self.opens_at_hour + self.opening_hours_per_day > 24:
            problems.append(
                f"opens_at_hour {self.opens_at_hour} plus opening_hours_per_day "
                f"{self.opening_hours_per_day} runs past midnight; open at most "
                f"{24 - self.opens_at_hour} hours from {self.opens_at_hour}:00"
            )
        if self.answered_within_share is None and self.mean_wait_seconds is None:
            problems.append(
                "no service target: set answered_within_share (with answer_within_seconds) or "
                "mean_wait_seconds"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Scenario(StrictModel):
    """One planning scenario: which councils, how to draw teams, how to solve."""

    name: str = Field(description="Scenario title shown on maps and reports.")
    description: str = ""
    councils: list[AreaCode] = Field(
        min_length=1, description="Upper-tier (E10/E06/E08/E09) or district (E07) codes."
    )
    data_dir: Path | None = Field(
        None, description="Public data directory; else --data-dir or PLANNING_DATA_DIR."
    )
    geography: GeographySettings = GeographySettings()
    teams: TeamSettings = TeamSettings()
    hubs: HubSettings | None = Field(None, description="Family hubs per locality; none: no hubs.")
    solver: SolverSettings = SolverSettings()
    workforce: WorkforceSettings = WorkforceSettings()
    costs: CostSettings = CostSettings()
    front_door: FrontDoorSettings | None = Field(
        None,
        description="The front door's contacts, service target and staffing; none: no front door.",
    )

    @model_validator(mode="after")
    def _check_front_door_salaries(self) -> Scenario:
        if self.front_door is not None:
            missing = [r for r in FRONT_DOOR_ROLES if r not in self.costs.salary_gbp]
            if missing:
                raise ValueError(
                    f"costs.salary_gbp: no salary for {', '.join(missing)}, which the "
                    "front door staffs; add it to costs.salary_gbp"
                )
        return self


# --------------------------------------------------------------------------- loading


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping (two ``teams:`` blocks)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep=False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            first = seen.get(key)
        except TypeError:
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} is given twice (lines {first + 1} and "
                f"{key_node.start_mark.line + 1}); keep one",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"scenario file not found: {path}")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start} cannot be read); save the file as UTF-8"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{path}: not valid YAML{where}: {problem}. Check indentation and colons."
        ) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: a scenario must be a mapping of settings, got {type(raw).__name__}"
        )
    return raw


def load_raw(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a scenario file and everything it extends into one merged mapping."""
    path = Path(path).resolve()
    if path in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path))
        raise ConfigError(f"scenario 'extends' chain loops: {chain}")
    raw = _read_yaml(path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: 'extends' must be a file path, got {parent!r}")
    if not (path.parent / parent).is_file():
        raise ConfigError(
            f"{path}: extends: parent scenario not found: {path.parent / parent} (the path is "
            "read from this file's folder)"
        )
    base = load_raw(path.parent / parent, (*_seen, path))
    return _deep_merge(base, raw)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``list[Grouping] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _valid_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        if isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        current = _model_of(field.annotation) if field else None
    return list(current.model_fields) if current else []


def describe_validation_error(exc: ValidationError, source: str) -> ConfigError:
    """Turn pydantic's errors into one message naming each field, with typo suggestions."""
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            valid = _valid_keys(Scenario, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(valid)}"
            problems.append(f"{dotted}: unknown setting; {hint}")
        elif err["type"] == "missing":
            problems.append(f"{dotted}: required setting is missing")
        else:
            value = err.get("input")
            shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
            problems.append(f"{dotted}: {err['msg']}{shown}")
    return ConfigError(f"{source}: the scenario has {len(problems)} problem(s):", problems)


def extends_chain(path: Path) -> list[Path]:
    """The parent files a scenario extends, nearest first (read after ``load_raw`` succeeded)."""
    chain, current = [], Path(path).resolve()
    while isinstance(parent := _read_yaml(current).get("extends"), str):
        current = (current.parent / parent).resolve()
        chain.append(current)
    return chain


def load_scenario(path: str | Path) -> Scenario:
    """Read, merge and validate a scenario file; every problem is reported at once, naming the
    files it extends (a setting may come from any of them)."""
    raw = load_raw(Path(path))
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        parents = extends_chain(Path(path))
        source = str(path) + (f" (extending {', '.join(map(str, parents))})" if parents else "")
        raise describe_validation_error(exc, source) from None
