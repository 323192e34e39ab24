"""``planning data fetch``: download the national files the planner reads from their publishers.

Every file has a source URL and a pinned size and SHA-256 (of the file as the planner reads it,
the same hashes every run's manifest records). A file already present and valid is skipped; any
other is downloaded to a temporary file beside its target, checked, and only then renamed into
place, so an interrupted or failed fetch leaves no partial file and a second fetch resumes with
the files still missing. Files that the publisher serves only as R data (``.rda``) must be
converted before the planner can read them; those are listed with their source when absent.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from planning.data import DATA_FILES, RATE_FILES, REFERRALS_FILE, file_sha256
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
    """Where a file comes from and what it must be (``size`` and ``sha256`` of the file as the
    planner reads it). ``convert`` is None when the URL serves that file byte for byte, else
    says how the file is made from what the URL serves (R data)."""

    url: str
    size: int
    sha256: str
    convert: str | None = None


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
        13_025_280,
        "a9a45552f667d0ec367bfdbfdba25b35bb35c340026c075dd746f18148f6fa0e",
        "R data (sf object boundaries_lsoa21) -> GeoPackage layer boundaries_lsoa21",
    ),
    DATA_FILES["lsoa21_wards"]: Source(
        GEOGRAPHR + "lookup_lsoa21_ward24_ltla24.rda",
        2_639_071,
        "f6e5e7faaf254e28b36747247524928dbc5023259653ace095a704203382b8ae",
        "R data -> CSV",
    ),
    DATA_FILES["lsoa11_to_lsoa21"]: Source(
        GEOGRAPHR + "lookup_lsoa11_lsoa21_ltla22.rda",
        2_769_660,
        "ddc782616aab916dc373169ff6d87bf3763c1c6fcb06068902f6de9bd3a02725",
        "R data -> CSV",
    ),
    DATA_FILES["imd2025"]: Source(
        IMD + "imd2025_england_lsoa21.rda",
        1_836_704,
        "9fbc3379242b10e377c20e3a0a5c9f2e4252f78230e80a6368a0825874a4ec5e",
        "R data -> gzipped CSV",
    ),
    DATA_FILES["census21"]: Source(
        CENSUS + "census21_pop.rda",
        1_136_955,
        "b21d899c1d388c85e1da14d4b3fee7c49477b5881c7b255020ca9654a50af65c",
        "R data -> gzipped CSV",
    ),
    DATA_FILES["population20"]: Source(
        DEMOGRAPHR + "population20_lsoa11.rda",
        3_165_484,
        "6583e1f9df24317454b85dbc1fca03b4f24c21287b1e95519a04b1cc53effc05",
        "R data -> gzipped CSV",
    ),
}


@dataclass(frozen=True)
class Fetched:
    """What fetch did with one file: ``present`` (already valid), ``downloaded`` or
    ``needs conversion`` (absent, and its publisher serves it only as R data)."""

    path: str
    status: str
    url: str


def source_url(source: Source, base_url: str | None = None) -> str:
    """The source's URL, on ``base_url`` instead of the publisher's host when one is given."""
    if not base_url:
        return source.url
    return base_url.rstrip("/") + source.url.removeprefix(PUBLISHER_HOST)


def is_valid(path: Path, source: Source) -> bool:
    """True when ``path`` exists with the pinned size and SHA-256."""
    return (
        path.is_file() and path.stat().st_size == source.size and file_sha256(path) == source.sha256
    )


def download(url: str, target: Path, source: Source, rel: str) -> None:
    """Download ``url`` into ``target`` through a temporary file, checking size and SHA-256;
    on any failure nothing is left at ``target`` or beside it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part{os.getpid()}")
    digest, size = hashlib.sha256(), 0
    try:
        with (
            urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response,
            tmp.open("wb") as out,
        ):
            for block in iter(lambda: response.read(CHUNK), b""):
                digest.update(block)
                size += len(block)
                out.write(block)
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
        tmp.replace(target)
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
    finally:
        tmp.unlink(missing_ok=True)


def fetch_data(
    dest: Path,
    base_url: str | None = None,
    sources: dict[str, Source] | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> list[Fetched]:
    """Bring every source file into ``dest``: skip valid ones, download the others. Files that
    need converting from R data and are absent are reported (FetchError) after the rest."""
    sources = SOURCES if sources is None else sources
    done: list[Fetched] = []
    for k, (rel, source) in enumerate(sorted(sources.items()), start=1):
        target, url = dest / rel, source_url(source, base_url)
        if is_valid(target, source):
            status = "present"
        elif source.convert is not None:
            status = "needs conversion"
        else:
            progress(f"[{k}/{len(sources)}] {rel}: downloading {source.size:,} bytes from {url}")
            download(url, target, source, rel)
            status = "downloaded"
        progress(f"[{k}/{len(sources)}] {rel}: {status}")
        done.append(Fetched(rel, status, url))
    todo = [f for f in done if f.status == "needs conversion"]
    if todo:
        raise FetchError(
            f"{len(done) - len(todo)} of {len(done)} files are in {dest}; {len(todo)} more are "
            "served only as R data and must be converted (see data/README.md, 'Data: sample "
            "and fetch'), then fetch again to check them:",
            [f"{f.path}: {sources[f.path].convert}, from {f.url}" for f in todo],
        )
    return done
