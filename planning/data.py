"""The only reader of public input files: boundaries, population, deprivation and lookups.

``load_areas`` builds one table of LSOA 2021 areas for a set of councils: code, name, geometry
(EPSG:27700), district, ward, upper-tier council, Census 2021 residents, children by age (mid-2020
single-year estimates carried from 2011 to 2021 LSOAs) and IMD 2025 score and decile. Every join is
checked; an unmatched area is an error naming it. The table is cached on disk keyed by a hash of its
inputs.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import gzip
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from planning.checks import SHOWN, SUPPRESSED, numbers, read_csv, unique
from planning.errors import ConfigError, DataError

log = logging.getLogger(__name__)

CRS = "EPSG:27700"
CACHE_VERSION = "areas-v1"
CHILD_AGE_LIMITS = {"children_0_17": 17, "children_0_19": 19, "children_0_24": 24}

#: Files read from the data directory, by role (paths relative to it).
DATA_FILES = {
    "councils": "lookups/LTLA-UTLA_Apr23_Lookup_England-Wales.csv",
    "lsoa21_wards": "lookups/lookup_lsoa21_ward24_ltla24.csv",
    "lsoa11_to_lsoa21": "lookups/lookup_lsoa11_lsoa21_ltla22.csv",
    "census21": "population/census21_pop_lsoa21_age6.csv.gz",
    "population20": "population/population20_lsoa11_syoa.csv.gz",
    "imd2025": "deprivation/imd2025_england_lsoa21.csv.gz",
    "boundaries": "boundaries/lsoa21_bsc_ew.gpkg",
}

#: DfE children's services tables and their 0-17 denominators (read by ``planning.workforce``).
RATE_FILES = {
    "children_in_need": "childrens_services/b1_children_in_need_2013_to_2025.csv",
    "child_protection": "childrens_services/d5_cpps_at31march_by_duration_2013_to_2025.csv",
    "looked_after": "childrens_services/cla_number_and_rate_per_10k_children.csv",
    "workforce": "childrens_services/csww_indicators_2017_to_2025.csv",
    "population": "population/ons_mid-year_population_estimates_2012_to_2024.csv",
}

#: The DfE referrals table (C1), read for the front door.
REFERRALS_FILE = "childrens_services/c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv"

REPO_DIR = Path(__file__).resolve().parent.parent
#: The embedded sample: the rows of every file above that Hampshire's scenario reads.
SAMPLE_DIR = REPO_DIR / "data" / "sample"
SAMPLE_COUNCILS = ("E10000014",)


def planner_files() -> list[str]:
    """Every file the planner reads, relative to the data directory."""
    return sorted({*DATA_FILES.values(), *RATE_FILES.values(), REFERRALS_FILE})


def text_form(rel: str) -> str:
    """Where the embedded sample keeps a national file as plain text, so it can be committed and
    diffed: a gzipped table without its gzip, the boundaries as base64 WKB in a CSV."""
    if rel == DATA_FILES["boundaries"]:
        return rel.removesuffix(".gpkg") + ".wkb.csv"
    return rel.removesuffix(".gz")


def sample_files() -> list[str]:
    """Every file of the embedded sample, relative to it."""
    return sorted(text_form(rel) for rel in planner_files())


def located(data_dir: Path, rel: str) -> Path | None:
    """A data file in ``data_dir``: as the publisher names it, else in its text form, else None."""
    for name in (rel, text_form(rel)):
        if (data_dir / name).is_file():
            return data_dir / name
    return None


AREA_COLUMNS = [
    "area_code",
    "area_name",
    "district_code",
    "district_name",
    "ward_code",
    "ward_name",
    "council_code",
    "council_name",
    "residents",
    "children_0_17",
    "children_0_19",
    "children_0_24",
    "imd_score",
    "imd_decile",
]


@dataclass(frozen=True)
class AreaData:
    """The areas table plus what it was built from."""

    areas: gpd.GeoDataFrame
    data_dir: Path
    input_hashes: dict[str, str]

    @property
    def districts(self) -> pd.DataFrame:
        cols = ["district_code", "district_name", "council_code", "council_name"]
        return (
            self.areas[cols].drop_duplicates().sort_values("district_code").reset_index(drop=True)
        )


def shared_data_dir() -> Path:
    """``../shared/data`` beside the repository (or the working directory), existing or not."""
    for root in (REPO_DIR, Path.cwd()):
        candidate = root.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return REPO_DIR.parent / "shared" / "data"


def default_data_dir() -> Path:
    """``../shared/data`` when it exists, else the embedded sample (Hampshire only)."""
    shared = shared_data_dir()
    complete = all(located(SAMPLE_DIR, rel) for rel in planner_files())
    if shared.is_dir() or not complete:
        return shared
    log.warning(
        "no data at %s: using the embedded sample %s (Hampshire only); "
        "run `planning data fetch` for all of England",
        shared,
        SAMPLE_DIR,
    )
    return SAMPLE_DIR


def resolve_data_dir(explicit: Path | str | None = None) -> Path:
    """The data directory: an explicit path, else PLANNING_DATA_DIR, else ../shared/data, else
    the embedded sample."""
    if explicit:
        path, origin = Path(explicit), "the data directory given"
    elif os.environ.get("PLANNING_DATA_DIR"):
        path, origin = Path(os.environ["PLANNING_DATA_DIR"]), "PLANNING_DATA_DIR"
    else:
        path, origin = default_data_dir(), "the default data directory"
    path = path.expanduser().resolve()
    if not path.is_dir():
        raise DataError(
            f"{origin} does not exist: {path}. Pass --data-dir, set PLANNING_DATA_DIR, or set "
            "data_dir in the scenario to the folder that holds boundaries/, population/, "
            "deprivation/ and lookups/ (see data/README.md)."
        )
    return path


def _file(data_dir: Path, role: str) -> Path:
    path = located(data_dir, DATA_FILES[role])
    if path is None:
        raise DataError(
            f"missing data file {DATA_FILES[role]} ({role}) in {data_dir}. "
            "See data/README.md for where its publisher serves it and how to fetch it."
        )
    return path


#: The date written into a GeoPackage's tables, so its bytes depend only on its contents.
FIXED_GPKG_TIME = "2000-01-01T00:00:00.000Z"


@contextmanager
def fixed_gpkg_time() -> Iterator[None]:
    """GeoPackages written inside get FIXED_GPKG_TIME, not "now", as their last change."""
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_GPKG_TIME})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


def plain_bytes(path: Path) -> bytes:
    """A file's bytes, decompressed when its name ends in .gz."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def packed_bytes(name: str, data: bytes) -> bytes:
    """``data`` as stored under ``name``: gzipped (reproducibly, no timestamp) for .gz names."""
    return gzip.compress(data, 9, mtime=0) if name.endswith(".gz") else data


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_hashes(data_dir: Path) -> dict[str, str]:
    """SHA-256 of every input file, keyed by its path relative to the data directory."""
    return {DATA_FILES[role]: file_sha256(_file(data_dir, role)) for role in sorted(DATA_FILES)}


def cache_dir() -> Path:
    return Path(os.environ.get("PLANNING_CACHE_DIR", Path.home() / ".cache" / "planning"))


# --------------------------------------------------------------------------- councils


def resolve_districts(councils: list[str], data_dir: Path) -> pd.DataFrame:
    """District (LTLA) rows for the councils asked for; upper-tier codes expand to districts."""
    table = read_csv(
        _file(data_dir, "councils"),
        DATA_FILES["councils"],
        ["LTLA23CD", "LTLA23NM", "UTLA23CD", "UTLA23NM"],
    )
    table = table[table["LTLA23CD"].str.startswith("E")]
    unique(table, ["LTLA23CD"], DATA_FILES["councils"])
    lookup = table.rename(
        columns={
            "LTLA23CD": "district_code",
            "LTLA23NM": "district_name",
            "UTLA23CD": "council_code",
            "UTLA23NM": "council_name",
        }
    )[["district_code", "district_name", "council_code", "council_name"]]
    known_names = dict(zip(lookup.council_code, lookup.council_name, strict=True))
    known_names.update(zip(lookup.district_code, lookup.district_name, strict=True))
    problems = []
    parts = []
    for code in councils:
        if code.startswith("E07"):
            rows = lookup[lookup.district_code == code]
        else:
            rows = lookup[lookup.council_code == code]
        if rows.empty:
            close = difflib.get_close_matches(code, list(known_names), n=3, cutoff=0.8)
            hint = ", ".join(f"{c} ({known_names[c]})" for c in close)
            problems.append(
                f"{code}: not an English council code in {DATA_FILES['councils']}"
                + (f"; close codes: {hint}" if hint else "")
                + ". Use upper-tier E10/E06/E08/E09 or district E07 codes."
            )
        parts.append(rows)
    if problems:
        raise ConfigError("councils: unknown council code(s):", problems)
    districts = pd.concat(parts).drop_duplicates("district_code")
    return districts.sort_values("district_code").reset_index(drop=True)


# --------------------------------------------------------------------------- population


def _missing(
    codes: pd.Index | pd.Series, names: pd.Series, what: str, limit: int = 10
) -> list[str]:
    shown = [f"{c} ({names.get(c, '?')})" for c in list(codes)[:limit]]
    more = f" and {len(codes) - limit} more" if len(codes) > limit else ""
    return [f"{len(codes)} area(s) have no {what}: {', '.join(shown)}{more}"]


def _census_residents(
    data_dir: Path, codes: pd.Index, names: dict[str, str] | None = None
) -> pd.Series:
    """Census 2021 usual residents per area (the six age bands added up), checked row by row."""
    what = DATA_FILES["census21"]
    census = read_csv(
        _file(data_dir, "census21"),
        what,
        ["lsoa21_code", "age_group", "usual_residents"],
        only_columns=True,
    )
    census = census[census["lsoa21_code"].isin(codes)]
    unique(census, ["lsoa21_code", "age_group"], what, names=names)
    census["usual_residents"] = numbers(
        census, "usual_residents", what, key="lsoa21_code", names=names
    )
    residents = census.groupby("lsoa21_code")["usual_residents"].sum()
    return residents.reindex(codes)


def _children_2021(data_dir: Path, codes: pd.Index, residents: pd.Series) -> pd.DataFrame:
    """Mid-2020 children by age band on 2021 LSOAs.

    Unchanged areas keep their counts, merged areas add up, and a split 2011 area's counts are
    shared among its 2021 parts in proportion to their Census 2021 residents.
    """
    what = DATA_FILES["lsoa11_to_lsoa21"]
    lookup = read_csv(
        _file(data_dir, "lsoa11_to_lsoa21"),
        what,
        ["lsoa11_code", "lsoa21_code", "change_code"],
        only_columns=True,
    )
    unique(lookup, ["lsoa11_code", "lsoa21_code"], what)
    wanted11 = lookup.loc[lookup.lsoa21_code.isin(codes), "lsoa11_code"].unique()
    parts = lookup[lookup.lsoa11_code.isin(wanted11)].copy()
    all_residents = _census_residents(data_dir, pd.Index(parts.lsoa21_code.unique()))
    parts["weight_base"] = parts.lsoa21_code.map(all_residents).astype(float)
    totals = parts.groupby("lsoa11_code")["weight_base"].transform("sum")
    parts["share"] = np.where(
        totals > 0,
        parts.weight_base / totals,
        1.0 / parts.groupby("lsoa11_code")["lsoa21_code"].transform("count"),
    )

    ages = [str(a) for a in range(max(CHILD_AGE_LIMITS.values()) + 1)]
    what = DATA_FILES["population20"]
    pop = read_csv(_file(data_dir, "population20"), what, ["lsoa11_code", *ages], only_columns=True)
    pop = pop[pop.lsoa11_code.isin(wanted11)]
    unique(pop, ["lsoa11_code"], what)
    for age in ages:
        pop[age] = numbers(pop, age, what, key="lsoa11_code")
    pop = pop.set_index("lsoa11_code")
    missing11 = sorted(set(wanted11) - set(pop.index))
    if missing11:
        raise DataError(
            f"{len(missing11)} LSOA 2011 code(s) in the lookup have no mid-2020 population: "
            f"{', '.join(missing11[:10])}"
        )
    bands = pd.DataFrame(
        {
            col: pop[[str(a) for a in range(top + 1)]].sum(axis=1)
            for col, top in CHILD_AGE_LIMITS.items()
        }
    )
    carried = parts.join(bands, on="lsoa11_code")
    for col in CHILD_AGE_LIMITS:
        carried[col] = carried[col] * carried["share"]
    by21 = carried.groupby("lsoa21_code")[list(CHILD_AGE_LIMITS)].sum()
    log.info(
        "carried mid-2020 children from %d LSOA 2011 to %d LSOA 2021 areas (%s)",
        len(wanted11),
        len(codes),
        ", ".join(
            f"{k}={v}"
            for k, v in parts[parts.lsoa21_code.isin(codes)].change_code.value_counts().items()
        ),
    )
    return by21.reindex(codes)


# --------------------------------------------------------------------------- areas table


_GDAL_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.CRSError,
)


def _read_boundaries(path: Path, quoted: str) -> gpd.GeoDataFrame:
    """The boundaries of the quoted codes, in EPSG:27700; an unreadable file is a DataError."""
    what = DATA_FILES["boundaries"]
    if path.name.endswith(".wkb.csv"):  # the embedded sample's text form
        return _read_text_boundaries(path, {c.strip("'") for c in quoted.split(",")})
    try:
        shapes = pyogrio.read_dataframe(
            path, where=f"lsoa21_code IN ({quoted})", columns=["lsoa21_code"]
        )
    except (OSError, *_GDAL_ERRORS) as exc:
        raise DataError(
            f"{what}: {path} cannot be read as a GeoPackage with an lsoa21_code column ({exc}); "
            "it may be truncated or corrupt: download it again"
        ) from None
    if shapes.crs is None:
        raise DataError(f"{what}: {path} has no coordinate reference system; download it again")
    return shapes.set_index("lsoa21_code").to_crs(CRS)


#: The national boundary layer's coordinate reference system, kept by its text form.
BOUNDARY_CRS = "EPSG:4326"


def _read_text_boundaries(path: Path, codes: set[str]) -> gpd.GeoDataFrame:
    """Boundaries kept as text (lsoa21_code, wkb_base64, in the national layer's
    ``BOUNDARY_CRS``) for the given codes, in EPSG:27700."""
    table = read_csv(path, DATA_FILES["boundaries"], ["lsoa21_code", "wkb_base64"])
    table = table[table.lsoa21_code.isin(codes)]
    try:
        geometry = shapely.from_wkb([base64.b64decode(v) for v in table.wkb_base64])
    except (ValueError, shapely.errors.GEOSException) as exc:
        raise DataError(
            f"{path}: a boundary cannot be read ({exc}); run scripts/make_sample.py again"
        ) from None
    shapes = gpd.GeoDataFrame({"lsoa21_code": table.lsoa21_code.to_numpy()}, geometry=geometry)
    return shapes.set_crs(BOUNDARY_CRS).set_index("lsoa21_code").to_crs(CRS)


def _build_areas(districts: pd.DataFrame, data_dir: Path) -> gpd.GeoDataFrame:
    what = DATA_FILES["lsoa21_wards"]
    wards = read_csv(
        _file(data_dir, "lsoa21_wards"),
        what,
        ["lsoa21_code", "lsoa21_name", "ward24_code", "ward24_name", "ltla24_code", "ltla24_name"],
        only_columns=True,
    )
    wards = wards[wards.ltla24_code.isin(districts.district_code)]
    unique(wards, ["lsoa21_code"], what)
    unmatched = sorted(set(districts.district_code) - set(wards.ltla24_code))
    if unmatched:
        raise DataError(
            f"district(s) with no LSOA 2021 areas in {DATA_FILES['lsoa21_wards']}: "
            f"{', '.join(unmatched)}"
        )
    table = (
        wards.rename(
            columns={
                "lsoa21_code": "area_code",
                "lsoa21_name": "area_name",
                "ward24_code": "ward_code",
                "ward24_name": "ward_name",
                "ltla24_code": "district_code",
            }
        )
        .drop(columns=["ltla24_name"])
        .merge(districts, on="district_code", how="left", validate="many_to_one")
        .sort_values("area_code")
        .set_index("area_code", drop=False)
    )
    codes = table.index
    names = table["area_name"]
    problems: list[str] = []

    table["residents"] = _census_residents(data_dir, codes, names.to_dict())
    if table["residents"].isna().any():
        problems += _missing(codes[table["residents"].isna()], names, "Census 2021 residents")

    children = _children_2021(data_dir, codes, table["residents"])
    for col in CHILD_AGE_LIMITS:
        table[col] = children[col]
        if table[col].isna().any():
            problems += _missing(codes[table[col].isna()], names, f"mid-2020 {col}")

    what = DATA_FILES["imd2025"]
    imd = read_csv(
        _file(data_dir, "imd2025"),
        what,
        ["lsoa21_code", "IMD_score", "IMD_decile"],
        only_columns=True,
    )
    imd = imd[imd["lsoa21_code"].isin(codes)]
    unique(imd, ["lsoa21_code"], what, names=names.to_dict())
    imd["IMD_score"] = numbers(imd, "IMD_score", what, key="lsoa21_code", names=names.to_dict())
    imd["IMD_decile"] = numbers(
        imd,
        "IMD_decile",
        what,
        key="lsoa21_code",
        names=names.to_dict(),
        minimum=1,
        maximum=10,
        whole=True,
    )
    imd = imd.set_index("lsoa21_code")
    table["imd_score"] = imd["IMD_score"].reindex(codes)
    table["imd_decile"] = imd["IMD_decile"].reindex(codes)
    if table["imd_score"].isna().any():
        problems += _missing(codes[table["imd_score"].isna()], names, "IMD 2025 score")

    quoted = ",".join(f"'{c}'" for c in codes)
    shapes = _read_boundaries(_file(data_dir, "boundaries"), quoted)
    doubled = sorted(set(shapes.index[shapes.index.duplicated()]))
    if doubled:
        raise DataError(
            f"{DATA_FILES['boundaries']}: {len(doubled)} LSOA 2021 code(s) have more than one "
            "boundary: "
            + ", ".join(f"{c} ({names.get(c, '?')})" for c in doubled[:SHOWN])
            + "; keep one feature per code (or download the file again)"
        )
    missing_shapes = codes.difference(shapes.index)
    if len(missing_shapes):
        problems += _missing(missing_shapes, names, "LSOA 2021 boundary")
    if problems:
        raise DataError("the areas table does not join completely:", problems)

    table["imd_decile"] = table["imd_decile"].astype(int)
    geometry = shapes.geometry.reindex(codes).make_valid()
    areas = gpd.GeoDataFrame(
        table[AREA_COLUMNS].reset_index(drop=True), geometry=geometry.to_numpy(), crs=CRS
    )
    log.info(
        "areas: %d LSOAs in %d districts; %d residents, %.0f children 0-17; all joins 100%%",
        len(areas),
        areas.district_code.nunique(),
        areas.residents.sum(),
        areas.children_0_17.sum(),
    )
    return areas


def _read_cache(path: Path) -> gpd.GeoDataFrame | None:
    """The cached areas table, or None if there is none; a cache entry that cannot be read or
    lacks the table's columns (a truncated or foreign file) is removed, to be rebuilt."""
    if not path.is_file():
        return None
    try:
        areas = gpd.read_parquet(path)
        if list(areas.columns[: len(AREA_COLUMNS)]) != AREA_COLUMNS or areas.empty:
            raise ValueError("not an areas table")
    except Exception as exc:  # any unreadable cache entry is rebuilt, never fatal
        log.warning("cache entry %s is unreadable (%s); rebuilding it", path, exc)
        path.unlink(missing_ok=True)
        return None
    log.info("areas: %d LSOAs read from cache %s", len(areas), path.name)
    return areas


def _write_cache(areas: gpd.GeoDataFrame, path: Path) -> None:
    """Write the cache entry whole (through a temporary file); a cache that cannot be written
    costs only the rebuild next time, so it is a warning, not an error."""
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        areas.to_parquet(tmp)
        tmp.replace(path)
    except OSError as exc:
        log.warning(
            "cannot write the cache entry %s (%s); the table is rebuilt next time", path, exc
        )
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def load_areas(
    councils: list[str], data_dir: Path | str | None = None, use_cache: bool = True
) -> AreaData:
    """One table of LSOA 2021 areas for the given councils (cached by a hash of its inputs)."""
    root = resolve_data_dir(data_dir)
    districts = resolve_districts(councils, root)
    hashes = input_hashes(root)
    key_text = json.dumps(
        {"v": CACHE_VERSION, "districts": list(districts.district_code), "inputs": hashes},
        sort_keys=True,
    )
    key = hashlib.sha256(key_text.encode()).hexdigest()[:20]
    cached = cache_dir() / f"areas-{key}.parquet"
    areas = _read_cache(cached) if use_cache else None
    if areas is None:
        areas = _build_areas(districts, root)
        if use_cache:
            _write_cache(areas, cached)
    return AreaData(areas=areas, data_dir=root, input_hashes=hashes)


def read_current_plan(path: Path, areas: pd.DataFrame) -> pd.Series:
    """A current plan (CSV: area_code, team_id) as team labels aligned with the areas table."""
    what = "teams.current_plan_csv"
    table = read_csv(path, what, ["area_code", "team_id"], error=ConfigError)
    names = dict(zip(areas.area_code, areas.area_name, strict=True))
    table = table[table["area_code"] != ""].drop_duplicates(["area_code", "team_id"])
    unique(
        table,
        ["area_code"],
        f"{what}: {path} (an area in two teams)",
        names=names,
        error=ConfigError,
    )
    problems = []
    plan = table.set_index("area_code")["team_id"].replace("", np.nan)
    unknown = sorted(set(plan.index) - set(names))
    if unknown:
        problems.append(f"areas not in the scenario's councils: {', '.join(unknown[:10])}")
    missing = [c for c in areas.area_code if c not in plan.index or pd.isna(plan.get(c))]
    if missing:
        problems.append(
            _missing(pd.Index(missing), pd.Series(names), "team in the current plan")[0]
        )
    if problems:
        raise ConfigError(f"teams.current_plan_csv: {path} does not cover the areas:", problems)
    return plan.reindex(areas.area_code)


def read_locks(path, areas: pd.DataFrame) -> pd.Series:
    """``teams.fixed_areas_csv`` (area_code, team): a label per area code; unknown codes and an
    area under two labels are errors naming them."""
    what = "teams.fixed_areas_csv"
    table = read_csv(path, what, ["area_code", "team"], error=ConfigError)
    table = table[table["area_code"] != ""].drop_duplicates(["area_code", "team"])
    problems = []
    names = dict(zip(areas.area_code, areas.area_name, strict=True))
    unknown = sorted(set(table.area_code) - set(names))
    if unknown:
        problems.append(
            f"{len(unknown)} area code(s) are not among the scenario's areas: "
            + ", ".join(unknown[:10])
        )
    twice = table.area_code[table.area_code.duplicated()].unique()
    for code in twice[:10]:
        labels = sorted(table.team[table.area_code == code])
        problems.append(f"{code} ({names.get(code, '?')}) is under two labels: {', '.join(labels)}")
    empty = table.area_code[table.team.str.strip() == ""]
    if len(empty):
        problems.append(f"{len(empty)} row(s) have no team label: " + ", ".join(empty[:10]))
    if problems:
        raise ConfigError(f"{what}: {path}:", problems)
    return table.set_index("area_code")["team"]


# --------------------------------------------------------------------------- front door inputs


@dataclass(frozen=True)
class Referrals:
    """Referrals to children's social care in a reporting year (to 31 March), per council.

    ``table`` has one row per council code asked for: council_name and referrals (count).
    """

    year: int
    table: pd.DataFrame
    path: Path


def read_referrals(data_dir: Path, council_codes: list[str], year: int | None = None) -> Referrals:
    """Each council's referrals in a year from DfE table C1 (the latest year all councils publish
    if ``year`` is None). A year, council or count that is missing or suppressed is a DataError
    that says which, and that ``front_door.weekly_contacts`` can be given instead."""
    path = Path(data_dir) / REFERRALS_FILE
    if not path.is_file():
        raise DataError(
            f"missing data file {REFERRALS_FILE} (referrals) in {data_dir}; see "
            "shared/data/PROVENANCE.md section 5, or set front_door.weekly_contacts"
        )
    need = ["time_period", "geographic_level", "new_la_code", "la_name", "referral_count"]
    frame = read_csv(path, REFERRALS_FILE, need, only_columns=True)
    las = frame[frame["geographic_level"] == "Local authority"].copy()
    las["year"] = numbers(las, "time_period", REFERRALS_FILE, key="new_la_code", whole=True)
    las["referrals"] = numbers(
        las, "referral_count", REFERRALS_FILE, key="new_la_code", blank=SUPPRESSED
    )
    unique(las, ["time_period", "new_la_code"], REFERRALS_FILE)
    las = las.dropna(subset=["year"]).astype({"year": int})
    codes = sorted(set(council_codes))
    counted = las.dropna(subset=["referrals"])
    have = counted.groupby("year")["new_la_code"].apply(set)
    years = sorted(have.index)
    if year is None:
        complete = [y for y in years if set(codes) <= have[y]]
        if not complete:
            raise DataError(
                f"{REFERRALS_FILE}: no year in which every council ({', '.join(codes)}) "
                "publishes its referrals; set front_door.weekly_contacts instead"
            )
        year = max(complete)
    elif year not in years:
        raise DataError(
            f"front_door.referrals_year {year}: no referrals published for it in "
            f"{REFERRALS_FILE}; years available: {years[0]}-{years[-1]}"
        )
    rows = las[(las["year"] == year) & las["new_la_code"].isin(codes)]
    rows = rows.drop_duplicates("new_la_code").set_index("new_la_code")
    problems = []
    for code in codes:
        if code not in rows.index:
            problems.append(f"{code}: no row for {year} (is it an upper-tier council code?)")
        elif not np.isfinite(rows.at[code, "referrals"]) or rows.at[code, "referrals"] <= 0:
            problems.append(
                f"{code} ({rows.at[code, 'la_name']}): referrals for {year} are "
                f"'{rows.at[code, 'referral_count']}' (suppressed, missing or zero)"
            )
    if problems:
        raise DataError(
            f"{REFERRALS_FILE}: cannot estimate contacts from referrals; set "
            "front_door.weekly_contacts or another front_door.referrals_year:",
            problems,
        )
    table = pd.DataFrame(
        {
            "council_name": rows.loc[codes, "la_name"],
            "referrals": rows.loc[codes, "referrals"].astype(float),
        }
    )
    table.index.name = "council_code"
    log.info(
        "referrals %d: %s",
        year,
        ", ".join(f"{c} {r.referrals:,.0f}" for c, r in table.iterrows()),
    )
    return Referrals(year=year, table=table, path=path)


def read_arrivals_profile(path: Path, open_hours: list[int]) -> pd.Series:
    """A day's arrivals profile from CSV (columns ``hour``, ``share``): the share of a day's
    contacts arriving in each opening hour, indexed by clock hour. Every opening hour needs one
    row, and the shares must add up to 1; anything else is a ConfigError naming the hours."""
    from planning.config import SHARE_SUM_TOLERANCE

    setting = "front_door.arrivals_csv"
    what = f"{setting}: {path}"
    table = read_csv(path, setting, ["hour", "share"], error=ConfigError)
    hours = numbers(table, "hour", what, maximum=23, whole=True, error=ConfigError)
    shares = numbers(table, "share", what, key="hour", error=ConfigError)
    problems = []
    profile = pd.Series(shares.to_numpy(float), index=hours.astype(int).to_numpy())
    doubled = sorted(set(profile.index[profile.index.duplicated()]))
    missing = [h for h in open_hours if h not in profile.index]
    outside = sorted(set(profile.index) - set(open_hours))
    if doubled:
        problems.append(f"hour(s) listed twice: {', '.join(map(str, doubled))}")
    if missing:
        problems.append(
            "opening hour(s) with no share: "
            + ", ".join(f"{h:02d}:00" for h in missing)
            + " (give 0 for an hour with no contacts)"
        )
    if outside:
        problems.append(
            "hour(s) outside the opening hours "
            f"({open_hours[0]:02d}:00-{open_hours[-1] + 1:02d}:00): "
            + ", ".join(f"{h:02d}:00" for h in outside)
        )
    if not problems:
        total = float(profile.sum())
        if abs(total - 1) > SHARE_SUM_TOLERANCE:
            problems.append(f"shares must add up to 1; they add up to {total:g}")
    if problems:
        raise ConfigError(f"{setting}: {path} does not give the opening hours' arrivals:", problems)
    return profile.reindex(open_hours) / profile.sum()
