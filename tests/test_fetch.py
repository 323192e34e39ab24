"""``planning data fetch`` offline: a local HTTP server lays files out at their publishers' URL
paths, and the fetch is pointed at it with --base-url. No network, no mocks: the DfE tables are
the real national files; the R data files are made from the embedded sample (the real .rda files
are not in ../shared/data), so the conversion is checked against the sample's own content."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

from planning.cli import main
from planning.data import (
    DATA_FILES,
    SAMPLE_DIR,
    file_sha256,
    fixed_gpkg_time,
    load_areas,
    packed_bytes,
    planner_files,
)
from planning.errors import FetchError
from planning.fetch import PUBLISHER_HOST, SOURCES, Source, content_digest, fetch_data
from planning.sample import (
    BOUNDARY_LAYER,
    boundary_codes,
    read_text,
    sample_boundaries,
    sample_tables,
)

DIRECT = sorted(rel for rel, s in SOURCES.items() if s.rda_object is None)
CONVERTED = sorted(rel for rel, s in SOURCES.items() if s.rda_object is not None)


def url_path(source: Source) -> str:
    return source.url.removeprefix(PUBLISHER_HOST + "/")


class Publisher:
    """A local HTTP server over ``root``; ``requests`` lists the paths asked for."""

    def __init__(self, root: Path) -> None:
        self.root, self.requests = root, []
        requests = self.requests

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, format, *args) -> None:
                requests.append(self.path)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def served(self, rel: str) -> Path:
        return self.root / url_path(SOURCES[rel])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def lay_out(root: Path, files: dict[str, Path | bytes]) -> None:
    """Put each file (a path to copy, or bytes) at its URL path under ``root``."""
    for rel, content in files.items():
        served = root / url_path(SOURCES[rel])
        served.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, served)
        else:
            served.write_bytes(content)


@pytest.fixture
def publisher(tmp_path, data_dir):
    """The publishers' direct downloads: the real national DfE files."""
    lay_out(tmp_path / "publisher", {rel: data_dir / rel for rel in DIRECT})
    server = Publisher(tmp_path / "publisher")
    yield server
    server.close()


@pytest.fixture
def dest(tmp_path, data_dir) -> Path:
    """A data dir that already holds the converted files (as after a first fetch)."""
    folder = tmp_path / "data"
    for rel in CONVERTED:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_dir / rel, folder / rel)
    return folder


def fetch(dest: Path, base_url: str) -> int:
    return main(["data", "fetch", "--to", str(dest), "--base-url", base_url])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".part*"))


def test_sources_pin_every_file_the_planner_reads(data_dir):
    assert sorted(SOURCES) == planner_files()
    for rel, source in SOURCES.items():
        assert source.url.startswith(PUBLISHER_HOST + "/"), rel
        if source.rda_object is None:
            assert (data_dir / rel).stat().st_size == source.size, rel
            assert file_sha256(data_dir / rel) == source.sha256, rel
        else:
            assert source.url.endswith(f"/{source.rda_object}.rda"), rel
            assert content_digest(data_dir / rel) == source.content_sha256, rel


def test_fetch_downloads_checks_and_then_skips(publisher, dest, data_dir, capsys):
    assert fetch(dest, publisher.url) == 0
    for rel in planner_files():
        assert file_sha256(dest / rel) == file_sha256(data_dir / rel), rel
    assert len(publisher.requests) == len(DIRECT)
    captured = capsys.readouterr()
    assert f"{len(DIRECT)} downloaded, 0 downloaded as R data" in captured.out
    assert f"{len(CONVERTED)} already present" in captured.out
    assert f"[1/{len(SOURCES)}]" in captured.err  # progress, one line per file
    assert leftovers(dest) == []
    assert fetch(dest, publisher.url) == 0  # a second fetch finds everything valid
    assert len(publisher.requests) == len(DIRECT)
    assert f"{len(SOURCES)} already present" in capsys.readouterr().out


def test_fetch_replaces_a_damaged_file(publisher, dest, data_dir):
    rel = DIRECT[0]
    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
    (dest / rel).write_bytes((data_dir / rel).read_bytes()[:1000])  # an interrupted copy
    assert fetch(dest, publisher.url) == 0
    assert file_sha256(dest / rel) == SOURCES[rel].sha256


def test_wrong_checksum_names_file_and_url_and_writes_nothing(publisher, dest, capsys):
    rel = DIRECT[-1]
    served = publisher.served(rel)
    data = bytearray(served.read_bytes())
    data[100] ^= 1  # same size, one bit changed
    served.write_bytes(bytes(data))
    assert fetch(dest, publisher.url) == 1
    err = capsys.readouterr().err
    assert f"{rel}: {publisher.url}/{url_path(SOURCES[rel])}" in err
    assert "SHA-256" in err and SOURCES[rel].sha256 in err
    assert not (dest / rel).exists() and leftovers(dest) == []
    assert all((dest / r).is_file() for r in DIRECT[:-1])  # the files before it are kept


def test_missing_file_on_the_server_names_file_and_url(publisher, dest, capsys):
    rel = DIRECT[0]
    publisher.served(rel).unlink()
    assert fetch(dest, publisher.url) == 1
    err = capsys.readouterr().err
    assert f"{rel}: could not download {publisher.url}/" in err and "HTTP 404" in err
    assert not (dest / rel).exists() and leftovers(dest) == []


# --------------------------------------------------------------------------- R data


@pytest.fixture(scope="module")
def national(tmp_path_factory, data_dir) -> Path:
    """The sample's files in their national form (gzipped tables, the GeoPackage), cut from the
    national data as the sample is: what the publishers serve, for Hampshire."""
    root = tmp_path_factory.mktemp("national-sample")
    tables = sample_tables(data_dir)
    for rel, text in tables.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(packed_bytes(rel, text.encode("utf-8")))
    rel = DATA_FILES["boundaries"]
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    with fixed_gpkg_time():
        pyogrio.write_dataframe(
            sample_boundaries(data_dir, boundary_codes(tables)), root / rel, layer=BOUNDARY_LAYER
        )
    return root


def sample_rda(rel: str, path: Path, root: Path) -> None:
    """Write the file ``rel`` of ``root`` as the R data its publisher serves."""
    name = SOURCES[rel].rda_object
    if rel.endswith(".gpkg"):
        import rdata

        shapes = pyogrio.read_dataframe(root / rel)
        rings = [
            [
                [np.asarray(p.exterior.coords), *(np.asarray(r.coords) for r in p.interiors)]
                for p in shape.geoms
            ]
            for shape in shapes.geometry
        ]
        columns = {c: shapes[c].to_numpy(str) for c in shapes.columns.drop("geometry")}
        rdata.write_rda(path, {name: {**columns, "geometry": rings}})  # an sf-like named list
    else:
        import pyreadr

        table = pd.read_csv(io.StringIO(read_text(root / rel)))
        pyreadr.write_rdata(str(path), table, df_name=name, compress="gzip")


@pytest.fixture
def sample_publisher(tmp_path, national):
    """Every source laid out as its publisher serves it, made from the sample; returns the
    server and sources pinned to what it serves."""
    made = tmp_path / "rda"
    made.mkdir()
    files: dict[str, Path | bytes] = {}
    sources = {}
    for rel, source in SOURCES.items():
        path = national / rel
        if source.rda_object is not None:
            path = made / f"{source.rda_object}.rda"
            sample_rda(rel, path, national)
        files[rel] = path
        sources[rel] = dataclasses.replace(
            source,
            size=path.stat().st_size,
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            content_sha256=content_digest(national / rel) if source.rda_object else None,
        )
    lay_out(tmp_path / "publisher", files)
    server = Publisher(tmp_path / "publisher")
    yield server, sources
    server.close()


def test_fetch_converts_r_data_into_the_files_the_planner_reads(
    sample_publisher, tmp_path, national
):
    server, sources = sample_publisher
    target = tmp_path / "fetched"
    lines: list[str] = []
    done = fetch_data(target, server.url, sources, lines.append)
    assert {f.path: f.status for f in done} == {
        rel: "downloaded" if rel in DIRECT else "converted" for rel in SOURCES
    }
    assert any("downloading" in line for line in lines)
    for rel in DIRECT:
        assert (target / rel).read_bytes() == (national / rel).read_bytes(), rel
    for rel in CONVERTED:
        assert content_digest(target / rel) == content_digest(national / rel), rel
    assert leftovers(target) == []
    fetched = load_areas(["E10000014"], target, use_cache=False).areas
    sample = load_areas(["E10000014"], SAMPLE_DIR, use_cache=False).areas
    assert fetched.drop(columns="geometry").equals(sample.drop(columns="geometry"))
    assert fetched.geometry.geom_equals_exact(sample.geometry, 0).all()
    again = fetch_data(target, server.url, sources)
    assert {f.status for f in again} == {"present"}


def test_conversion_that_does_not_match_names_file_and_url(sample_publisher, tmp_path):
    server, sources = sample_publisher
    rel = CONVERTED[-1]
    sources[rel] = dataclasses.replace(sources[rel], content_sha256="0" * 64)
    target = tmp_path / "fetched"
    with pytest.raises(FetchError) as err:
        fetch_data(target, server.url, {rel: sources[rel]})
    assert rel in str(err.value) and f"{server.url}/{url_path(SOURCES[rel])}" in str(err.value)
    assert not (target / rel).exists() and leftovers(target) == []
