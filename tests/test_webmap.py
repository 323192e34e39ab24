"""map.html and report.html from a real Staffordshire run: as files and in headless Chromium.

The browser is Debian's chromium (scripts/setup-browser.sh installs it) driven by Playwright with
a fresh profile and every network request blocked and recorded: both pages must work offline.
Without chromium or Playwright the browser tests are skipped, unless PLANNING_REQUIRE_BROWSER=1
(as in CI), when they fail.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, sync_playwright_or_skip

from planning.cli import main

ROOT = Path(__file__).resolve().parents[1]
STAFFS = ROOT / "scenarios" / "staffordshire.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """`planning run` on Staffordshire: the run folder, as a user gets it."""
    out = tmp_path_factory.mktemp("staffs") / "run"
    assert main(["run", str(STAFFS), "--out", str(out)]) == 0
    return out


# --------------------------------------------------------------------------- the files


def _data(page: str) -> dict:
    match = re.search(r'<script id="plan-data" type="application/json">(.*?)</script>', page, re.S)
    assert match
    return json.loads(match.group(1).replace("<\\/", "</"))


@pytest.mark.slow
def test_map_html_is_one_offline_file_holding_every_area(run_dir):
    page = (run_dir / "map.html").read_text(encoding="utf-8")
    assert len(page.encode()) < 2_000_000
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page, re.I)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"https://tile.openstreetmap.org/{z}/{x}/{y}.png", "http://www.w3.org/2000/svg"}
    data = _data(page)
    areas = pd.read_csv(run_dir / "areas.csv")
    props = pd.DataFrame([f["properties"] for f in data["areas"]["features"]])
    assert props.area_code.tolist() == sorted(areas.area_code)
    assert dict(zip(props.area_code, props.team_id, strict=True)) == dict(
        zip(areas.area_code, areas.team_id, strict=True)
    )
    first = data["areas"]["features"][0]["geometry"]["coordinates"]
    while isinstance(first[0], list):
        first = first[0]
    lon, lat = first
    assert -3 < lon < -1 and 52 < lat < 54  # Staffordshire, in degrees (EPSG:4326)
    teams = pd.read_csv(run_dir / "teams.csv").set_index("team_id")
    totals = pd.DataFrame.from_dict(data["team_totals"], orient="index")
    assert (totals.residents == teams.residents.reindex(totals.index)).all()
    assert (totals.children_0_17 == teams.children_0_17.reindex(totals.index)).all()
    assert len(data["hubs"]["features"]) == 8 and len(data["localities"]["features"]) == 8


@pytest.mark.slow
def test_counts_are_whole_numbers_that_add_up(run_dir, data_dir):
    """areas.csv and teams.csv hold whole counts; team totals are the sums of their area rows
    and all teams add up to the council's total (children are fractional estimates, rounded
    by largest remainder so nothing is lost)."""
    from planning.data import load_areas

    areas = pd.read_csv(run_dir / "areas.csv")
    teams = pd.read_csv(run_dir / "teams.csv").set_index("team_id")
    exact = load_areas(["E10000028"], data_dir).areas
    text = (run_dir / "areas.csv").read_text()
    assert not re.search(r",\d+\.0,", text.splitlines()[1])  # no 2003.0
    for col in ("residents", "children_0_17", "children_0_19", "children_0_24"):
        assert areas[col].dtype.kind == "i" and teams[col].dtype.kind == "i", col
        assert (areas.groupby("team_id")[col].sum() == teams[col]).all(), col
        assert teams[col].sum() == round(exact[col].sum()), col
        by_area = exact.set_index("area_code")[col].reindex(areas.area_code).to_numpy()
        assert (abs(areas[col].to_numpy() - by_area) < 1).all(), col
    assert teams.children_0_19.between(6_000, 12_000).all()  # the band, in whole children
    # below_band is a flag, written True/False (not a count, not 0/1), and none is below here
    assert teams.below_band.dtype == bool and not teams.below_band.any()
    assert re.search(r",(True|False)(,|$)", (run_dir / "teams.csv").read_text().splitlines()[1])
    hubs = pd.read_csv(run_dir / "hubs.csv")
    assert hubs.children_served.dtype.kind == "i"


@pytest.mark.slow
def test_touching_teams_never_share_a_colour_in_any_output(run_dir):
    import geopandas as gpd
    import numpy as np
    import shapely
    from matplotlib.image import imread

    from planning.maps import PALETTE

    teams = gpd.read_file(run_dir / "teams.gpkg", layer="teams").sort_values("team_id")
    colour = dict(zip(teams.team_id, teams.team_colour, strict=True))
    # touching, measured on the polygons themselves (a point in common counts)
    shapes = shapely.buffer(teams.geometry.to_numpy(), 1.0)
    left, right = shapely.STRtree(shapes).query(shapes, predicate="intersects")
    ids = teams.team_id.to_numpy()
    pairs = [(ids[a], ids[b]) for a, b in zip(left, right, strict=True) if a < b]
    assert len(pairs) > len(teams)  # a real adjacency, not an empty one
    assert [p for p in pairs if colour[p[0]] == colour[p[1]]] == []
    assert set(colour.values()) <= set(PALETTE)
    # the same colours in map.html, the areas layer and the QGIS style
    data = _data((run_dir / "map.html").read_text(encoding="utf-8"))
    assert {t: v["colour"] for t, v in data["team_totals"].items()} == colour
    areas = gpd.read_file(run_dir / "teams.gpkg", layer="areas")
    assert (areas.team_colour == areas.team_id.map(colour)).all()
    # and in teams.png: every team's colour is painted
    image = imread(run_dir / "teams.png")[..., :3]
    painted = {
        "#" + "".join(f"{round(255 * c):02x}" for c in px)
        for px in np.unique(image.reshape(-1, 3), axis=0)
    }
    assert set(colour.values()) <= painted


@pytest.mark.slow
def test_geopackage_fields_and_qgis_style(run_dir):
    import sqlite3

    import pyogrio

    layers = [name for name, _ in pyogrio.list_layers(run_dir / "teams.gpkg")]
    assert layers == ["areas", "teams", "hubs", "localities", "layer_styles"]
    types = {
        name: dict(zip(*_fields(run_dir / "teams.gpkg", name), strict=True)) for name in layers[:4]
    }
    for field in ("district_name", "ward_name", "imd_score", "imd_decile", "team_id"):
        assert field in types["areas"], field
    counts = {
        "areas": ["residents", "children_0_17", "children_0_19", "children_0_24"],
        "teams": ["n_areas", "residents", "children_0_17", "children_0_19", "children_0_24"],
        "hubs": ["teams_based", "children_served"],
        "localities": ["areas", "teams_based", "children"],
    }
    for layer, fields in counts.items():
        for field in fields:
            assert types[layer][field] == "int64", (layer, field)
    assert "group" not in types["teams"] and types["teams"]["team_group"] == "object"
    assert types["teams"]["below_band"] == "bool"
    teams_csv = pd.read_csv(run_dir / "teams.csv")
    teams = pyogrio.read_dataframe(run_dir / "teams.gpkg", layer="teams")
    assert (teams.set_index("team_id").residents == teams_csv.set_index("team_id").residents).all()
    with sqlite3.connect(run_dir / "teams.gpkg") as db:
        styles = db.execute(
            "SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles"
        ).fetchall()
        kind = db.execute(
            "SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'"
        ).fetchone()
    assert kind == ("attributes",)
    assert sorted(s[0] for s in styles) == ["areas", "teams"]
    for _, geom, default, qml in styles:
        assert geom == "geom" and default == 1
        assert 'type="categorizedSymbol" attr="team_id"' in qml
        for team, hex_colour in zip(teams.team_id, teams.team_colour, strict=True):
            rgb = ",".join(str(int(hex_colour[k : k + 2], 16)) for k in (1, 3, 5))
            assert f'value="{team}"' in qml and f'value="{rgb},255"' in qml


def _fields(path, layer) -> list:
    import pyogrio

    info = pyogrio.read_info(path, layer=layer)
    return [list(info["fields"]), list(info["dtypes"])]


@pytest.mark.slow
def test_headline_cost_is_the_same_in_report_workbook_csv_and_map(run_dir):
    import openpyxl

    staffing = pd.read_csv(run_dir / "staffing.csv")
    total = int(staffing.cost_gbp.sum())
    wb = openpyxl.load_workbook(run_dir / "staffing.xlsx", data_only=True)
    key = {r[0]: r[1] for r in wb["summary"].iter_rows(min_row=4, max_col=2, values_only=True)}
    assert key["Total cost (£ a year)"] == total  # the cached value of its formula
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert f"at a cost of £{total:,} a year" in page
    assert f'<td>total cost a year</td><td class="n">£{total:,}</td>' in page
    data = _data((run_dir / "map.html").read_text(encoding="utf-8"))
    per_team = {t: v["cost_gbp"] for t, v in data["team_totals"].items()}
    assert per_team == staffing.groupby("team_id").cost_gbp.sum().to_dict()
    assert sum(per_team.values()) == total
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["staffing"]["shown_whole_pounds"]["total_cost_gbp"] == total
    assert abs(manifest["staffing"]["total_cost_gbp"] - total) <= 0.5  # exact, for audit


class _Tables(HTMLParser):
    """Cell texts of every table with an id: {id: [[cell, ...], ...]} (header row first)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self.links: list[str] = []
        self._id: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._id = attrs["id"]
            self.tables[self._id] = []
        elif tag == "tr" and self._id:
            self.tables[self._id].append([])
        elif tag in ("td", "th") and self._id:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag in ("a", "link", "script", "img") and (attrs.get("href") or attrs.get("src")):
            self.links.append(attrs.get("href") or attrs.get("src"))

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._id][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._id = None


def _same(shown: str, written: str) -> bool:
    """A figure on the page equals the CSV's exactly (thousands separators and £ aside)."""
    try:
        value = float(written)
    except ValueError:
        return shown == written
    return float(shown.replace(",", "").replace("£", "")) == value


@pytest.mark.slow
def test_report_html_shows_every_figure_the_csvs_hold(run_dir):
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    parser = _Tables()
    parser.feed(page)
    for table_id, name in [
        ("teams", "teams.csv"),
        ("hubs", "hubs.csv"),
        ("staffing", "staffing.csv"),
        ("areas", "areas.csv"),
    ]:
        csv = pd.read_csv(run_dir / name, dtype=str, keep_default_na=False)
        shown = parser.tables[table_id]
        assert len(shown) == len(csv) + 1, name
        assert [h.replace(" ", "_").replace("-", "_") for h in shown[0]] == list(csv.columns)
        for k, row in enumerate(csv.itertuples(index=False), start=1):
            for col, written, cell in zip(csv.columns, row, shown[k], strict=True):
                assert _same(cell, written), (name, k, col, written, cell)
    # the committee-paper parts: summary, assumptions, solver evidence, embedded figures
    for heading in (
        "1. Summary",
        "2. Team patches",
        "3. Family hubs",
        "4. Staffing and costs",
        "5. Assumptions",
        "6. Solver evidence",
    ):
        assert f">{heading}</h2>" in page
    settings = {row[1]: row[2] for row in parser.tables["assumptions"][1:]}
    assert settings["teams.max_population"] == "12,000"
    assert settings["workforce.caseload_target_cases_per_fte.social_worker"] == "15.4"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert f"{manifest['objective']:,.0f} person-km" in page
    assert f"{100 * manifest['gap']:.2f}%" in page
    assert len([s for s in parser.images if s.startswith("data:image/png;base64,")]) == 2
    assert all(link.startswith(("#", "data:", "map.html")) for link in parser.links)


# --------------------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Debian chromium with a fresh profile; None-network: every http(s) request is
    aborted and recorded in ``context.blocked``."""
    sync_playwright = sync_playwright_or_skip()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 860},
        )
        context.blocked = []

        def block(route):
            context.blocked.append(route.request.url)
            route.abort()

        context.route(re.compile(r"^(https?|wss?)://"), block)
        yield context
        context.close()


def _open(browser, path: Path):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())
    return page, errors


@pytest.mark.slow
def test_clicking_an_area_on_map_html_shows_its_team(run_dir, browser, tmp_path):
    areas = pd.read_csv(run_dir / "areas.csv").set_index("area_code")
    teams = pd.read_csv(run_dir / "teams.csv").set_index("team_id")
    page, errors = _open(browser, run_dir / "map.html")
    page.wait_for_function("window.planningMap && window.planningMap.ready")
    # an area whose label point is not under a hub or another shape
    for code in areas.index[::7]:
        x, y = page.evaluate("code => planningMap.screenPoint(code)", code)
        hit = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y).getAttribute('data-code')", [x, y]
        )
        if hit == code:
            break
    else:
        pytest.fail("no area could be clicked at its label point")
    page.mouse.click(x, y)  # a real click, hit-tested by the browser
    team = areas.at[code, "team_id"]
    area_box = page.locator("#area-figures").inner_text()
    assert code in page.locator("#info h2").first.inner_text()
    assert re.search(rf"team\s+{team}\b", area_box)
    assert f"{areas.at[code, 'residents']:,.0f}" in area_box
    team_box = page.locator("#team-figures").inner_text()
    assert f"Team {team} totals" in page.locator("#info").inner_text()
    assert f"{teams.at[team, 'residents']:,}" in team_box
    assert f"{teams.at[team, 'children_0_17']:,}" in team_box
    assert page.locator(f'path.area[data-code="{code}"]').get_attribute("class") == "area sel"
    assert page.locator(f'#teamlist tr[data-team="{team}"]').get_attribute("class") == "sel"
    page.screenshot(path=str(tmp_path / "map_clicked.png"))

    # layers switch off and on; tiles stay off (no request) unless asked for
    hubs = page.locator("#layer-hubs")
    assert hubs.is_visible()
    page.uncheck("#show-hubs")
    assert not hubs.is_visible()
    page.uncheck("#show-localities")
    assert not page.locator("#layer-localities").is_visible()
    page.uncheck("#show-teams")
    assert "no-teams" in page.locator("#map").get_attribute("class")
    page.check("#show-teams")
    page.locator("#zoom-in").click()
    page.screenshot(path=str(tmp_path / "map_layers.png"))
    assert browser.blocked == [] and errors == []
    page.check("#show-tiles")
    page.wait_for_timeout(300)
    assert browser.blocked and all("tile.openstreetmap.org" in u for u in browser.blocked)
    browser.blocked.clear()
    assert (tmp_path / "map_clicked.png").stat().st_size > 10_000
    page.close()


@pytest.mark.slow
def test_report_html_opens_offline_with_its_figures(run_dir, browser, tmp_path):
    page, errors = _open(browser, run_dir / "report.html")
    page.wait_for_load_state("load")
    sizes = page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth)")
    assert len(sizes) == 2 and all(w > 500 for w in sizes)
    assert page.locator("h1").inner_text().startswith("Staffordshire")
    page.screenshot(path=str(tmp_path / "report.png"))
    assert browser.blocked == [] and errors == []
    page.close()


@pytest.mark.slow
def test_report_html_prints_on_a4_with_every_table_inside_the_page(run_dir, browser, tmp_path):
    """Printed (print media, A4 with the page's own margins): no table or scroll box is wider
    than the printable width, and the PDF has a sensible number of pages."""
    page, errors = _open(browser, run_dir / "report.html")
    css = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "@page { size: A4" in css
    printable_mm = 210 - 12 - 12  # A4 less the left and right margins of @page
    width = round(printable_mm / 25.4 * 96)  # CSS pixels
    page.set_viewport_size({"width": width, "height": 1100})
    page.emulate_media(media="print")
    wide = page.evaluate(
        """(width) => [...document.querySelectorAll('table, .wrap, figure img')]
            .map(e => [e.id || (e.querySelector && e.querySelector('caption')
                       ? e.querySelector('caption').textContent.slice(0, 50) : e.tagName),
                       Math.ceil(e.getBoundingClientRect().right), e.scrollWidth])
            .filter(([, right, scroll]) => right > width + 1 || scroll > width + 1)""",
        width,
    )
    assert wide == []
    scrolling = page.evaluate(
        "[...document.querySelectorAll('.wrap')].filter(w => w.scrollWidth > w.clientWidth + 1)"
        ".length"
    )
    assert scrolling == 0
    captions = page.evaluate(
        "[...document.querySelectorAll('caption')].map(c => getComputedStyle(c).breakAfter)"
    )
    assert captions and set(captions) == {"avoid"}
    pdf = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
    (tmp_path / "report.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    # 528 areas in the annex (about 12 pages) plus the body: well under 45, the count when
    # the wide tables spilled over the page
    assert 10 <= pages <= 36, pages
    assert errors == [] and browser.blocked == []
    page.close()
