"""``planning data fetch``: download the national files the planner reads from their publishers.

Every file has a source URL (at a pinned commit of the publisher's repository) and the pinned size
and SHA-256 of what that URL serves. The DfE tables are served as the planner reads them; the
ONS and MHCLG tables and boundaries are served as R data (``.rda``) and converted here (with
pyreadr and rdata, the ``fetch`` extra) into the CSV, gzipped CSV or GeoPackage the planner reads,
whose content is then checked against a pinned digest. A file already present and valid is
skipped; any other is downloaded to a temporary file beside its target, checked, converted,
checked again and only then renamed into place, so a failed or interrupted fetch leaves no
partial file and the next fetch resumes with the files still missing.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely

from planning.data import (
    DATA_FILES,
    RATE_FILES,
    REFERRALS_FILE,
    file_sha256,
    fixed_gpkg_time,
    packed_bytes,
    plain_bytes,
)
from planning.errors import FetchError

#: The host every source URL below starts with; ``base_url`` replaces it (a mirror, a test server).
PUBLISHER_HOST = "https://raw.githubusercontent.com"
DFE = (
    f"{PUBLISHER_HOST}/dfe-analytical-services/CSC_outcomes_and_enablers/"
    "2f5d11a431050523dab58810083259d3313029ae/data-raw/"
)
GEOGRAPHR = f"{PUBLISHER_HOST}/humaniverse/geographr/c026be5cc76cb576358082b53f1f13d69ab577ae/data/"
IMD = f"{PUBLISHER_HOST}/humaniverse/IMD/2f6c9050afee99a40041eb63b02b6b0c58850704/data/"
DEMOGRAPHR = (
    f"{PUBLISHER_HOST}/humaniverse/demographr/d0417101e5cad5fe1eca059ac60859e9157a29d2/data/"
)
CENSUS = f"{PUBLISHER_HOST}/cwthom/hack25usefuldata/ac00fc579549da8d5c48a4736b5b4162fcaebb32/data/"
CHUNK = 1 << 20
TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Source:
    """Where a file comes from: ``url`` serves ``size`` bytes with SHA-256 ``sha256``. When that
    is R data, ``rda_object`` names the object converted into the file, and ``content_sha256``
    pins the converted file's ``content_digest``; otherwise the download is the file itself."""

    url: str
    size: int
    sha256: str
    rda_object: str | None = None
    content_sha256: str | None = None


#: Every file the planner reads, by path relative to the data directory.
SOURCES: dict[str, Source] = {
    DATA_FILES["councils"]: Source(
        DFE + "LTLA-UTLA_Apr23_Lookup_England-Wales.csv",
        16_233,
        "63d04f464198ccf80f5b0c255ce689ad222d827d2db2d0e07902145b21ec201e",
    ),
    RATE_FILES["children_in_need"]: Source(
        DFE + "b1_children_in_need_2013_to_2025.csv",
        334_495,
        "fc065f5eb33a97fcbf3b2df6a7a55e15dbf645ce9739ef0128776461602179ad",
    ),
    REFERRALS_FILE: Source(
        DFE + "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv",
        369_233,
        "e548b10b4e2de4e8845c35eae274f6280636f5ff262f8189cbe62c320591f75d",
    ),
    RATE_FILES["looked_after"]: Source(
        DFE + "cla_number_and_rate_per_10k_children.csv",
        402_416,
        "8228ce8c6f55fb1ee59b65988dad56c79ea7703c03eedd5c0f8af5997d6686ce",
    ),
    RATE_FILES["workforce"]: Source(
        DFE + "csww_indicators_2017_to_2025.csv",
        288_726,
        "9e058bac193cc5b03f0d21ebe4259c8935d236dbf59f09d90b3e0916bfbca95f",
    ),
    RATE_FILES["child_protection"]: Source(
        DFE + "d5_cpps_at31march_by_duration_2013_to_2025.csv",
        390_736,
        "b203854c252fc055df1dc05d649de63c2f18c0246b1bd2282c2f3632530f296d",
    ),
    RATE_FILES["population"]: Source(
        DFE + "ons_mid-year_population_estimates_2012_to_2024.csv",
        289_348,
        "bd6420a0edd97dc2bfb25e70955399778a460483d5c417032b8fcb92230bfaa3",
    ),
    DATA_FILES["boundaries"]: Source(
        GEOGRAPHR + "boundaries_lsoa21.rda",
        3_871_565,
        "dcd37a9b2e3432ae52901d61fc98f24125b03b200c704bc6826b9be2eefdf2b8",
        "boundaries_lsoa21",
        "1343d550dd947115e3caba8a50f074de2edb633e638979b2a9900cdaafa4fcf1",
    ),
    DATA_FILES["lsoa21_wards"]: Source(
        GEOGRAPHR + "lookup_lsoa21_ward24_ltla24.rda",
        322_107,
        "eeb254bcb3f4a893de6cdbeb44759dbd7db90839dbd4c189fd056aba0d96e797",
        "lookup_lsoa21_ward24_ltla24",
        "f6e5e7faaf254e28b36747247524928dbc5023259653ace095a704203382b8ae",
    ),
    DATA_FILES["lsoa11_to_lsoa21"]: Source(
        GEOGRAPHR + "lookup_lsoa11_lsoa21_ltla22.rda",
        333_782,
        "8d854ccb346eb66bbf86a0aa46b4f7663b0be0f63a19eff27f1b2ab37c0eebca",
        "lookup_lsoa11_lsoa21_ltla22",
        "ddc782616aab916dc373169ff6d87bf3763c1c6fcb06068902f6de9bd3a02725",
    ),
    DATA_FILES["imd2025"]: Source(
        IMD + "imd2025_england_lsoa21.rda",
        1_269_782,
        "933d81ab33962cc6fc1c286e4015ac0459e8ac1ad1832759647275d351f33202",
        "imd2025_england_lsoa21",
        "0285254d11e0a0bed62b265cba31a5e9ecce1146dc2e1b011455775c23432177",
    ),
    DATA_FILES["census21"]: Source(
        CENSUS + "census21_pop.rda",
        594_027,
        "1ba7975ff08cff194bffd0cf4710c2ca574e83a77b3b1f16aa9126d85f8b0138",
        "census21_pop",
        "5e387234d3d2d6502008cfd9c11d49ac67943f3826f92813e5c625fd32feb957",
    ),
    DATA_FILES["population20"]: Source(
        DEMOGRAPHR + "population20_lsoa11.rda",
        2_337_209,
        "2512f4394fc796438b5a3863cd7e741175593918e97900892ee07c34d77d0bc6",
        "population20_lsoa11",
        "499f3c8ff27966a4bad39ae1bcb13518bd119b16e7cdc0061fdb92636b481a7d",
    ),
}


@dataclass(frozen=True)
class Fetched:
    """What fetch did with one file: ``present`` (already valid), ``downloaded`` or
    ``converted`` (downloaded as R data and converted)."""

    path: str
    status: str
    url: str


def source_url(source: Source, base_url: str | None = None) -> str:
    """The source's URL, on ``base_url`` instead of the publisher's host when one is given."""
    if not base_url:
        return source.url
    return base_url.rstrip("/") + source.url.removeprefix(PUBLISHER_HOST)


def content_digest(path: Path) -> str:
    """SHA-256 of what a file holds, however it was written: its bytes (decompressed for .gz);
    for a GeoPackage, its layer's column names, values and geometries (WKB) in row order."""
    if path.suffix != ".gpkg":
        return hashlib.sha256(plain_bytes(path)).hexdigest()
    frame = pyogrio.read_dataframe(path)
    digest = hashlib.sha256()
    for column in frame.columns.drop(frame.geometry.name):
        digest.update(f"{column}\0".encode())
        digest.update("\0".join(frame[column].astype(str)).encode())
    digest.update(b"".join(shapely.to_wkb(frame.geometry.to_numpy(), byte_order=1)))
    return digest.hexdigest()


def is_valid(path: Path, source: Source) -> bool:
    """True when ``path`` holds the file pinned by ``source``."""
    if not path.is_file():
        return False
    if source.rda_object is not None:
        return content_digest(path) == source.content_sha256
    return path.stat().st_size == source.size and file_sha256(path) == source.sha256


def download(url: str, path: Path, source: Source, rel: str) -> None:
    """Download ``url`` into ``path``, checking its size and SHA-256 (FetchError if wrong)."""
    digest, size = hashlib.sha256(), 0
    try:
        with (
            urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response,
            path.open("wb") as out,
        ):
            for block in iter(lambda: response.read(CHUNK), b""):
                digest.update(block)
                size += len(block)
                out.write(block)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise FetchError(
            f"{rel}: could not download {url}: HTTP {exc.code} {exc.reason}. Nothing was "
            "written; check the URL (or --base-url) and fetch again."
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise FetchError(
            f"{rel}: could not download {url}: {reason}. Nothing was written; fetch again to "
            "resume (files already fetched are kept)."
        ) from None
    if size != source.size:
        raise FetchError(
            f"{rel}: {url} served {size:,} bytes; expected {source.size:,}. Nothing was "
            "written; fetch again, or check the publisher has not changed the file."
        )
    if digest.hexdigest() != source.sha256:
        raise FetchError(
            f"{rel}: {url} served a file whose SHA-256 is {digest.hexdigest()}; expected "
            f"{source.sha256}. Nothing was written; the publisher may have changed the file."
        )


def rda_boundaries(path: Path, name: str) -> gpd.GeoDataFrame:
    """The sf object ``name`` in an R data file (or a named list of the same columns) as a
    GeoDataFrame (EPSG:4326): its columns, and its geometry column's polygons (lists of rings,
    each an n x 2 matrix) as shapes."""
    import rdata

    with warnings.catch_warnings():  # sf's classes have no Python constructor: lists are enough
        warnings.filterwarnings("ignore", message="Missing constructor for R class")
        table = rdata.read_rda(path)[name]
    columns = {str(c): table[c] for c in table if str(c) != "geometry"}
    shapes = [
        shapely.MultiPolygon([(rings[0], rings[1:]) for rings in polygons])
        for polygons in list(table["geometry"])
    ]
    return gpd.GeoDataFrame(
        {c: list(values) for c, values in columns.items()}, geometry=shapes, crs="EPSG:4326"
    )


def rda_csv(path: Path, name: str) -> bytes:
    """The data frame ``name`` in an R data file as CSV (no row names)."""
    import pyreadr

    return pyreadr.read_r(path)[name].to_csv(index=False).encode("utf-8")


def convert(rda: Path, out: Path, name: str, rel: str) -> None:
    """Write the R object ``name`` from ``rda`` to ``out`` in the format ``rel`` names."""
    try:
        if rel.endswith(".gpkg"):
            with fixed_gpkg_time():
                pyogrio.write_dataframe(rda_boundaries(rda, name), out, layer=name, driver="GPKG")
        else:
            out.write_bytes(packed_bytes(rel, rda_csv(rda, name)))
    except ImportError as exc:
        raise FetchError(
            f"{rel}: converting R data needs {exc.name}: pip install 'planning[fetch]'"
        ) from None
    except (KeyError, ValueError, TypeError) as exc:
        raise FetchError(f"{rel}: cannot convert R object {name!r}: {exc}") from None


def fetch_file(rel: str, source: Source, dest: Path, url: str) -> str:
    """Download (and convert) one file into ``dest`` through temporary files beside it, renamed
    into place only once checked; returns ``downloaded`` or ``converted``."""
    target = dest / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".part{os.getpid()}-{target.name}")  # keeps the extension
    raw = part if source.rda_object is None else part.with_name(part.name + ".rda")
    try:
        download(url, raw, source, rel)
        if source.rda_object is not None:
            convert(raw, part, source.rda_object, rel)
            if content_digest(part) != source.content_sha256:
                raise FetchError(
                    f"{rel}: R object {source.rda_object!r} from {url} converts to different "
                    "content than pinned; nothing was written."
                )
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)
        raw.unlink(missing_ok=True)
    return "downloaded" if source.rda_object is None else "converted"


def fetch_data(
    dest: Path,
    base_url: str | None = None,
    sources: dict[str, Source] | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> list[Fetched]:
    """Bring every source file into ``dest``: skip valid ones, fetch the others. Stops at the
    first failure (FetchError naming the file and URL); the files fetched before it are kept."""
    sources = SOURCES if sources is None else sources
    done: list[Fetched] = []
    for k, (rel, source) in enumerate(sorted(sources.items()), start=1):
        step = f"[{k}/{len(sources)}] {rel}"
        url = source_url(source, base_url)
        if is_valid(dest / rel, source):
            status = "present"
        else:
            progress(f"{step}: downloading {source.size:,} bytes from {url}")
            status = fetch_file(rel, source, dest, url)
        progress(f"{step}: {status}")
        done.append(Fetched(rel, status, url))
    return done
