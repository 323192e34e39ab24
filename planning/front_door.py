"""The front door: contacts -> arrivals per opening hour -> Erlang C officers -> FTE.

A council's front door (Sefton's Children's Help and Advice Team, say) takes contacts by telephone,
email and other routes. Contact officers answer the calls and triage the emails; a share of
contacts goes on to a conversation with a duty social worker. This module sizes both roles:

1. **Demand.** Contacts a week are given, or estimated as the councils' published referrals a week
   (DfE table C1) times contacts per referral. They are split by channel, spread over the days
   open, and over the opening hours by an arrivals profile (``DEFAULT_HOURLY_WEIGHTS``, a morning
   peak, or the scenario's own CSV). The peak day has ``peak_day_factor`` times the average day.
2. **Telephone: Erlang C** (M/M/N, no abandonment: every caller waits until answered). Each hour
   is treated as stationary; the hour's officers on the phones are the fewest N whose service level
   ``1 - C(N, A) exp(-(N - A) t / AHT)`` and mean wait ``C(N, A) AHT / (N - A)`` meet the target and
   whose occupancy ``A / N`` is at most ``max_occupancy_share``. ``C`` comes from the Erlang B
   recursion ``B(n) = A B(n-1) / (n + A B(n-1))`` and ``C = N B / (N - A (1 - B))``: no
   factorials, no overflow. Callers who hang up (Erlang A) are not modelled, so the answer errs
   on the side of more officers.
3. **Email, other contacts and conversations: workload.** Minutes of work arriving in each hour,
   divided by 60 and by ``max_occupancy_share``; this work can wait within the day, so it is not
   queued. At least ``MIN_ON_DUTY`` contact officer and duty social worker are on duty every hour
   open.
4. **FTE.** Staff hours a day times days a week, over ``fte_hours_per_week x (1 -
   shrinkage_share)``, rounded up to the FTE step.

The staffing so chosen (for the average or the peak day, ``size_for_day``) is then evaluated on
both days: service level, mean wait, probability of waiting and occupancy, per hour and per day.
Pure functions of plain numbers; the readers of the referrals table and of an arrivals CSV live in
``planning.data``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planning.config import CHANNELS, FrontDoorSettings
from planning.errors import InfeasibleError

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- tuning, in one place

#: Default arrivals profile [assumption]: relative weight of each clock hour, a mid-morning peak,
#: a lunchtime dip and a tail into the evening (the shape contact centres commonly report; Sefton
#: published no profile). Hours open but not listed get ``DEFAULT_OTHER_HOUR_WEIGHT``; weights
#: are normalised over the hours open.
DEFAULT_HOURLY_WEIGHTS = {
    8: 0.9,
    9: 1.35,
    10: 1.5,
    11: 1.35,
    12: 1.0,
    13: 1.0,
    14: 1.05,
    15: 0.95,
    16: 0.8,
    17: 0.55,
    18: 0.4,
}
DEFAULT_OTHER_HOUR_WEIGHT = 0.25
#: Fewest contact officers and duty social workers on duty in any hour open.
MIN_ON_DUTY = 1
#: Minutes in one interval (the arrivals profile is hourly).
INTERVAL_MINUTES = 60
#: Weeks in a year, for referrals a year -> a week.
WEEKS_PER_YEAR = 365.25 / 7
#: The agent search stops here: a target needing more officers in one hour is infeasible.
MAX_AGENTS_PER_INTERVAL = 100_000
#: Float noise tolerated when comparing a service level or a wait with its target.
TARGET_TOLERANCE = 1e-12
#: Service levels quoted in an "unreachable target" message, to say what would be reachable.
REACHABLE_SHARES = (0.95, 0.99, 0.999)

ROLE_NAMES = {"contact_officer": "contact officer", "duty_social_worker": "duty social worker"}
#: team_id of the front door's rows in staffing.csv.
FRONT_DOOR_ID = "front door"


# --------------------------------------------------------------------------- Erlang B and C


def erlang_b(agents: int, traffic: float) -> float:
    """Erlang B blocking probability for ``agents`` servers and ``traffic`` Erlangs, by the
    recursion B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1)) (stable for any size)."""
    if agents < 0 or traffic < 0:
        raise ValueError("agents and traffic must be at least 0")
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def _erlang_c_from_b(agents: int, traffic: float, b: float) -> float:
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    return agents * b / (agents - traffic * (1 - b))


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call waits (Erlang C), for ``agents`` officers and ``traffic`` Erlangs;
    1 when the officers cannot keep up (agents <= traffic)."""
    return _erlang_c_from_b(agents, traffic, erlang_b(agents, traffic))


def _service_level(c: float, agents: int, traffic: float, aht_s: float, within_s: float) -> float:
    if traffic <= 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    return 1.0 - c * math.exp(-(agents - traffic) * within_s / aht_s)


def _mean_wait(c: float, agents: int, traffic: float, aht_s: float) -> float:
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return c * aht_s / (agents - traffic)


def service_level(agents: int, traffic: float, aht_seconds: float, within_seconds: float) -> float:
    """Share of calls answered within ``within_seconds`` (Erlang C); 0 when overloaded."""
    return _service_level(erlang_c(agents, traffic), agents, traffic, aht_seconds, within_seconds)


def mean_wait_seconds(agents: int, traffic: float, aht_seconds: float) -> float:
    """Mean wait to answer, seconds, over all calls (average speed of answer); inf when
    overloaded."""
    return _mean_wait(erlang_c(agents, traffic), agents, traffic, aht_seconds)


@dataclass(frozen=True)
class Target:
    """What the telephone line promises: a share within some seconds, a mean wait, or both."""

    answered_within_share: float | None
    answer_within_seconds: float
    mean_wait_seconds: float | None
    max_occupancy_share: float = 1.0

    @classmethod
    def of(cls, settings: FrontDoorSettings) -> Target:
        return cls(
            settings.answered_within_share,
            settings.answer_within_seconds,
            settings.mean_wait_seconds,
            settings.max_occupancy_share,
        )

    def text(self) -> str:
        parts = []
        if self.answered_within_share is not None:
            parts.append(
                f"{100 * self.answered_within_share:g}% of calls answered within "
                f"{self.answer_within_seconds:g} s"
            )
        if self.mean_wait_seconds is not None:
            parts.append(f"a mean wait of at most {self.mean_wait_seconds:g} s")
        return " and ".join(parts)


def agents_needed(traffic: float, aht_seconds: float, target: Target) -> int:
    """The fewest officers on the phones meeting ``target`` for ``traffic`` Erlangs (0 for no
    traffic). Raises InfeasibleError when no number up to ``MAX_AGENTS_PER_INTERVAL`` does."""
    if traffic <= 0:
        return 0
    start = max(1, math.floor(traffic) + 1, math.ceil(traffic / target.max_occupancy_share - 1e-9))
    b = erlang_b(start - 1, traffic)
    for n in range(start, MAX_AGENTS_PER_INTERVAL + 1):
        b = traffic * b / (n + traffic * b)
        if traffic / n > target.max_occupancy_share + TARGET_TOLERANCE:
            continue
        c = _erlang_c_from_b(n, traffic, b)
        ok = True
        if target.answered_within_share is not None:
            sl = _service_level(c, n, traffic, aht_seconds, target.answer_within_seconds)
            ok = sl >= target.answered_within_share - TARGET_TOLERANCE
        if ok and target.mean_wait_seconds is not None:
            ok = _mean_wait(c, n, traffic, aht_seconds) <= target.mean_wait_seconds + 1e-9
        if ok:
            return n
    raise InfeasibleError(
        f"front_door: {target.text()} needs more than {MAX_AGENTS_PER_INTERVAL:,} contact "
        f"officers in one hour for {traffic:,.1f} Erlangs of calls; relax the target"
    )


def _unreachable(target: Target, busiest_traffic: float, busiest_hour: str, aht_s: float) -> None:
    """Raise if no finite staffing can meet the target, saying what would be reachable."""
    if busiest_traffic <= 0:
        return
    if target.answered_within_share is not None and target.answered_within_share >= 1:
        reachable = []
        for share in REACHABLE_SHARES:
            n = agents_needed(
                busiest_traffic, aht_s, Target(share, target.answer_within_seconds, None, 1.0)
            )
            reachable.append(f"{100 * share:g}% needs {n}")
        raise InfeasibleError(
            f"front_door.answered_within_share is 1: no number of contact officers answers "
            f"every call within {target.answer_within_seconds:g} s, because under Erlang C a "
            "call can always arrive when every officer is busy. At the busiest hour "
            f"({busiest_hour}, {busiest_traffic:.2f} Erlangs) "
            + ", ".join(reachable)
            + " officers on the phones; set answered_within_share below 1."
        )
    if target.mean_wait_seconds is not None and target.mean_wait_seconds <= 0:
        reachable = []
        for wait in (10.0, 1.0, 0.1):
            n = agents_needed(busiest_traffic, aht_s, Target(None, 0.0, wait, 1.0))
            reachable.append(f"{wait:g} s needs {n}")
        raise InfeasibleError(
            "front_door.mean_wait_seconds is 0: no number of contact officers makes every "
            "caller's wait zero under Erlang C. At the busiest hour "
            f"({busiest_hour}, {busiest_traffic:.2f} Erlangs) a mean wait of "
            + ", ".join(reachable)
            + " officers on the phones; set mean_wait_seconds above 0."
        )


# --------------------------------------------------------------------------- demand


@dataclass(frozen=True)
class Demand:
    """Contacts a week and where the figure came from (given, or referrals x ratio)."""

    weekly_contacts: float
    source: str
    referrals_year: int | None = None
    referrals_per_year: float | None = None
    referrals_per_week: float | None = None
    contacts_per_referral: float | None = None
    by_council: tuple[dict[str, Any], ...] = ()


def contacts_demand(
    settings: FrontDoorSettings,
    referrals: pd.DataFrame | None = None,
    referrals_year: int | None = None,
) -> Demand:
    """Contacts a week: the scenario's, or ``referrals`` (one row per council: referrals a year,
    and ``share`` of the council the scenario covers) a week times contacts per referral."""
    if settings.weekly_contacts is not None:
        return Demand(float(settings.weekly_contacts), "given (front_door.weekly_contacts)")
    if referrals is None or referrals.empty:
        raise ValueError("weekly_contacts is not set: pass the councils' referrals")
    share = referrals.get("share", 1.0)
    per_year = float((referrals["referrals"] * share).sum())
    per_week = per_year / WEEKS_PER_YEAR
    ratio = settings.contacts_per_referral
    records = tuple(
        {"council_code": str(code), **{k: _plain(v) for k, v in row.items()}}
        for code, row in referrals.iterrows()
    )
    return Demand(
        weekly_contacts=per_week * ratio,
        source=f"estimated: DfE referrals {referrals_year} a week x {ratio:.3g} contacts per "
        "referral",
        referrals_year=referrals_year,
        referrals_per_year=per_year,
        referrals_per_week=per_week,
        contacts_per_referral=ratio,
        by_council=records,
    )


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def open_hours(settings: FrontDoorSettings) -> list[int]:
    """The clock hours the front door is open, in order (9 ... 16 for 09:00-17:00)."""
    return list(
        range(settings.opens_at_hour, settings.opens_at_hour + settings.opening_hours_per_day)
    )


def default_profile(hours: list[int]) -> pd.Series:
    """The default arrivals profile over the opening hours (shares adding up to 1)."""
    weights = pd.Series(
        [DEFAULT_HOURLY_WEIGHTS.get(h, DEFAULT_OTHER_HOUR_WEIGHT) for h in hours],
        index=hours,
        dtype=float,
    )
    return weights / weights.sum()


def hour_label(hour: int) -> str:
    return f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"


# --------------------------------------------------------------------------- the staffing


@dataclass(frozen=True)
class FrontDoorPlan:
    """Front-door staffing: per hour, per day (average and peak) and FTE per role.

    ``intervals``: one row per opening hour (average day, and the peak day's figures with the same
    officers). ``days``: one row per day type. ``posts``: role, staff_hours_per_week,
    fte_before_rounding, fte, most_on_duty.
    """

    settings: FrontDoorSettings
    demand: Demand
    profile: pd.Series
    profile_source: str
    intervals: pd.DataFrame
    days: pd.DataFrame
    posts: pd.DataFrame
    fte_step: float

    @property
    def total_fte(self) -> float:
        return float(self.posts["fte"].sum())

    def fte(self, role: str) -> float:
        return float(self.posts.set_index("role").at[role, "fte"])

    def day(self, kind: str) -> dict[str, Any]:
        return self.days.set_index("day").loc[kind].to_dict()

    def summary(self) -> dict[str, Any]:
        """JSON-ready (NaN and inf as None) figures for the manifest."""
        d = self.demand
        s = self.settings
        body = {
            "model": "Erlang C (M/M/N, no abandonment) per opening hour for calls; workload for "
            "email, other contacts and social-worker conversations",
            "target": Target.of(s).text(),
            "sized_for_day": s.size_for_day,
            "weekly_contacts": d.weekly_contacts,
            "contacts_source": d.source,
            "referrals_year": d.referrals_year,
            "referrals_per_year": d.referrals_per_year,
            "referrals_per_week": d.referrals_per_week,
            "contacts_per_referral": d.contacts_per_referral,
            "referrals_by_council": list(d.by_council),
            "arrivals_profile": self.profile_source,
            "arrivals_share_by_hour": {hour_label(h): v for h, v in self.profile.items()},
            "fte_step": self.fte_step,
            "posts": self.posts.to_dict("records"),
            "days": self.days.to_dict("records"),
            "intervals": self.intervals.to_dict("records"),
        }
        return json_ready(body)


def json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _step_up(value: float, step: float) -> float:
    return math.ceil(value / step - 1e-9) * step


def _phone_figures(agents: np.ndarray, traffic: np.ndarray, aht_s: float, within_s: float):
    pw = np.array([erlang_c(int(n), float(a)) for n, a in zip(agents, traffic, strict=True)])
    sl = np.array(
        [
            _service_level(c, int(n), float(a), aht_s, within_s)
            for c, n, a in zip(pw, agents, traffic, strict=True)
        ]
    )
    wait = np.array(
        [
            _mean_wait(c, int(n), float(a), aht_s)
            for c, n, a in zip(pw, agents, traffic, strict=True)
        ]
    )
    occupancy = np.where(agents > 0, traffic / np.maximum(agents, 1), 0.0)
    return pw, sl, wait, occupancy


def _day_row(kind: str, frame: pd.DataFrame, prefix: str, days: int) -> dict[str, Any]:
    calls = frame[f"{prefix}calls"].to_numpy()
    weight = calls / calls.sum() if calls.sum() > 0 else np.zeros_like(calls)
    waits = frame[f"{prefix}mean_wait_seconds"].to_numpy()
    overloaded = int((~np.isfinite(waits)).sum())
    agents = frame["phone_officers"].to_numpy()
    traffic = frame[f"{prefix}traffic_erlangs"].to_numpy()
    return {
        "day": kind,
        "contacts": float(frame[f"{prefix}contacts"].sum()),
        "calls": float(calls.sum()),
        "emails_and_other": float(frame[f"{prefix}emails_and_other"].sum()),
        "conversations": float(frame[f"{prefix}conversations"].sum()),
        "service_level": float(weight @ frame[f"{prefix}service_level"].to_numpy()),
        "probability_of_waiting": float(
            weight @ frame[f"{prefix}probability_of_waiting"].to_numpy()
        ),
        "mean_wait_seconds": float(weight @ waits) if overloaded == 0 else math.inf,
        "worst_hour_mean_wait_seconds": float(waits.max()) if len(waits) else 0.0,
        "phone_occupancy": float(traffic.sum() / agents.sum()) if agents.sum() else 0.0,
        "overloaded_hours": overloaded,
        "contact_officer_hours": float(frame["contact_officers"].sum()),
        "duty_social_worker_hours": float(frame["duty_social_workers"].sum()),
        "days_a_week": days if kind == "average" else None,
    }


def size_front_door(
    settings: FrontDoorSettings,
    demand: Demand,
    profile: pd.Series | None = None,
    fte_step: float = 0.5,
    profile_source: str | None = None,
) -> FrontDoorPlan:
    """Contact officers and duty social workers per opening hour, per day and as FTE.

    ``profile`` is the share of a day's contacts in each opening hour (index clock hour); None
    takes the default profile. Raises InfeasibleError for a service target no staffing can meet.
    """
    s = settings
    hours = open_hours(s)
    if profile is None:
        profile = default_profile(hours)
        profile_source = profile_source or "default (morning peak) [assumption]"
    profile = profile.reindex(hours).astype(float)
    target = Target.of(s)
    aht_s = 60.0 * s.call_handling_minutes
    shares = {c: float(s.channel_shares.get(c, 0.0)) for c in CHANNELS}
    day_contacts = demand.weekly_contacts / s.days_per_week
    factor = {"": 1.0, "peak_": s.peak_day_factor}
    sizing_prefix = "" if s.size_for_day == "average" else "peak_"

    frame = pd.DataFrame({"hour": [hour_label(h) for h in hours]})
    for prefix, f in factor.items():
        contacts = day_contacts * f * profile.to_numpy()
        frame[f"{prefix}contacts"] = contacts
        frame[f"{prefix}calls"] = contacts * shares["telephone"]
        frame[f"{prefix}emails_and_other"] = contacts * (shares["email"] + shares["other"])
        frame[f"{prefix}conversations"] = contacts * s.conversation_share
        frame[f"{prefix}traffic_erlangs"] = (
            frame[f"{prefix}calls"] * aht_s / (60.0 * INTERVAL_MINUTES)
        )

    busiest = int(frame[f"{sizing_prefix}traffic_erlangs"].to_numpy().argmax())
    _unreachable(
        target,
        float(frame.at[busiest, f"{sizing_prefix}traffic_erlangs"]),
        frame.at[busiest, "hour"],
        aht_s,
    )
    sizing_traffic = frame[f"{sizing_prefix}traffic_erlangs"].to_numpy()
    phones = np.array([agents_needed(float(a), aht_s, target) for a in sizing_traffic])
    if shares["telephone"] > 0:
        phones = np.maximum(phones, MIN_ON_DUTY)
    frame["phone_officers"] = phones
    frame["peak_phone_officers_needed"] = [
        agents_needed(float(a), aht_s, target) for a in frame["peak_traffic_erlangs"]
    ]
    desk_minutes = (
        s.email_triage_minutes * shares["email"] + s.other_handling_minutes * shares["other"]
    )
    contacts_sized = frame[f"{sizing_prefix}contacts"].to_numpy()
    frame["email_officers"] = (
        contacts_sized * desk_minutes / INTERVAL_MINUTES / s.max_occupancy_share
    )
    frame["contact_officers"] = np.maximum(
        frame["phone_officers"] + frame["email_officers"], MIN_ON_DUTY
    )
    conversations = frame[f"{sizing_prefix}conversations"].to_numpy()
    frame["duty_social_workers"] = np.maximum(
        conversations * s.conversation_minutes / INTERVAL_MINUTES / s.max_occupancy_share,
        MIN_ON_DUTY,
    )
    for prefix in factor:
        pw, sl, wait, occ = _phone_figures(
            phones, frame[f"{prefix}traffic_erlangs"].to_numpy(), aht_s, s.answer_within_seconds
        )
        frame[f"{prefix}probability_of_waiting"] = pw
        frame[f"{prefix}service_level"] = sl
        frame[f"{prefix}mean_wait_seconds"] = wait
        frame[f"{prefix}phone_occupancy"] = occ

    days = pd.DataFrame(
        [
            _day_row("average", frame, "", s.days_per_week),
            _day_row("peak", frame, "peak_", s.days_per_week),
        ]
    )
    available = s.fte_hours_per_week * (1 - s.shrinkage_share)
    posts = []
    for role, col in (
        ("contact_officer", "contact_officers"),
        ("duty_social_worker", "duty_social_workers"),
    ):
        weekly = float(frame[col].sum()) * s.days_per_week
        raw = weekly / available
        posts.append(
            {
                "role": role,
                "staff_hours_per_week": weekly,
                "fte_before_rounding": raw,
                "fte": _step_up(raw, fte_step),
                "most_on_duty": math.ceil(float(frame[col].max()) - 1e-9),
            }
        )
    plan = FrontDoorPlan(
        settings=s,
        demand=demand,
        profile=profile,
        profile_source=profile_source or "given",
        intervals=frame,
        days=days,
        posts=pd.DataFrame(posts),
        fte_step=fte_step,
    )
    avg = plan.day("average")
    peak = plan.day("peak")
    log.info(
        "front door: %.0f contacts a week (%s); %.1f contact officer FTE, %.1f duty social "
        "worker FTE; %s: average day %.1f%% answered within %g s, mean wait %.1f s; peak day "
        "%.1f%%, mean wait %s",
        demand.weekly_contacts,
        demand.source,
        plan.fte("contact_officer"),
        plan.fte("duty_social_worker"),
        target.text(),
        100 * avg["service_level"],
        s.answer_within_seconds,
        avg["mean_wait_seconds"],
        100 * peak["service_level"],
        f"{peak['mean_wait_seconds']:.1f} s"
        if math.isfinite(peak["mean_wait_seconds"])
        else f"unbounded in {peak['overloaded_hours']} overloaded hour(s)",
    )
    return plan


#: Columns of the per-hour table as written (front_door.csv and the workbook sheet).
INTERVAL_COLUMNS = [
    "hour",
    "contacts",
    "calls",
    "emails_and_other",
    "conversations",
    "traffic_erlangs",
    "phone_officers",
    "email_officers",
    "contact_officers",
    "duty_social_workers",
    "service_level",
    "mean_wait_seconds",
    "probability_of_waiting",
    "phone_occupancy",
    "peak_calls",
    "peak_traffic_erlangs",
    "peak_service_level",
    "peak_mean_wait_seconds",
    "peak_phone_occupancy",
    "peak_phone_officers_needed",
]


def interval_rows(plan: FrontDoorPlan) -> pd.DataFrame:
    """The per-hour table as written: rounded, an overloaded hour's wait blank."""
    out = plan.intervals[INTERVAL_COLUMNS].copy()
    for col in out.columns:
        if col == "hour":
            continue
        values = out[col].astype(float).replace([np.inf, -np.inf], np.nan)
        digits = 2 if col.endswith("wait_seconds") else 4
        out[col] = values.round(digits)
    return out
