"""planning edit: a run folder edited by hand in the browser, against the real server.

The run folder is Rutland (E06000017, 26 areas, 41,043 residents) in three teams of
8,000-14,000 residents (so an area moved into a team takes it over the band) with a 10 s time
limit: the whole file runs in well under a minute. The server is started as a user starts it
(``planning edit OUT_DIR --port P``) on 127.0.0.1; bad requests are sent as plain HTTP; the
page is driven in Debian's headless chromium (see tests/test_webmap.py).
"""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, sync_playwright_or_skip

from planning.cli import main
from planning.edit import session
from planning.edit.live import live_context, plan_summary, team_problems
from planning.edit.reoptimise import locks_supported
from planning.edit.run_folder import read_run_folder, rebuild

SCENARIO = """\
name: Rutland edit test
councils: [E06000017]
geography:
  islands: link_nearest
teams:
  population_basis: residents
  min_population: 8000
  max_population: 14000
  total_teams: 3
solver:
  time_limit_seconds: 10
  relative_gap: 0.01
  processes: 1
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir):
    """`planning run` on Rutland: the run folder a planner would edit."""
    root = tmp_path_factory.mktemp("edit")
    (root / "rutland.yaml").write_text(SCENARIO, encoding="utf-8")
    out = root / "run"
    assert main(["run", str(root / "rutland.yaml"), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def rebuilt(run_dir):
    result, current = rebuild(read_run_folder(run_dir))
    return result, live_context(result, current)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(run_dir, tmp_path_factory):
    """`planning edit RUN --port P --save-dir SAVES`, as a user starts it; stopped by SIGINT."""
    saves = tmp_path_factory.mktemp("saves")
    port = _free_port()
    command = [sys.executable, "-m", "planning", "edit", str(run_dir), "--port", str(port)]
    log = saves.parent / f"{saves.name}-server.log"
    stdout = (saves.parent / f"{saves.name}-server.out").open("w")
    stderr = log.open("w")
    proc = subprocess.Popen([*command, "--save-dir", str(saves)], stdout=stdout, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/api/state", timeout=2).close()
            break
        except (urllib.error.URLError, ConnectionError):
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("planning edit did not start")
    yield {"url": url, "port": port, "saves": saves, "proc": proc}
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    proc.wait(timeout=20)
    stdout.close()
    stderr.close()
    assert proc.returncode == 0, log.read_text()[-2000:]
    out = (saves.parent / f"{saves.name}-server.out").read_text()
    assert "press Ctrl-C to stop" in out and "stopped; saved:" in out
    assert re.search(r"saved .*edited: status edited", out), out
    assert "Traceback" not in log.read_text()


def _call(url: str, method: str = "GET", body=None, headers=None, raw: bytes | None = None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None and "Content-Type" not in (headers or {}):
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# --------------------------------------------------------------------------- pure parts


def test_moves_undo_redo_and_locks_are_pure_state_changes():
    codes = ("A", "B", "C", "D")
    h = session.start(("T01", "T01", "T02", "T02"))
    moved = session.move_areas(h.present, codes, ["B"], "T02")
    h2 = session.push(h, moved)
    assert (
        h2.present.assignment == ("T01", "T02", "T02", "T02") and h.present.assignment[1] == "T01"
    )
    assert session.undo(h2).present.assignment == h.present.assignment
    assert session.redo(session.undo(h2)).present.assignment == moved.assignment
    assert session.move_areas(h.present, codes, ["A"], "new").assignment[0] == "T03"
    locked = session.set_locks(h.present, codes, ["T02"], [], True)
    assert session.lock_rows(locked, codes) == [("C", "T02"), ("D", "T02")]
    for bad, text in [
        (lambda: session.move_areas(h.present, codes, ["Z"], "T02"), "unknown area"),
        (lambda: session.move_areas(h.present, codes, ["A"], "T09"), "unknown team 'T09'"),
        (lambda: session.move_areas(locked, codes, ["A"], "T02"), "T02 is locked"),
        (lambda: session.move_areas(locked, codes, ["C"], "T01"), "are locked"),
        (lambda: session.undo(h), "nothing to undo"),
    ]:
        with pytest.raises(session.EditError, match=text):
            bad()


def test_live_checks_band_pieces_and_nesting(rebuilt, run_dir):
    result, ctx = rebuilt
    plan = tuple(ctx.optimised.reindex(list(ctx.codes)))
    summary = plan_summary(ctx, plan)
    assert summary["problems"] == {} and summary["changes_vs_optimised"]["areas"] == 0
    teams = pd.read_csv(run_dir / "teams.csv").set_index("team_id")
    for team, figures in summary["teams"].items():
        assert figures["residents"] == teams.at[team, "residents"]
        assert abs(figures["children_0_17"] - teams.at[team, "children_0_17"]) <= 1
    # FTE as the workforce stage sizes it
    fte = result.posts.teams.set_index("team_id")["total_fte"]
    assert {t: f["fte"] for t, f in summary["teams"].items()} == fte.round(1).to_dict()
    # two areas far apart make two pieces; a team over districts is flagged with nesting
    members = [i for i, t in enumerate(plan) if t == "T01"]
    far = [members[0], next(i for i, t in enumerate(plan) if t == "T03")]
    assert any("2 pieces" in p for p in team_problems(ctx, "T01", far))
    nested = dataclasses.replace(
        ctx,
        nest=tuple("A" if i % 2 else "B" for i in range(len(ctx.codes))),
        settings=ctx.settings.model_copy(update={"nesting": "district"}),
    )
    assert any("crosses districts: A, B" in p for p in team_problems(nested, "T01", members))
    assert any("below the band" in p for p in team_problems(ctx, "T01", members[:1]))


def test_cli_refuses_a_missing_or_foreign_folder_in_one_line(tmp_path, capsys):
    assert main(["edit", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "no such folder" in err and len(err.splitlines()) == 1
    (tmp_path / "notes.txt").write_text("x")
    assert main(["edit", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a run folder written by planning run" in err and "Traceback" not in err


def test_locks_of_a_team_keep_it_together(rebuilt):
    """The derived locks of a team (here the one holding the last area, which once stopped
    the model with an IndexError) are kept together by the allocation."""
    from planning.allocate import allocate_teams

    result, ctx = rebuilt
    team = ctx.optimised[ctx.codes[-1]]
    locks = ctx.optimised.where(ctx.optimised == team)
    table = result.area_data.areas
    plan = allocate_teams(
        table,
        result.geo,
        ctx.settings,
        result.scenario.solver,
        locks=locks.reindex(table.area_code),
    )
    kept = plan.assignment[locks.dropna().index]
    assert kept.nunique() == 1


# --------------------------------------------------------------------------- the server


def test_bad_requests_get_a_4xx_with_a_message(server, rebuilt):
    url, port = server["url"], server["port"]
    _, ctx = rebuilt
    code = ctx.codes[0]
    cases = [
        ("POST", "/api/move", {"areas": ["E01999999"], "team": "T01"}, {}, None, 400, "unknown"),
        ("POST", "/api/move", {"areas": [code], "team": "T77"}, {}, None, 400, "unknown team"),
        ("POST", "/api/move", {"areas": [], "team": "T01"}, {}, None, 422, "areas"),
        ("POST", "/api/move", None, {}, b'{"areas": [', 422, "not valid JSON"),
        ("POST", "/api/move", {"areas": code, "team": "T01"}, {}, None, 422, "areas"),
        ("POST", "/api/move", {"areas": [code], "team": 3}, {}, None, 422, "team"),
        ("POST", "/api/lock", {"teams": ["T77"]}, {}, None, 400, "unknown team"),
        ("POST", "/api/save", {"name": "../outside"}, {}, None, 400, "folder name"),
        ("POST", "/api/undo", None, {"Origin": "http://evil.example"}, None, 403, "Origin"),
        ("GET", "/api/state", None, {"Host": f"attacker.example:{port}"}, None, 403, "Host"),
        ("GET", "/api/state", None, {"Host": f"localhost:{port}"}, None, 403, "Host"),
        ("POST", "/api/undo", None, {}, None, 400, "nothing to undo"),
        ("GET", "/api/nothing", None, {}, None, 404, "no such"),
    ]
    for method, path, body, headers, raw, status, text in cases:
        got, reply = _call(url + path, method, body, headers, raw)
        assert got == status, (path, body, headers, reply)
        assert text in reply["error"], (path, reply)
    # nothing was changed by any of them
    status, view = _call(url + "/api/state")
    assert status == 200 and view["changes_vs_optimised"]["areas"] == 0 and not view["can_undo"]

    # locks the allocation cannot keep: refused with its reason, as a 409 or a failed job
    plan = view["assignment"]
    team = sorted(view["teams"])[-1]
    members = [c for c in ctx.codes if plan[c] == team]
    far = next(c for c in ctx.codes if plan[c] != team and not _touches(ctx, c, members))
    status, reply = _call(url + "/api/lock", "POST", {"areas": [members[0]]})
    assert status == 200
    _call(url + "/api/move", "POST", {"areas": [far], "team": team})
    _call(url + "/api/lock", "POST", {"areas": [far]})
    status, reply = _call(url + "/api/reoptimise", "POST")
    assert status == 409 and "one contiguous piece" in reply["error"], reply
    for _ in range(3):
        assert _call(url + "/api/undo", "POST")[0] == 200
    # a team over the band's maximum, locked: the allocation model refuses it, the page says why
    code, _, _ = next(m for m in (_neighbour_move_into(ctx, plan, team),) if m is not None)
    _call(url + "/api/move", "POST", {"areas": [code], "team": team})
    _call(url + "/api/lock", "POST", {"teams": [team]})
    status, reply = _call(url + "/api/reoptimise", "POST")
    assert status == 202 and reply["job"]["state"] == "running"
    assert _call(url + "/api/move", "POST", {"areas": [code], "team": plan[code]})[0] == 409
    job = _wait_job(url)
    assert job["state"] == "failed" and "above the band's maximum" in job["message"], job
    for _ in range(2):
        assert _call(url + "/api/undo", "POST")[0] == 200
    status, view = _call(url + "/api/state")
    assert view["assignment"] == plan and not view["locked_teams"] and not view["can_undo"]


def _touches(ctx, code, members) -> bool:
    index = ctx.index()
    near = {ctx.codes[j] for j in ctx.neighbours[index[code]]} | {code}
    return bool(near & set(members))


def _neighbour_move_into(ctx, plan, team):
    """An area next to ``team`` whose own team stays in one piece without it."""
    from planning.edit.live import pieces

    index = ctx.index()
    for code in ctx.codes:
        own = plan[code]
        if own == team or not any(plan[ctx.codes[j]] == team for j in ctx.neighbours[index[code]]):
            continue
        rest = [index[c] for c in ctx.codes if plan[c] == own and c != code]
        if rest and pieces(rest, ctx.neighbours) == 1:
            return code, own, team
    return None


def _wait_job(url: str, seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, out = _call(url + "/api/job")
        assert status == (409 if out["job"]["state"] == "failed" else 200), out
        if out["job"]["state"] != "running":
            return out["job"]
        time.sleep(0.5)
    raise AssertionError("re-optimising did not finish")


def _neighbour_move(ctx, assignment):
    """An area on a team boundary whose team stays in one piece without it, and the team
    next door: the move a planner makes."""
    from planning.edit.live import pieces

    for i, code in enumerate(ctx.codes):
        team = assignment[code]
        rest = [j for j, c in enumerate(ctx.codes) if assignment[c] == team and j != i]
        others = {assignment[ctx.codes[j]] for j in ctx.neighbours[i]} - {team}
        if rest and others and pieces(rest, ctx.neighbours) == 1:
            return code, team, sorted(others)[0]
    raise AssertionError("no boundary area found")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    sync_playwright = sync_playwright_or_skip()
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
        )
        yield b
        b.close()


def test_edit_in_the_browser_lock_reoptimise_save_and_compare(
    server, browser, rebuilt, tmp_path, data_dir
):
    url = server["url"]
    _, ctx = rebuilt
    page = browser.new_page(viewport={"width": 1300, "height": 860})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + "/")
    page.wait_for_function("window.planningEditor && planningEditor.ready")
    assignment = page.evaluate("planningEditor.state().assignment")
    code, source, target = _neighbour_move(ctx, assignment)
    index = ctx.index()
    before = page.evaluate("planningEditor.state().teams")

    # pick the team next door and click the area: a real click, hit-tested by the browser
    page.select_option("#target", target)
    x, y = page.evaluate("c => planningEditor.screenPoint(c)", code)
    assert page.evaluate("([x, y]) => document.elementFromPoint(x, y).dataset.code", [x, y]) == code
    page.mouse.click(x, y)
    page.wait_for_function(
        "([c, t]) => planningEditor.state().assignment[c] === t", arg=[code, target]
    )
    after = page.evaluate("planningEditor.state()")
    residents = round(ctx.residents[index[code]])
    assert after["teams"][target]["residents"] == before[target]["residents"] + residents
    assert after["teams"][source]["residents"] == before[source]["residents"] - residents
    assert after["teams"][target]["areas"] == before[target]["areas"] + 1
    row = page.locator(f'#teams tr[data-team="{target}"]').inner_text()
    assert f"{after['teams'][target]['residents']:,}" in row
    assert after["changes_vs_optimised"]["areas"] == 1
    assert "1 areas" in page.locator("#changes").inner_text()
    # the band warning, at once, with the reason
    s = ctx.settings
    outside = {
        t: f
        for t, f in after["teams"].items()
        if not s.min_population <= f["population"] <= s.max_population
    }
    warning = page.locator("#band-warning").inner_text()
    if outside:
        for team in outside:
            assert page.locator(f'#teams tr.bad[data-team="{team}"]').count() == 1
        assert "band" in warning and "fail a check" in warning
    else:
        assert "every team passes" in warning
    # undo and redo
    page.click("#undo")
    page.wait_for_function(
        "([c, t]) => planningEditor.state().assignment[c] === t", arg=[code, source]
    )
    page.click("#redo")
    page.wait_for_function(
        "([c, t]) => planningEditor.state().assignment[c] === t", arg=[code, target]
    )

    # Shift+drag brushes a box: the areas whose label points are inside move to the team
    page.evaluate("t => planningEditor.setTarget(t)", source)
    x, y = page.evaluate("c => planningEditor.screenPoint(c)", code)
    page.keyboard.down("Shift")
    page.mouse.move(x - 3, y - 3)
    page.mouse.down()
    page.mouse.move(x + 3, y + 3, steps=4)
    page.mouse.up()
    page.keyboard.up("Shift")
    page.wait_for_function(
        "([c, t]) => planningEditor.state().assignment[c] === t", arg=[code, source]
    )
    page.click("#undo")
    page.wait_for_function(
        "([c, t]) => planningEditor.state().assignment[c] === t", arg=[code, target]
    )

    # a band break is saved only with the override
    if outside:
        page.fill("#save-name", "over-band")
        page.click("#save")
        page.wait_for_function("document.getElementById('saved').textContent !== 'saving ...'")
        assert "band override" in page.locator("#saved").inner_text()
        assert not (server["saves"] / "over-band").exists()

    # lock the team the area left, re-optimise the rest
    locked = source
    page.locator(f'#teams tr[data-team="{locked}"] input.lock').check()
    page.wait_for_function("t => planningEditor.state().locked_teams.includes(t)", arg=locked)
    reoptimised = locks_supported()
    if not reoptimised:  # until the allocation model reads teams.fixed_areas_csv
        assert page.locator("#reoptimise").is_disabled()
        assert "fixed_areas_csv" in page.locator("#job").inner_text()
    else:
        previous = page.evaluate("(planningEditor.state().job || {}).started || null")
        started = time.monotonic()
        page.click("#reoptimise")
        page.wait_for_function(
            """p => { const j = planningEditor.state().job;
                     return j && j.started !== p && j.state !== 'running'; }""",
            arg=previous,
            timeout=90_000,
        )
        seconds = time.monotonic() - started
        job = page.evaluate("planningEditor.state().job")
        assert job["state"] == "done", job
        text = page.locator("#job").inner_text()
        assert re.search(r"status (optimal|time_limit), .* gap \d+\.\d\d%", text), text
        assert seconds < 60
    state = page.evaluate("planningEditor.state()")
    if reoptimised:
        kept = [c for c, t in assignment.items() if t == source and c != code]
        assert len({state["assignment"][c] for c in kept}) == 1  # kept together
        assert state["problems"] == {}, state["problems"]
    override = bool(state["problems"])

    # save, and read the saved folder back
    page.fill("#save-name", "edited")
    if override:
        page.check("#override")
    page.click("#save")
    page.wait_for_function("document.getElementById('saved').textContent.startsWith('saved ')")
    saved = server["saves"] / "edited"
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["status"] == ("edited, band override" if override else "edited")
    assert manifest["edit"]["band_override"] is override
    assert manifest["edit"]["locked_teams"] == [locked]
    assert manifest["edit"]["moved_by_hand"] == [
        {"area_code": code, "from_team": source, "to_team": target}
    ]
    if reoptimised:
        assert manifest["edit"]["reoptimisations"][0]["status"] in ("optimal", "time_limit")
    assert (
        manifest["bound"]
        == json.loads((Path(state_run(server)) / "manifest.json").read_text())["bound"]
    )
    assert manifest["objective"] >= manifest["bound"] and 0 <= manifest["gap"] < 1
    plan = pd.read_csv(saved / "current_plan.csv")
    areas = pd.read_csv(saved / "areas.csv")
    assert list(plan.columns) == ["area_code", "team_id"]
    assert plan.set_index("area_code").team_id.to_dict() == state["assignment"]
    assert areas.set_index("area_code").team_id.to_dict() == state["assignment"]
    assert "current_plan.csv" in manifest["outputs_sha256"]
    assert "This plan was edited by hand" in (saved / "report.html").read_text(encoding="utf-8")
    # a second save under the same name is refused, never overwritten
    status, reply = _call(server["url"] + "/api/save", "POST", {"name": "edited"})
    assert status == 409 and "already exists" in reply["error"], reply

    # planning compare accepts the saved folder beside the optimised run, as they were written
    out = tmp_path / "compare"
    assert main(["compare", state_run(server), str(saved), "--out", str(out)]) == 0
    table = pd.read_csv(out / "compare.csv").set_index("metric")
    assert float(table.at["areas_changing_team_vs_first", "edited"]) == float(
        state["changes_vs_optimised"]["areas"]
    )
    assert (
        json.loads((out / "edited" / "manifest.json").read_text())["status"] == manifest["status"]
    )
    assert manifest["edit"]["changes_vs_optimised"] == state["changes_vs_optimised"]
    page.screenshot(path=str(tmp_path / "editor.png"))
    assert errors == []
    page.close()


def state_run(server) -> str:
    status, payload = _call(server["url"] + "/api/map")
    assert status == 200
    return payload["run"]
