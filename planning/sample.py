"""The embedded sample: the rows of every input file that a scenario for the sample's councils
reads, cut from the full national files, every value unchanged, and kept as plain text so it can
be committed (``planning.data.text_form``).

Each CSV keeps its header and exactly the lines that concern the sample's areas (and, for the DfE
tables, the council's and England's rows), so every value is the national file's; a gzipped table
is kept without its gzip. Boundaries keep the sample's LSOA 2021 polygons exactly, as base64 WKB
in a CSV. ``scripts/make_sample.py`` writes the sample into ``data/sample/``, and a test
re-derives it from ``../shared/data`` and compares.
"""

from __future__ import annotations

import base64
import csv
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pyogrio

from planning.data import (
    BOUNDARY_CRS,
    DATA_FILES,
    RATE_FILES,
    REFERRALS_FILE,
    SAMPLE_COUNCILS,
    plain_bytes,
    resolve_districts,
    text_form,
)

BOUNDARY_LAYER = "boundaries_lsoa21"

Keep = Callable[[dict[str, str]], bool]


def read_text(path: Path) -> str:
    """A CSV's text (decompressed when it ends in .gz), with its line endings and any BOM."""
    return plain_bytes(path).decode("utf-8")


def filter_lines(text: str, keep: Keep) -> str:
    """The header and the lines whose row (a dict by column name) ``keep`` accepts, unchanged."""
    lines = text.splitlines(keepends=True)
    header = next(csv.reader([lines[0].lstrip("\ufeff")]))
    kept = [lines[0]]
    for line in lines[1:]:
        if keep(dict(zip(header, next(csv.reader([line])), strict=True))):
            kept.append(line)
    return "".join(kept)


def column_in(column: str, values: set[str]) -> Keep:
    """Keep rows whose ``column`` is one of ``values``."""
    return lambda row: row[column] in values


def sample_tables(source: Path, councils: tuple[str, ...] = SAMPLE_COUNCILS) -> dict[str, str]:
    """The sample's CSV text by path relative to the data directory (plain text, also for
    ``.csv.gz`` files), cut from the national files in ``source``."""
    districts = resolve_districts(list(councils), source)
    district_codes = set(districts.district_code)
    read = {rel: read_text(source / rel) for rel in _csv_files()}
    tables: dict[str, str] = {}
    tables[DATA_FILES["councils"]] = filter_lines(
        read[DATA_FILES["councils"]], column_in("LTLA23CD", district_codes)
    )
    wards = filter_lines(read[DATA_FILES["lsoa21_wards"]], column_in("ltla24_code", district_codes))
    tables[DATA_FILES["lsoa21_wards"]] = wards
    codes21 = _column(wards, "lsoa21_code")
    # a 2011 area's children are shared among all its 2021 parts, so keep every part
    changes = read[DATA_FILES["lsoa11_to_lsoa21"]]
    codes11 = _column(filter_lines(changes, column_in("lsoa21_code", codes21)), "lsoa11_code")
    changes = filter_lines(changes, column_in("lsoa11_code", codes11))
    tables[DATA_FILES["lsoa11_to_lsoa21"]] = changes
    parts21 = _column(changes, "lsoa21_code") | codes21
    tables[DATA_FILES["census21"]] = filter_lines(
        read[DATA_FILES["census21"]], column_in("lsoa21_code", parts21)
    )
    tables[DATA_FILES["population20"]] = filter_lines(
        read[DATA_FILES["population20"]], column_in("lsoa11_code", codes11)
    )
    tables[DATA_FILES["imd2025"]] = filter_lines(
        read[DATA_FILES["imd2025"]], column_in("lsoa21_code", codes21)
    )
    council_codes = set(districts.council_code)

    def dfe_row(row: dict[str, str]) -> bool:
        return row["geographic_level"] == "National" or row["new_la_code"] in council_codes

    for rel in _dfe_files():
        tables[rel] = filter_lines(read[rel], dfe_row)
    return dict(sorted(tables.items()))


def sample_boundaries(source: Path, codes: set[str]) -> gpd.GeoDataFrame:
    """The national boundary layer's rows for ``codes``, in code order, geometry unchanged."""
    quoted = ",".join(f"'{c}'" for c in sorted(codes))
    shapes = pyogrio.read_dataframe(
        source / DATA_FILES["boundaries"], layer=BOUNDARY_LAYER, where=f"lsoa21_code IN ({quoted})"
    )
    return shapes.sort_values("lsoa21_code").reset_index(drop=True)


def boundary_codes(tables: dict[str, str]) -> set[str]:
    """The LSOA 2021 codes whose boundaries the sample needs."""
    return _column(tables[DATA_FILES["lsoa21_wards"]], "lsoa21_code")


def boundary_text(shapes: gpd.GeoDataFrame) -> str:
    """Boundaries as the sample keeps them: ``lsoa21_code,wkb_base64`` in the national layer's
    ``BOUNDARY_CRS``, code order, each polygon's WKB unchanged."""
    if shapes.crs is None or shapes.crs != BOUNDARY_CRS:
        raise ValueError(f"the national boundaries are in {shapes.crs}, not {BOUNDARY_CRS}")
    rows = [
        f"{code},{base64.b64encode(wkb).decode('ascii')}\n"
        for code, wkb in zip(shapes.lsoa21_code, shapes.geometry.to_wkb(), strict=True)
    ]
    return "lsoa21_code,wkb_base64\n" + "".join(rows)


def write_sample(
    source: Path, dest: Path, councils: tuple[str, ...] = SAMPLE_COUNCILS
) -> list[Path]:
    """Write the sample cut from ``source`` into ``dest``, every file as plain text
    (``text_form``); returns the files written."""
    tables = sample_tables(source, councils)
    tables[DATA_FILES["boundaries"]] = boundary_text(
        sample_boundaries(source, boundary_codes(tables))
    )
    written = []
    for rel, text in sorted(tables.items()):
        path = dest / text_form(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in {dest / rel} - {path}:  # a binary form left by an earlier version
            stale.unlink(missing_ok=True)
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written


def _csv_files() -> list[str]:
    return sorted({rel for rel in DATA_FILES.values() if ".csv" in rel} | set(_dfe_files()))


def _dfe_files() -> list[str]:
    return sorted({*RATE_FILES.values(), REFERRALS_FILE})


def _column(text: str, column: str) -> set[str]:
    rows = csv.DictReader(text.lstrip("\ufeff").splitlines())
    return {row[column] for row in rows}
