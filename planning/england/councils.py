"""The upper-tier councils of England, from the data's district-to-council lookup."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from planning.data import DATA_FILES, resolve_data_dir
from planning.errors import ConfigError


@dataclass(frozen=True)
class Council:
    """One upper-tier council: code (E06/E08/E09/E10), name and its LSOA 2021 areas."""

    code: str
    name: str
    areas: int


def upper_tier_councils(data_dir: Path | str | None = None) -> list[Council]:
    """Every English upper-tier council with at least one LSOA 2021 area, by code."""
    root = resolve_data_dir(data_dir)
    lookup = pd.read_csv(root / DATA_FILES["councils"], encoding="utf-8-sig", dtype=str)
    lookup = lookup[lookup.UTLA23CD.str.startswith("E")]
    wards = pd.read_csv(root / DATA_FILES["lsoa21_wards"], dtype=str, usecols=["ltla24_code"])
    joined = wards.merge(lookup, left_on="ltla24_code", right_on="LTLA23CD")
    sizes = joined.groupby("UTLA23CD").size()
    names = lookup.drop_duplicates("UTLA23CD").set_index("UTLA23CD").UTLA23NM
    return [Council(code, str(names[code]), int(sizes[code])) for code in sorted(sizes.index)]


def select_councils(every: list[Council], codes: list[str] | None) -> list[Council]:
    """The councils named by ``codes`` (all when None), largest first; unknown codes refused."""
    if codes:
        wanted = [c.strip().upper() for c in codes]
        known = {c.code: c for c in every}
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise ConfigError(
                f"--councils: {', '.join(unknown)} is not an English upper-tier council code in "
                f"{DATA_FILES['councils']}; use E06, E08, E09 or E10 codes "
                f"(e.g. {every[0].code} {every[0].name})"
            )
        chosen = [known[c] for c in dict.fromkeys(wanted)]
    else:
        chosen = list(every)
    return sorted(chosen, key=lambda c: (-c.areas, c.code))
