"""Fuzz (issue 14): damaged scenarios and tables give a planning error (exit 2) or succeed.

Hypothesis generates scenario settings from the schema's own fields and damages them, mutates the
text of a shipped scenario, writes malformed CSV tables for every user file, and damages a
national lookup in a data folder of symlinks to the real files. For every case
the planner must succeed or raise a planning error whose message names the field or file (and
``planning run`` of a scenario that does not load exits 2, leaving no output or staging folder);
any other exception (a traceback) fails the test. The profile is fixed (derandomized, few examples),
so the file runs the same way everywhere in well under a minute.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_hubs import line_areas, three_sites

from planning.config import load_raw, load_scenario
from planning.data import read_arrivals_profile, read_current_plan
from planning.errors import ConfigError, PlanningError
from planning.hubs import check_hub_inputs

ROOT = Path(__file__).resolve().parent.parent
BASE_FILE = ROOT / "scenarios" / "sefton.yaml"
BASE = load_raw(BASE_FILE)
FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --------------------------------------------------------------------------- scenarios


def _leaves(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a leaf value (and to every mapping and list) in a scenario mapping."""
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _leaves(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            paths += _leaves(item, (*prefix, i))
    return paths


def _schema_paths() -> list[tuple]:
    """Paths into the Sefton scenario plus every section's settings at their defaults."""
    from planning.config import Scenario

    full = Scenario.model_validate({**BASE, "front_door": {}}).model_dump(mode="json")
    return sorted(set(_leaves(BASE)) | set(_leaves(full)), key=str)


PATHS = _schema_paths()
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**9), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["50k", "1,000", "25e6", "n/a", "E08000014", "E01006512", "-1", "0", ""]),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=3)), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(-3, 3), max_size=2),
)


def _set(raw: dict, path: tuple, value: Any) -> None:
    node: Any = raw
    for part in path[:-1]:
        if isinstance(node, list):
            if not isinstance(part, int) or part >= len(node):
                return
        elif not isinstance(node.get(part), dict | list):
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict | list):
            return
    if isinstance(node, list):
        if isinstance(path[-1], int) and path[-1] < len(node):
            node[path[-1]] = value
    else:
        node[path[-1]] = value


def _section(path: tuple) -> str:
    return str(path[0])


def _run_refused(path: Path) -> None:
    """``planning run`` of a scenario that does not load: exit 2 with a message, and no output,
    staging folder or lock left beside the scenario."""
    from planning.cli import main

    before = sorted(p.name for p in path.parent.iterdir())
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["run", str(path), "--out", str(path.parent / "out")])
    assert code == 2 and err.getvalue().startswith("error: "), err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert sorted(p.name for p in path.parent.iterdir()) == before


def _expect_config_error_naming(run, sections: list[str], path: Path) -> None:
    try:
        run()
        event("valid")
    except ConfigError as exc:
        event("ConfigError")
        text = str(exc)
        assert exc.exit_code == 2
        assert str(path) in text or path.name in text, text
        assert any(s in text for s in sections), (sections, text)
        _run_refused(path)


@FUZZ
@given(
    changes=st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=3),
    unknown=st.booleans(),
)
def test_damaged_settings_give_a_config_error_naming_the_setting(changes, unknown):
    raw = copy.deepcopy(BASE)
    for path, value in changes:
        _set(raw, path, value)
    sections = [_section(p) for p, _ in changes]
    if unknown:
        raw["teams"] = {
            **(raw.get("teams") if isinstance(raw.get("teams"), dict) else {}),
            "mxa": 1,
        }
        sections.append("teams")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        _expect_config_error_naming(lambda: load_scenario(path), [*sections, "top level"], path)


YAML_NOISE = [
    ":",
    " ",
    "  ",
    "\t",
    "-",
    "[",
    "]",
    "{",
    "}",
    "'",
    '"',
    "\n",
    "&a",
    "*a",
    "!!",
    "%",
    "#",
    "?",
    "|",
    ">",
    "\x00",
    "é",
    ",",
    "extends: x.yaml\n",
    "teams:\n",
]


@FUZZ
@given(
    edits=st.lists(
        st.tuples(
            st.floats(0, 1),
            st.sampled_from(["insert", "delete", "duplicate", "cut"]),
            st.sampled_from(YAML_NOISE),
        ),
        min_size=1,
        max_size=4,
    ),
    latin1=st.booleans(),
)
def test_mutated_yaml_gives_a_config_error_or_loads(edits, latin1):
    text = BASE_FILE.read_text(encoding="utf-8")
    for where, op, noise in edits:
        at = int(where * len(text))
        if op == "insert":
            text = text[:at] + noise + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + len(noise) :]
        elif op == "duplicate":
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at) + 1 or len(text)
            text = text[:end] + text[start:end] + text[end:]
        else:
            text = text[:at]
    data = text.encode("latin-1", errors="replace") if latin1 else text.encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_bytes(data)
        try:
            load_scenario(path)
            event("loads")
        except ConfigError as exc:
            event("ConfigError")
            assert exc.exit_code == 2 and (str(path) in str(exc) or "s.yaml" in str(exc))
            _run_refused(path)


# --------------------------------------------------------------------------- tables

CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            "n/a",
            "NA",
            "inf",
            "-inf",
            "nan",
            "-1",
            "0",
            "1",
            "2.5",
            "1e308",
            "abc",
            "1,234",
            '"',
            "\x00",
            "é",
            "E01000000",
            "E01000001",
            "E01000002",
            "T1",
            "West",
            "Middle",
            "East",
            "9",
            "10",
            "0.125",
            "400500",
            "300500",
            "closed",
            "main",
            "yes",
        ]
    ),
    st.text(max_size=4),
    st.integers(-10, 10).map(str),
)
HEADERS = {
    "current_plan": ["area_code", "team_id", "area_cde", "team"],
    "sites": [
        "site_name",
        "easting",
        "northing",
        "longitude",
        "latitude",
        "kind",
        "capacity_children",
        "forced",
        "existing",
        "Site_Name",
    ],
    "travel": ["area_code", "site_name", "minutes", "West", "Middle", "East", "Area_Code"],
    "arrivals": ["hour", "share", "Hour", "shares"],
}


def tables(kind: str) -> st.SearchStrategy[bytes]:
    """Bytes of a CSV: a header from the file's columns (and near misses), ragged rows of
    awkward cells, sometimes quoted, sometimes not UTF-8, sometimes cut short or empty."""
    header = st.lists(st.sampled_from(HEADERS[kind]), min_size=0, max_size=5)
    rows = st.lists(st.lists(CELLS, min_size=0, max_size=6), max_size=6)

    def build(parts: tuple) -> bytes:
        head, body, quote, encoding, cut = parts

        def line(cells: list[str]) -> str:
            return ",".join(f'"{c}"' if quote else c for c in cells)

        text = "\n".join([line(head), *(line(r) for r in body)]) + "\n"
        data = text.encode(encoding, errors="replace")
        return data[: int(cut * len(data))] if cut < 1 else data

    return st.tuples(
        header,
        rows,
        st.booleans(),
        st.sampled_from(["utf-8", "latin-1", "utf-16"]),
        st.sampled_from([1.0, 1.0, 0.5, 0.0]),
    ).map(build)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def _reads_or_names(run, path: Path, setting: str) -> None:
    """``run`` succeeds or raises a planning error (exit 2) naming the file or the setting; the
    user's files are left as they were and nothing is written beside them."""
    before = _digest(path.parent)
    try:
        run()
        event("read")
    except PlanningError as exc:
        event(type(exc).__name__)
        text = str(exc)
        assert exc.exit_code == 2, text
        assert path.name in text or setting in text, text
    assert _digest(path.parent) == before


AREAS = line_areas([10, 10, 10, 10, 10])


@FUZZ
@given(data=tables("current_plan"))
def test_fuzzed_current_plan(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.csv"
        path.write_bytes(data)
        _reads_or_names(lambda: read_current_plan(path, AREAS), path, "teams.current_plan_csv")


@FUZZ
@given(data=tables("sites"))
def test_fuzzed_sites(data):
    from planning.config import HubSettings

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sites.csv"
        path.write_bytes(data)
        settings_ = HubSettings(sites_csv=path)
        _reads_or_names(lambda: check_hub_inputs(AREAS, settings_), path, "hubs.sites_csv")


@FUZZ
@given(data=tables("travel"))
def test_fuzzed_travel_matrix(data):
    from planning.config import HubSettings

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sites = three_sites(folder)
        path = folder / "minutes.csv"
        path.write_bytes(data)
        settings_ = HubSettings(
            sites_csv=sites, travel_time_csv=Path("minutes.csv"), target_minutes=10
        )
        _reads_or_names(
            lambda: check_hub_inputs(AREAS, settings_, folder), path, "hubs.travel_time_csv"
        )


@FUZZ
@given(data=tables("arrivals"))
def test_fuzzed_arrivals_profile(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "arrivals.csv"
        path.write_bytes(data)
        _reads_or_names(
            lambda: read_arrivals_profile(path, list(range(9, 17))), path, "front_door.arrivals_csv"
        )


# --------------------------------------------------------------------------- the command line


def _get(raw: dict, path: tuple) -> Any:
    node: Any = raw
    for part in path:
        node = node[part]
    return node


#: Numeric settings of the Sefton scenario: scaled a little, so most variants are valid and the
#: data checks, the geography and the band are reached, not only the schema.
NUMERIC = [
    p
    for p in _leaves(BASE)
    if isinstance(_get(BASE, p), int | float) and not isinstance(_get(BASE, p), bool)
]


def _scaled(path_factor: tuple) -> tuple:
    path, factor = path_factor
    old = _get(BASE, path)
    new = old * factor
    return path, round(new) if isinstance(old, int) else new


NEAR = st.tuples(st.sampled_from(NUMERIC), st.sampled_from([0.0, 0.5, 0.9, 1.1, 1.5, 3.0, -1.0]))


@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    changes=st.lists(NEAR.map(_scaled), min_size=1, max_size=2),
    wild=st.one_of(st.none(), st.none(), st.tuples(st.sampled_from(PATHS), VALUES)),
)
def test_validate_exits_with_a_documented_code_and_no_traceback(changes, wild, data_dir, capsys):
    from planning.cli import main

    raw = copy.deepcopy(BASE)
    for path, value in [*changes, *([wild] if wild else [])]:
        _set(raw, path, value)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        before = _digest(path.parent)
        code = main(["validate", str(path), "--data-dir", str(data_dir)])
        err = capsys.readouterr().err
        event(f"exit {code}")
        assert code in (0, 2, 3), err
        assert "Traceback" not in err
        if code:
            assert err.startswith("error: ") and len(err) > 20
        assert _digest(path.parent) == before


@pytest.mark.parametrize("junk", [b"", b"\xff\xfe\x00\x01", b"name: [unclosed\n", b"- a\n- b\n"])
def test_junk_scenario_files_exit_2(tmp_path, capsys, junk):
    from planning.cli import main

    path = tmp_path / "s.yaml"
    path.write_bytes(junk)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "Traceback" not in err


# --------------------------------------------------------------------------- a national file

COUNCILS_FILE = "lookups/LTLA-UTLA_Apr23_Lookup_England-Wales.csv"


@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 320), st.integers(0, 3), CELLS), min_size=1, max_size=4
    ),
    header=st.one_of(st.none(), st.sampled_from(["LTLA23CD", "UTLA23NM", "LTLA23NM"])),
)
def test_damaged_councils_lookup_is_named(edits, header, data_dir):
    """Damaged cells of the district-to-council lookup (the City of London's rows among them)
    and a renamed column: the areas build, or a DataError names the lookup file."""
    from planning.data import load_areas

    lines = (data_dir / COUNCILS_FILE).read_text(encoding="utf-8-sig").splitlines()
    city = next(i for i, line in enumerate(lines) if line.startswith("E09000001"))
    for row, col, cell in edits:
        i = city if row % 4 == 0 else 1 + row % (len(lines) - 1)
        cells = lines[i].split(",")
        if col < len(cells):
            cells[col] = cell
        lines[i] = ",".join(cells)
    if header:
        lines[0] = lines[0].replace(header, header.lower() + "_x")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        for real in data_dir.rglob("*"):
            if real.is_file():
                link = root / real.relative_to(data_dir)
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(real)
        copy_ = root / COUNCILS_FILE
        copy_.unlink()
        copy_.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            load_areas(["E09000001"], root, use_cache=False)
            event("built")
        except PlanningError as exc:
            event(type(exc).__name__)
            assert exc.exit_code == 2
            text = str(exc)
            assert COUNCILS_FILE in text or "E09000001" in text, text
