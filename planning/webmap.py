"""map.html: one self-contained interactive map of a plan that opens with no network.

The areas, team outlines, localities and hubs are inlined as GeoJSON (EPSG:4326, simplified,
coordinates to 5 decimal places, about a metre) and drawn as SVG by a small hand-written script:
Web Mercator projection, wheel and button zoom, drag to pan, layers for teams, hubs and localities
that can be switched, and the figures of an area and its team shown on hover and pinned on click.
Background tiles are off by default; ticking the box loads OpenStreetMap tiles (needs a network).

``map_data`` builds the plain data the page holds; ``map_html`` renders the page; ``write_map``
writes it. The page exposes ``window.planningMap`` (select an area or team, find an area's screen
point) so a browser test can drive it.
"""

from __future__ import annotations

import html
import json
import logging
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from planning.rounding import whole_counts

log = logging.getLogger(__name__)

WGS84 = "EPSG:4326"
#: Simplification tolerance (metres, EPSG:27700) before reprojection; boundaries are already
#: generalised, so this only drops vertices too close to see at county scale.
SIMPLIFY_M = 15.0
DIGITS = 5
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def _rounded(geom: Any) -> Any:
    return shapely.set_precision(geom, 10**-DIGITS) if geom is not None else geom


def _features(frame: gpd.GeoDataFrame, props: list[str], tolerance: float) -> list[dict]:
    """GeoJSON features in EPSG:4326 (simplified in metres first), properties JSON-ready."""
    shapes = (
        frame.geometry.simplify(tolerance, preserve_topology=True) if tolerance else frame.geometry
    )
    shapes = gpd.GeoSeries(shapes, crs=frame.crs).to_crs(WGS84)
    out = []
    for geom, row in zip(shapes, frame[props].itertuples(index=False), strict=True):
        geom = _rounded(geom)
        out.append(
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(geom),
                "properties": {k: _plain(v) for k, v in zip(props, row, strict=True)},
            }
        )
    return out


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, 2)
    return value


def _label_points(frame: gpd.GeoDataFrame) -> list[list[float]]:
    points = gpd.GeoSeries(frame.geometry.representative_point(), crs=frame.crs).to_crs(WGS84)
    return [[round(p.x, DIGITS), round(p.y, DIGITS)] for p in points]


def _team_totals(result) -> dict[str, dict[str, Any]]:
    from planning.maps import team_colours
    from planning.report import teams_table
    from planning.workbook import team_costs

    teams = teams_table(result).set_index("team_id")
    basis = result.scenario.teams.population_basis
    posts = result.posts.teams.set_index("team_id")
    cost = result.costs.by_team.set_index("team_id")
    pounds = team_costs(result.costs.table)
    palette = team_colours(result)
    out = {}
    for team_id, row in teams.iterrows():
        entry = {
            "colour": palette[str(team_id)],
            "group": _plain(row.get("group")),
            "areas": int(row["n_areas"]),
            "residents": int(row["residents"]),
            "children_0_17": int(row["children_0_17"]),
            "centre": f"{row['centre_area_code']} ({row['centre_area_name']})",
            "family_help_cases": _plain(round(float(posts.at[team_id, "family_help_cases"]), 1)),
            "child_protection_cases": _plain(
                round(float(posts.at[team_id, "child_protection_cases"]), 1)
            ),
            "case_holding_fte": _plain(float(posts.at[team_id, "case_holding_fte"])),
            "total_fte": _plain(float(cost.at[team_id, "fte"])),
            "cost_gbp": int(pounds.at[team_id]),
        }
        if basis not in ("residents", "children_0_17"):
            entry[basis] = int(row[basis])
        if result.hubs is not None:
            entry["base_hub"] = result.hubs.team_base.get(team_id)
        out[str(team_id)] = entry
    return out


def map_data(result, tolerance_m: float = SIMPLIFY_M) -> dict[str, Any]:
    """Everything map.html shows, as plain JSON-ready data."""
    from planning.maps import team_polygons

    areas = result.area_data.areas.sort_values("area_code").reset_index(drop=True)
    frame = areas[
        ["area_code", "area_name", "district_name", "residents", "children_0_17", "geometry"]
    ].copy()
    basis = result.scenario.teams.population_basis
    if basis not in frame:
        frame[basis] = areas[basis]
    for col, values in whole_counts(areas, result.teams.assignment).items():
        if col in frame:
            frame[col] = values
    frame["team_id"] = frame.area_code.map(result.teams.assignment).astype(str)
    props = ["area_code", "area_name", "district_name", "team_id", "residents", "children_0_17"]
    if basis not in props:
        props.append(basis)
    hubs = result.hubs
    if hubs is not None:
        frame["locality"] = frame.area_code.map(hubs.localities)
        frame["hub"] = frame.area_code.map(hubs.area_hub)
        props += ["locality", "hub"]
    area_features = _features(frame, props, tolerance_m)
    for feature, point in zip(area_features, _label_points(frame), strict=True):
        feature["properties"]["label"] = point
    polygons = team_polygons(areas, result.teams.assignment)
    team_features = _features(polygons, ["team_id"], tolerance_m)
    for feature, point in zip(team_features, _label_points(polygons), strict=True):
        feature["properties"]["label"] = point
    data: dict[str, Any] = {
        "title": result.scenario.name,
        "basis": basis,
        "areas": {"type": "FeatureCollection", "features": area_features},
        "teams": {"type": "FeatureCollection", "features": team_features},
        "team_totals": _team_totals(result),
        "localities": None,
        "hubs": None,
        "wards": None,
    }
    if result.scenario.teams.building_block == "ward":  # the wards the patches are built from
        wards = areas[["ward_code", "ward_name", "geometry"]].dissolve(by="ward_code", sort=True)
        data["wards"] = {
            "type": "FeatureCollection",
            "features": _features(wards.reset_index(), ["ward_code", "ward_name"], tolerance_m),
        }
    if hubs is not None:
        from planning.hubs import hubs_layer, localities_layer

        shapes = localities_layer(areas, hubs)
        loc = _features(
            shapes,
            [
                "locality",
                "areas",
                "teams_based",
                "children",
                "mean_distance_km",
                "share_within_target",
            ],
            tolerance_m,
        )
        for feature, point in zip(loc, _label_points(shapes), strict=True):
            feature["properties"]["label"] = point
        data["localities"] = {"type": "FeatureCollection", "features": loc}
        points = hubs_layer(hubs)
        data["hubs"] = {
            "type": "FeatureCollection",
            "features": _features(
                points,
                [
                    "site_name",
                    "locality",
                    "kind",
                    "teams_based",
                    "children_served",
                    "mean_distance_km",
                    "share_within_target",
                ],
                0.0,
            ),
        }
    return data


def map_html(data: dict[str, Any], tiles_url: str = OSM_TILES) -> str:
    """The page: inline CSS, data and script; nothing is fetched unless tiles are switched on."""
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    payload = payload.replace("</", "<\\/").replace("<!--", "<\\!--")
    return (
        _PAGE.replace("__TITLE__", html.escape(data["title"]))
        .replace("__TILES__", json.dumps(tiles_url))
        .replace("__DATA__", payload)
    )


def write_map(result, path: Path | str, tolerance_m: float = SIMPLIFY_M) -> Path:
    """Write map.html for a run (the caller stages the folder)."""
    path = Path(path)
    text = map_html(map_data(result, tolerance_m))
    path.write_text(text, encoding="utf-8")
    log.info(
        "map: %s, %d areas, %.0f kB",
        path.name,
        len(result.area_data.areas),
        len(text.encode()) / 1024,
    )
    return path


def team_table(data: dict[str, Any]) -> pd.DataFrame:
    """The team totals the page holds, as a table (for checks)."""
    return pd.DataFrame.from_dict(data["team_totals"], orient="index").rename_axis("team_id")


_PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Map: __TITLE__</title>
<style>
  html, body { margin: 0; height: 100%; font: 14px/1.4 system-ui, "Segoe UI", Arial, sans-serif;
    color: #1b1b1b; }
  #app { display: flex; height: 100%; }
  #side { width: 340px; min-width: 300px; overflow-y: auto; border-right: 1px solid #ccc;
    padding: 10px 12px; box-sizing: border-box; background: #fafafa; }
  #side h1 { font-size: 16px; margin: 0 0 8px; }
  #main { flex: 1; position: relative; }
  #map { width: 100%; height: 100%; display: block; background: #eef3f7; cursor: grab;
    user-select: none; }
  #map.dragging { cursor: grabbing; }
  fieldset { border: 1px solid #ccc; margin: 8px 0; padding: 6px 8px; }
  legend { font-weight: 600; }
  label { display: block; }
  #info { min-height: 120px; }
  #info h2 { font-size: 15px; margin: 6px 0 4px; }
  #info table, #teamlist { border-collapse: collapse; width: 100%; font-size: 13px; }
  #info td, #teamlist td, #teamlist th { padding: 1px 4px; border-bottom: 1px solid #e4e4e4; }
  #info td:last-child, #teamlist td.n, #teamlist th.n { text-align: right;
    font-variant-numeric: tabular-nums; }
  #teamlist tr { cursor: pointer; }
  #teamlist tr.sel { background: #fff2b3; }
  .swatch { display: inline-block; width: 11px; height: 11px; margin-right: 4px;
    border: 1px solid #555; vertical-align: -1px; }
  path.area { stroke: #ffffff; stroke-width: 0.4; vector-effect: non-scaling-stroke; }
  svg.no-teams path.area { fill: #f1f1ee !important; stroke: #b9b9b9; }
  svg.no-teams #layer-team-lines, svg.no-teams #layer-team-labels { display: none; }
  path.area:hover { stroke: #000; stroke-width: 1.5; }
  path.area.sel { stroke: #000; stroke-width: 3; }
  path.team-line { fill: none; stroke: #333; stroke-width: 1.2; vector-effect: non-scaling-stroke;
    pointer-events: none; }
  path.team-line.sel { stroke: #000; stroke-width: 3.5; }
  path.ward { fill: none; stroke: #555; stroke-width: 0.8; stroke-dasharray: 2 2;
    vector-effect: non-scaling-stroke; pointer-events: none; }
  path.locality { fill: none; stroke: #7a0177; stroke-width: 2.4; stroke-dasharray: 7 4;
    vector-effect: non-scaling-stroke; pointer-events: none; }
  text { pointer-events: none; paint-order: stroke; stroke: #fff; stroke-width: 3px;
    stroke-linejoin: round; font-weight: 700; text-anchor: middle; dominant-baseline: middle; }
  text.locality { fill: #7a0177; }
  circle.hub { stroke: #000; vector-effect: non-scaling-stroke; cursor: pointer; }
  circle.hub.main { fill: #d7301f; }
  circle.hub.community { fill: #fff; }
  #zoom { position: absolute; top: 10px; right: 10px; display: flex; flex-direction: column;
    gap: 4px; }
  #zoom button { width: 32px; height: 32px; font-size: 18px; }
  #credit { position: absolute; bottom: 2px; right: 6px; font-size: 11px; color: #444;
    background: rgba(255,255,255,.8); padding: 0 4px; }
  .muted { color: #666; font-size: 12px; }
</style>
</head>
<body>
<div id="app">
  <aside id="side">
    <h1 id="title"></h1>
    <fieldset>
      <legend>Layers</legend>
      <label><input type="checkbox" id="show-teams" checked> Teams (areas coloured by team)</label>
      <label><input type="checkbox" id="show-hubs" checked> Family hubs</label>
      <label><input type="checkbox" id="show-localities" checked> Localities</label>
      <label><input type="checkbox" id="show-wards" checked> Wards (May 2024)</label>
      <label><input type="checkbox" id="show-tiles"> Background map (OpenStreetMap; needs
        internet)</label>
    </fieldset>
    <div id="info" aria-live="polite"><p class="muted">Hover over an area or hub to see its
      figures; click to keep them here. Scroll or use the buttons to zoom, drag to move.</p></div>
    <h2 style="font-size:15px">Teams</h2>
    <table id="teamlist"></table>
  </aside>
  <div id="main">
    <svg id="map" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Map of team patches">
      <g id="layer-tiles"></g>
      <g id="layer-areas"></g>
      <g id="layer-wards"></g>
      <g id="layer-team-lines"></g>
      <g id="layer-localities"></g>
      <g id="layer-team-labels"></g>
      <g id="layer-hubs"></g>
    </svg>
    <div id="zoom"><button id="zoom-in" title="Zoom in">+</button>
      <button id="zoom-out" title="Zoom out">&minus;</button>
      <button id="zoom-reset" title="Whole area">&#8962;</button></div>
    <div id="credit">Contains OS data &copy; Crown copyright and database right; ONS, MHCLG, DfE
      data under the Open Government Licence v3.0<span id="tile-credit"></span></div>
  </div>
</div>
<script id="plan-data" type="application/json">__DATA__</script>
<script>
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("plan-data").textContent);
  var TILES = __TILES__;
  var NS = "http://www.w3.org/2000/svg";
  var R = 6378137, WORLD = 2 * Math.PI * R;
  var svg = document.getElementById("map");
  var info = document.getElementById("info");
  document.getElementById("title").textContent = DATA.title;

  function merc(p) {
    var lat = Math.max(-85, Math.min(85, p[1])) * Math.PI / 180;
    return [R * p[0] * Math.PI / 180, R * Math.log(Math.tan(Math.PI / 4 + lat / 2))];
  }
  // bounding box of every area, in Web Mercator metres
  var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  function rings(geom) {
    if (geom.type === "Polygon") return geom.coordinates;
    if (geom.type === "MultiPolygon") return [].concat.apply([], geom.coordinates);
    return [];
  }
  DATA.areas.features.forEach(function (f) {
    rings(f.geometry).forEach(function (ring) {
      ring.forEach(function (p) {
        var m = merc(p);
        if (m[0] < minX) minX = m[0]; if (m[0] > maxX) maxX = m[0];
        if (m[1] < minY) minY = m[1]; if (m[1] > maxY) maxY = m[1];
      });
    });
  });
  var S = 1000 / Math.max(maxX - minX, maxY - minY);  // SVG units per metre
  function xy(p) { var m = merc(p); return [(m[0] - minX) * S, (maxY - m[1]) * S]; }
  function pathOf(geom) {
    return rings(geom).map(function (ring) {
      return "M" + ring.map(function (p) {
        var q = xy(p); return q[0].toFixed(2) + " " + q[1].toFixed(2);
      }).join("L") + "Z";
    }).join("");
  }
  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  var fmt = new Intl.NumberFormat("en-GB", {maximumFractionDigits: 1});
  function num(v) { return v === null || v === undefined ? "" : fmt.format(v); }
  function money(v) {
    return v === null || v === undefined ? "" : "\u00a3" + fmt.format(Math.round(v));
  }
  function words(s) { return s.replace(/(\d+)_(\d+)/g, "$1-$2").replace(/_/g, " "); }

  // ---------------------------------------------------------------- layers
  var areaNodes = {}, areaProps = {}, teamLines = {}, labelNodes = [];
  var gAreas = document.getElementById("layer-areas");
  DATA.areas.features.forEach(function (f) {
    var p = f.properties, team = DATA.team_totals[p.team_id] || {};
    var node = el("path", {d: pathOf(f.geometry), "class": "area", "fill-rule": "evenodd",
      fill: team.colour || "#cccccc", "data-code": p.area_code, "data-team": p.team_id}, gAreas);
    areaNodes[p.area_code] = node; areaProps[p.area_code] = p;
  });
  var gLines = document.getElementById("layer-team-lines");
  var gLabels = document.getElementById("layer-team-labels");
  DATA.teams.features.forEach(function (f) {
    var id = f.properties.team_id;
    teamLines[id] = el("path", {d: pathOf(f.geometry), "class": "team-line",
      "fill-rule": "evenodd", "data-team": id}, gLines);
    var q = xy(f.properties.label);
    var t = el("text", {x: q[0], y: q[1], "data-size": 11}, gLabels);
    t.textContent = id; labelNodes.push(t);
  });
  var gWards = document.getElementById("layer-wards");
  if (DATA.wards) {
    DATA.wards.features.forEach(function (f) {
      el("path", {d: pathOf(f.geometry), "class": "ward", "fill-rule": "evenodd",
        "data-ward": f.properties.ward_code}, gWards);
    });
  } else {
    document.getElementById("show-wards").disabled = true;
  }
  var gLoc = document.getElementById("layer-localities");
  if (DATA.localities) {
    DATA.localities.features.forEach(function (f) {
      el("path", {d: pathOf(f.geometry), "class": "locality", "fill-rule": "evenodd"}, gLoc);
      var q = xy(f.properties.label);
      var t = el("text", {x: q[0], y: q[1], "class": "locality", "data-size": 13}, gLoc);
      t.textContent = f.properties.locality; labelNodes.push(t);
    });
  } else {
    document.getElementById("show-localities").disabled = true;
  }
  var gHubs = document.getElementById("layer-hubs"), hubNodes = [];
  if (DATA.hubs) {
    DATA.hubs.features.forEach(function (f) {
      var q = xy(f.geometry.coordinates), main = f.properties.kind === "main";
      var c = el("circle", {cx: q[0], cy: q[1], "class": "hub " + f.properties.kind,
        "data-r": main ? 7 : 4.5}, gHubs);
      c.addEventListener("mouseenter", function () { if (!pinned) showHub(f.properties); });
      c.addEventListener("click", function (e) { e.stopPropagation(); pinned = true;
        showHub(f.properties); });
      hubNodes.push(c);
    });
  } else {
    document.getElementById("show-hubs").disabled = true;
  }

  // ---------------------------------------------------------------- information panel
  function rowsTable(rows) {
    var table = document.createElement("table");
    rows.forEach(function (r) {
      if (r[1] === "" || r[1] === undefined || r[1] === null) return;
      var tr = table.insertRow();
      tr.insertCell().textContent = r[0];
      tr.insertCell().textContent = r[1];
    });
    return table;
  }
  function heading(text) { var h = document.createElement("h2"); h.textContent = text; return h; }
  function teamRows(id) {
    var t = DATA.team_totals[id] || {};
    var rows = [["group", t.group], ["areas", num(t.areas)], ["residents", num(t.residents)],
      ["children 0-17", num(t.children_0_17)]];
    if (t[DATA.basis] !== undefined && DATA.basis !== "residents" && DATA.basis !== "children_0_17")
      rows.push([words(DATA.basis), num(t[DATA.basis])]);
    return rows.concat([["centre area", t.centre], ["base hub", t.base_hub],
      ["Family Help cases", num(t.family_help_cases)],
      ["child protection cases", num(t.child_protection_cases)],
      ["case-holding FTE", num(t.case_holding_fte)], ["total FTE", num(t.total_fte)],
      ["cost a year", money(t.cost_gbp)]]);
  }
  function showArea(code) {
    var p = areaProps[code]; if (!p) return;
    info.replaceChildren();
    info.appendChild(heading("Area " + p.area_code));
    var rows = [["name", p.area_name], ["district", p.district_name], ["team", p.team_id],
      ["residents", num(p.residents)], ["children 0-17", num(p.children_0_17)]];
    if (p[DATA.basis] !== undefined && DATA.basis !== "residents" && DATA.basis !== "children_0_17")
      rows.push([words(DATA.basis), num(p[DATA.basis])]);
    rows.push(["locality", p.locality], ["nearest open hub", p.hub]);
    var t = info.appendChild(rowsTable(rows)); t.id = "area-figures";
    info.appendChild(heading("Team " + p.team_id + " totals"));
    info.appendChild(rowsTable(teamRows(p.team_id))).id = "team-figures";
  }
  function showTeam(id) {
    info.replaceChildren();
    info.appendChild(heading("Team " + id + " totals"));
    info.appendChild(rowsTable(teamRows(id))).id = "team-figures";
  }
  function showHub(p) {
    info.replaceChildren();
    info.appendChild(heading((p.kind === "main" ? "Main hub: " : "Community hub: ") + p.site_name));
    info.appendChild(rowsTable([["locality", p.locality], ["teams based here", num(p.teams_based)],
      ["children served", num(p.children_served)],
      ["mean distance (km)", num(p.mean_distance_km)],
      ["share within target", p.share_within_target === null ? "" :
        fmt.format(100 * p.share_within_target) + "%"]])).id = "hub-figures";
  }

  // ---------------------------------------------------------------- selection
  var pinned = false, selected = null, selectedTeam = null;
  function highlight(code, team) {
    if (selected && areaNodes[selected]) areaNodes[selected].classList.remove("sel");
    if (selectedTeam && teamLines[selectedTeam]) teamLines[selectedTeam].classList.remove("sel");
    document.querySelectorAll("#teamlist tr.sel").forEach(function (r) {
      r.classList.remove("sel");
    });
    selected = code; selectedTeam = team;
    if (code && areaNodes[code]) areaNodes[code].classList.add("sel");
    if (team && teamLines[team]) {
      teamLines[team].classList.add("sel");
      var row = document.querySelector('#teamlist tr[data-team="' + team + '"]');
      if (row) row.classList.add("sel");
    }
  }
  function selectArea(code) {
    var p = areaProps[code]; if (!p) return false;
    pinned = true; highlight(code, p.team_id); showArea(code); return true;
  }
  function selectTeam(id) {
    if (!DATA.team_totals[id]) return false;
    pinned = true; highlight(null, id); showTeam(id); return true;
  }
  gAreas.addEventListener("mouseover", function (e) {
    var code = e.target.getAttribute && e.target.getAttribute("data-code");
    if (code && !pinned) showArea(code);
  });
  gAreas.addEventListener("click", function (e) {
    if (moved) return;
    var code = e.target.getAttribute("data-code");
    if (code) selectArea(code);
  });

  // team list
  var list = document.getElementById("teamlist");
  var head = list.createTHead().insertRow();
  ["team", "residents", "children 0-17", "FTE"].forEach(function (h, i) {
    var th = document.createElement("th"); th.textContent = h; if (i) th.className = "n";
    head.appendChild(th);
  });
  var body = list.createTBody();
  Object.keys(DATA.team_totals).sort().forEach(function (id) {
    var t = DATA.team_totals[id], tr = body.insertRow();
    tr.setAttribute("data-team", id);
    var c = tr.insertCell(), sw = document.createElement("span");
    sw.className = "swatch"; sw.style.background = t.colour; c.appendChild(sw);
    c.appendChild(document.createTextNode(id));
    [t.residents, t.children_0_17, t.total_fte].forEach(function (v) {
      var d = tr.insertCell(); d.className = "n"; d.textContent = num(v);
    });
    tr.addEventListener("mouseenter", function () { if (!pinned) showTeam(id); });
    tr.addEventListener("click", function () { selectTeam(id); });
  });

  // ---------------------------------------------------------------- view: zoom and pan
  var full = {x: -20, y: -20, w: 1040, h: 1040}, view = null;
  function pxPerUnit() { var r = svg.getBoundingClientRect();
    return Math.min(r.width / view.w, r.height / view.h) || 1; }
  function apply() {
    svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" "));
    var k = 1 / pxPerUnit();
    labelNodes.forEach(function (t) {
      t.setAttribute("font-size", t.getAttribute("data-size") * k);
    });
    hubNodes.forEach(function (c) { c.setAttribute("r", c.getAttribute("data-r") * k); });
    if (tilesOn) drawTiles();
  }
  function reset() { view = {x: full.x, y: full.y, w: full.w, h: full.h}; apply(); }
  function zoomAt(factor, cx, cy) {
    view = {x: cx - (cx - view.x) / factor, y: cy - (cy - view.y) / factor,
      w: view.w / factor, h: view.h / factor};
    apply();
  }
  function toUser(evt) {
    var pt = svg.createSVGPoint(); pt.x = evt.clientX; pt.y = evt.clientY;
    return pt.matrixTransform(svg.getScreenCTM().inverse());
  }
  svg.addEventListener("wheel", function (e) {
    e.preventDefault(); var p = toUser(e); zoomAt(e.deltaY < 0 ? 1.25 : 0.8, p.x, p.y);
  }, {passive: false});
  var drag = null, moved = false;
  svg.addEventListener("mousedown", function (e) {
    drag = {x: e.clientX, y: e.clientY, view: view}; moved = false;
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 4) { moved = true; svg.classList.add("dragging"); }
    if (!moved) return;
    var k = 1 / pxPerUnit();
    view = {x: drag.view.x - dx * k, y: drag.view.y - dy * k, w: drag.view.w, h: drag.view.h};
    apply();
  });
  window.addEventListener("mouseup", function () {
    drag = null; svg.classList.remove("dragging");
  });
  svg.addEventListener("click", function (e) {
    if (!moved && e.target === svg) { pinned = false; highlight(null, null); }
  });
  function centre() { return [view.x + view.w / 2, view.y + view.h / 2]; }
  document.getElementById("zoom-in").onclick = function () {
    var c = centre(); zoomAt(1.5, c[0], c[1]);
  };
  document.getElementById("zoom-out").onclick = function () {
    var c = centre(); zoomAt(1 / 1.5, c[0], c[1]);
  };
  document.getElementById("zoom-reset").onclick = reset;
  window.addEventListener("resize", apply);

  // ---------------------------------------------------------------- optional background tiles
  var tilesOn = false, gTiles = document.getElementById("layer-tiles");
  function drawTiles() {
    gTiles.replaceChildren();
    var metresPerPx = 1 / (S * pxPerUnit());
    var z = Math.max(0, Math.min(18, Math.round(Math.log2(WORLD / (256 * metresPerPx)))));
    var T = WORLD / Math.pow(2, z), n = Math.pow(2, z);
    var x0 = view.x / S + minX, x1 = (view.x + view.w) / S + minX;
    var yTop = maxY - view.y / S, yBot = maxY - (view.y + view.h) / S;
    var tx0 = Math.max(0, Math.floor((x0 + WORLD / 2) / T));
    var tx1 = Math.min(n - 1, Math.floor((x1 + WORLD / 2) / T));
    var ty0 = Math.max(0, Math.floor((WORLD / 2 - yTop) / T));
    var ty1 = Math.min(n - 1, Math.floor((WORLD / 2 - yBot) / T));
    if ((tx1 - tx0 + 1) * (ty1 - ty0 + 1) > 100) return;
    for (var tx = tx0; tx <= tx1; tx++) for (var ty = ty0; ty <= ty1; ty++) {
      el("image", {href: TILES.replace("{z}", z).replace("{x}", tx).replace("{y}", ty),
        x: (-WORLD / 2 + tx * T - minX) * S, y: (maxY - (WORLD / 2 - ty * T)) * S,
        width: T * S + 0.01, height: T * S + 0.01, preserveAspectRatio: "none",
        opacity: 0.75}, gTiles);
    }
  }
  function toggle(id, fn) { var box = document.getElementById(id);
    box.addEventListener("change", function () { fn(box.checked); }); }
  toggle("show-teams", function (on) { svg.classList.toggle("no-teams", !on); });
  toggle("show-hubs", function (on) { gHubs.style.display = on ? "" : "none"; });
  toggle("show-localities", function (on) { gLoc.style.display = on ? "" : "none"; });
  toggle("show-wards", function (on) { gWards.style.display = on ? "" : "none"; });
  toggle("show-tiles", function (on) {
    tilesOn = on; document.getElementById("tile-credit").textContent =
      on ? "; background \u00a9 OpenStreetMap contributors" : "";
    if (on) drawTiles(); else gTiles.replaceChildren();
  });

  reset();
  window.planningMap = {
    selectArea: selectArea, selectTeam: selectTeam,
    areaCodes: function () { return Object.keys(areaProps).sort(); },
    teamOf: function (code) { return areaProps[code] && areaProps[code].team_id; },
    screenPoint: function (code) {
      var p = areaProps[code]; if (!p) return null;
      var q = xy(p.label), pt = svg.createSVGPoint(); pt.x = q[0]; pt.y = q[1];
      var s = pt.matrixTransform(svg.getScreenCTM()); return [s.x, s.y];
    },
    ready: true
  };
})();
</script>
</body>
</html>
"""
