"""``planning data fetch`` offline: a local HTTP server lays the real files out as their
publishers serve them, and the fetch is pointed at it with --base-url. No network, no mocks."""

from __future__ import annotations

import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from planning.cli import main
from planning.data import file_sha256, planner_files
from planning.fetch import PUBLISHER_HOST, SOURCES

DIRECT = sorted(rel for rel, s in SOURCES.items() if s.convert is None)
CONVERTED = sorted(rel for rel, s in SOURCES.items() if s.convert is not None)


class Publisher:
    """A local server holding the direct-download files at their publishers' URL paths."""

    def __init__(self, root: Path, data_dir: Path) -> None:
        self.root, self.requests = root, []
        for rel in DIRECT:
            served = self.served(rel)
            served.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data_dir / rel, served)
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
        return self.root / SOURCES[rel].url.removeprefix(PUBLISHER_HOST + "/")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def publisher(tmp_path, data_dir):
    server = Publisher(tmp_path / "publisher", data_dir)
    yield server
    server.close()


@pytest.fixture
def dest(tmp_path, data_dir) -> Path:
    """A data dir that already holds the files made by conversion (as after a first fetch)."""
    folder = tmp_path / "data"
    for rel in CONVERTED:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_dir / rel, folder / rel)
    return folder


def fetch(dest: Path, base_url: str) -> int:
    return main(["data", "fetch", "--to", str(dest), "--base-url", base_url])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*part*"))


def test_sources_pin_every_file_the_planner_reads(data_dir):
    assert sorted(SOURCES) == planner_files()
    for rel, source in SOURCES.items():
        assert (data_dir / rel).stat().st_size == source.size, rel
        assert file_sha256(data_dir / rel) == source.sha256, rel
        assert source.url.startswith(PUBLISHER_HOST + "/"), rel


def test_fetch_downloads_checks_and_then_skips(publisher, dest, data_dir, capsys):
    assert fetch(dest, publisher.url) == 0
    for rel in planner_files():
        assert file_sha256(dest / rel) == file_sha256(data_dir / rel), rel
    assert len(publisher.requests) == len(DIRECT)
    captured = capsys.readouterr()
    assert f"{len(DIRECT)} downloaded, {len(CONVERTED)} already present" in captured.out
    assert f"[1/{len(SOURCES)}]" in captured.err  # progress, one line per file
    assert leftovers(dest) == []
    assert fetch(dest, publisher.url) == 0  # a second fetch finds everything valid
    assert len(publisher.requests) == len(DIRECT)
    assert f"0 downloaded, {len(SOURCES)} already present" in capsys.readouterr().out


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
    assert f"{rel}: {publisher.url}/{served.relative_to(publisher.root)}" in err
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


def test_files_needing_conversion_are_listed_after_the_rest(publisher, tmp_path, capsys):
    empty = tmp_path / "empty"
    assert fetch(empty, publisher.url) == 1
    err = capsys.readouterr().err
    assert f"{len(DIRECT)} of {len(SOURCES)} files are in {empty}" in err
    for rel in CONVERTED:
        assert f"  - {rel}: R data" in err and SOURCES[rel].url.removeprefix(PUBLISHER_HOST) in err
        assert not (empty / rel).exists()
    assert all(file_sha256(empty / rel) == SOURCES[rel].sha256 for rel in DIRECT)
