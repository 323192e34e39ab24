"""Command line: planning init | validate | run | compare | sweep | england | edit | data fetch.

Exit codes: 0 ok, 2 bad input, 3 infeasible, 1 other, 130 interrupted (SIGINT), 143 SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from planning.errors import STOPPED, PlanningError, Terminated


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="planning", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    data_help = "public data directory (else PLANNING_DATA_DIR, else ../shared/data)"
    init = sub.add_parser("init", help="write a starter scenario for any English councils")
    init.add_argument("councils", nargs="+", metavar="COUNCIL", help="E10/E06/E08/E09/E07 codes")
    init.add_argument("--out", type=Path, required=True, help="scenario file to write (.yaml)")
    init.add_argument("--force", action="store_true", help="replace an existing file")
    init.add_argument("--data-dir", type=Path, help=data_help)
    check = sub.add_parser("validate", help="check a scenario and its data without solving")
    check.add_argument("scenario", type=Path)
    check.add_argument("--data-dir", type=Path, help=data_help)
    run = sub.add_parser("run", help="run a scenario and write its outputs")
    run.add_argument("scenario", type=Path)
    run.add_argument("--out", type=Path, required=True, help="output folder")
    run.add_argument("--data-dir", type=Path, help=data_help)
    _studio_parsers(sub, data_help)
    england = sub.add_parser(
        "england", help="plan every English council (or --councils) on Dask, with national outputs"
    )
    england.add_argument(
        "template", type=Path, help="England template, e.g. scenarios/england.yaml"
    )
    england.add_argument("--out", type=Path, required=True, help="national output folder")
    england.add_argument("--councils", nargs="+", metavar="CODE", help="only these councils")
    england.add_argument(
        "--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, e.g. tcp://host:8786"
    )
    england.add_argument(
        "--workers", type=int, metavar="N", help="LocalCluster worker processes (default: cores)"
    )
    england.add_argument("--data-dir", type=Path, help=data_help)
    edit = sub.add_parser(
        "edit", help="adjust a run's plan by hand in the browser (a local server on 127.0.0.1)"
    )
    edit.add_argument("run_dir", type=Path, metavar="OUT_DIR", help="a folder planning run wrote")
    edit.add_argument(
        "--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0: any free)"
    )
    edit.add_argument(
        "--save-dir",
        type=Path,
        metavar="DIR",
        help="folder where saved plans are written as new run folders (default: OUT_DIR's parent)",
    )
    data = sub.add_parser("data", help="the public data the planner reads")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    fetch = data_sub.add_parser(
        "fetch", help="download the national files from their publishers, checked by SHA-256"
    )
    fetch.add_argument(
        "--to",
        type=Path,
        metavar="DIR",
        help="data directory to fill (else PLANNING_DATA_DIR, else ../shared/data)",
    )
    fetch.add_argument(
        "--base-url",
        metavar="URL",
        help="fetch from this host instead of the publishers' (a mirror, laid out alike)",
    )
    return parser


def _studio_parsers(sub, data_help: str) -> None:
    compare = sub.add_parser(
        "compare",
        help="run several scenarios (or read run folders, e.g. a plan saved by planning edit) "
        "and compare them side by side (first = reference)",
    )
    compare.add_argument("scenarios", type=Path, nargs="+", metavar="SCENARIO_OR_RUN_FOLDER")
    compare.add_argument("--out", type=Path, required=True, help="output folder")
    compare.add_argument("--data-dir", type=Path, help=data_help)
    sweep = sub.add_parser("sweep", help="run a scenario for every value of one or more settings")
    sweep.add_argument("scenario", type=Path)
    sweep.add_argument(
        "--set",
        dest="settings",
        action="append",
        required=True,
        metavar="KEY=V1,V2",
        help="dotted setting and its values, e.g. "
        "teams.max_population=45000,50000 (repeat for a grid)",
    )
    sweep.add_argument("--out", type=Path, required=True, help="output folder")
    sweep.add_argument(
        "--runs",
        action="store_true",
        help="also write every variant's run folder (report, maps, workbook) under OUT/runs",
    )
    sweep.add_argument("--data-dir", type=Path, help=data_help)


def _init(args: argparse.Namespace) -> int:
    import os

    from planning.config import load_scenario
    from planning.errors import ConfigError
    from planning.starter import starter_scenario

    out: Path = args.out
    if out.exists() and not args.force:
        raise ConfigError(f"{out} already exists; choose another --out or pass --force")
    if not out.parent.is_dir():
        raise ConfigError(f"--out: folder {out.parent} does not exist")
    starter = starter_scenario([c.strip().upper() for c in args.councils], args.data_dir)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(starter.text, encoding="utf-8")
        load_scenario(tmp)  # the starter must load as it is
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"wrote {out} (nesting: {starter.nesting}); run it with: planning run {out} --out DIR")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from planning.pipeline import validate_scenario

    summary = validate_scenario(args.scenario, args.data_dir)
    print(json.dumps(summary, indent=2))
    print(f"{args.scenario}: valid")
    return 0


def _run(args: argparse.Namespace) -> int:
    from planning.pipeline import run_scenario
    from planning.report import write_outputs

    start = time.perf_counter()
    result = run_scenario(args.scenario, args.data_dir)
    written = write_outputs(result, args.out)
    teams = result.teams
    print(
        f"{result.scenario.name}: {len(teams.teams)} teams, status {teams.status}, objective "
        f"{teams.objective:,.0f} person-km, bound {teams.bound:,.0f}, gap {100 * teams.gap:.2f}%, "
        f"solve {teams.seconds:.1f} s; total {time.perf_counter() - start:.1f} s"
    )
    if teams.bound_holders:
        print(
            f"at the plan's own team counts the gap is {100 * teams.count_gap:.2f}%; the rest "
            "is held by other counts (report.html, manifest "
            "allocation_bound_holders)"
        )
    if teams.below_band_teams:
        print(
            f"note: {', '.join(teams.below_band_teams)} below the band's minimum "
            "(teams.undersized: one_team); every output flags them (teams.csv below_band)"
        )
    print(f"wrote {len(written)} files to {args.out}")
    return 0


def _edit(args: argparse.Namespace) -> int:
    import contextlib

    from planning.edit.server import bind, serve
    from planning.edit.service import EditService
    from planning.errors import ConfigError

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: give a port from 1 to 65535 (0: any free port)")
    bind(args.port).close()  # a port in use is refused before the run folder is read
    service = EditService(args.run_dir, args.save_dir, lambda line: print(line, flush=True))

    def ready(url: str) -> None:
        print(
            f"editing {args.run_dir} at {url} (saves go to {service.save_dir}); "
            "press Ctrl-C to stop",
            flush=True,
        )

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the server is stopped
        serve(service, args.port, ready)
    print("stopped; saved: " + (", ".join(service.saved) or "nothing"), flush=True)
    return 0


def _data(args: argparse.Namespace) -> int:
    import os

    from planning.data import shared_data_dir
    from planning.fetch import fetch_data

    dest = args.to or Path(os.environ.get("PLANNING_DATA_DIR") or shared_data_dir())
    done = fetch_data(
        dest, args.base_url, progress=lambda line: print(line, file=sys.stderr, flush=True)
    )
    counts = {s: sum(f.status == s for f in done) for s in ("downloaded", "converted", "present")}
    print(
        f"{dest}: {len(done)} files valid ({counts['downloaded']} downloaded, "
        f"{counts['converted']} downloaded as R data and converted, "
        f"{counts['present']} already present)"
    )
    return 0


class _Progress:
    """A progress bar on stderr (tqdm if installed, else one line per step); logging goes
    through it so log lines do not break the bar."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done, self._bar, self._redirect = total, desc, 0, None, None

    def __enter__(self) -> _Progress:
        return self

    def _start(self) -> None:
        """Show the bar from the first finished step, so bad input gives just the error."""
        try:
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm
        except ImportError:
            return
        self._bar = tqdm(
            total=self.total, desc=self.desc, file=sys.stderr, unit="step", dynamic_ncols=True
        )
        self._redirect = logging_redirect_tqdm()
        self._redirect.__enter__()

    def __call__(self, step: str) -> None:
        if self.done == 0:
            self._start()
        self.done += 1
        if self._bar is None:
            print(f"[{self.done}/{self.total}] {step}", file=sys.stderr)
        else:
            self._bar.set_postfix_str(step, refresh=False)
            self._bar.update(1)

    def __exit__(self, *exc) -> None:
        if self._redirect is not None:
            self._redirect.__exit__(*exc)
        if self._bar is not None:
            self._bar.close()


def _compare(args: argparse.Namespace) -> int:
    from planning.pipeline import STAGES
    from planning.studio import compare_scenarios, write_compare

    start = time.perf_counter()
    n = len(args.scenarios)
    with _Progress(n * (len(STAGES) + 1), "compare") as progress:
        if any(path.is_dir() for path in args.scenarios):  # run folders, e.g. an edited plan
            from planning.edit.run_folder import compare_paths

            comparison = compare_paths(args.scenarios, args.data_dir, progress)
        else:
            comparison = compare_scenarios(args.scenarios, args.data_dir, progress)
        written = write_compare(comparison, args.out, progress)
    table = comparison.table.set_index("metric")
    keys = [
        "teams",
        "residents_per_team_min",
        "residents_per_team_max",
        "gap",
        "areas_changing_team_vs_first",
        "total_fte",
        "total_cost_gbp",
    ]
    print(table.loc[[k for k in keys if k in table.index], comparison.labels].to_string())
    print(
        f"compared {n} scenarios in {time.perf_counter() - start:.1f} s; wrote "
        f"{len(written)} files and folders to {args.out}"
    )
    return 0


def _sweep(args: argparse.Namespace) -> int:
    import math

    from planning.pipeline import STAGES
    from planning.studio import parse_set, sweep_scenario, write_sweep

    start = time.perf_counter()
    settings = [parse_set(text) for text in args.settings]
    variants = math.prod(len(s.values) for s in settings)
    steps = variants * (len(STAGES) + (1 if args.runs else 0))
    with _Progress(steps, "sweep") as progress:
        sweep = sweep_scenario(args.scenario, settings, args.data_dir, progress)
        written = write_sweep(sweep, args.out, runs=args.runs, progress=progress)
    cols = [
        c
        for c in [
            "variant",
            "teams",
            "gap",
            "total_fte",
            "total_cost_gbp",
            "budget_position",
            "stages_reused",
        ]
        if c in sweep.table
    ]
    print(sweep.table[cols].to_string(index=False))
    print(
        f"ran {variants} variants in {time.perf_counter() - start:.1f} s; wrote "
        f"{len(written)} files and folders to {args.out}"
    )
    return 0


def _england(args: argparse.Namespace) -> int:
    from planning.data import resolve_data_dir
    from planning.england import run_england
    from planning.england.national import write_national
    from planning.errors import ConfigError

    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: give at least 1 worker process")
    if args.workers is not None and args.scheduler:
        raise ConfigError("--workers sizes a LocalCluster; with --scheduler the cluster is yours")
    bar = _CouncilBar()
    try:
        run = run_england(
            args.template,
            args.out,
            councils=args.councils,
            data_dir=args.data_dir,
            scheduler=args.scheduler,
            workers=args.workers,
            events=bar,
        )
    finally:
        bar.close()
    written = write_national(run, resolve_data_dir(args.data_dir))
    done = sum(r.get("status") == "done" for r in run.records.values())
    failed = [c for c, r in sorted(run.records.items()) if r.get("status") != "done"]
    print(
        f"england: {done} of {len(run.councils)} councils planned ({len(run.ran)} run now, "
        f"{len(run.skipped)} already done), {len(failed)} failed"
        + (f" ({', '.join(failed)})" if failed else "")
        + f"; {run.wall_seconds:.0f} s on {run.workers} workers; wrote {len(written)} national "
        f"files to {args.out}"
    )
    return 0 if not failed else 1


class _CouncilBar:
    """Councils done, failed and left, on stderr (tqdm); prints the Dask dashboard address."""

    def __init__(self) -> None:
        self.bar = None
        self.counts = {"done": 0, "failed": 0, "skipped": 0}
        self.left = 0

    def __call__(self, kind: str, info: dict) -> None:
        if kind == "skip":
            self.counts["skipped"] += 1
            return
        if kind == "start":
            if not info["todo"]:
                print(f"england: all {info['skipped']} councils already done", file=sys.stderr)
                return
            print(
                f"england: {info['todo']} councils to run, {info['skipped']} already done; "
                f"{info['workers']} Dask workers at {info['scheduler'] or '-'}; dashboard "
                f"{info['dashboard'] or 'not available'}",
                file=sys.stderr,
            )
            from tqdm import tqdm

            self.bar = tqdm(total=info["todo"], desc="councils", unit="council", file=sys.stderr)
            self.left = info["todo"]
            return
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.left -= 1
        if self.bar is not None:
            self.bar.set_postfix(
                done=self.counts["done"],
                failed=self.counts["failed"],
                left=self.left,
                last=info.get("code", ""),
                refresh=False,
            )
            self.bar.update(1)
        if kind == "failed":
            message = str(info.get("message", "")).splitlines()[0][:160]
            print(f"\n{info['code']} {info['name']}: failed: {message}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _on_sigterm(signum, frame) -> None:
    STOPPED.set()
    raise Terminated


def _kept(args: argparse.Namespace) -> str:
    """What an interrupted command leaves behind."""
    if args.command == "england":
        return (
            f"the councils finished so far are kept in {args.out}/records; run the same "
            "command again to do only the rest"
        )
    return "no outputs were written"


def main(argv: list[str] | None = None) -> int:
    import signal

    args = _parser().parse_args(argv)
    if getattr(args, "out", None) is not None and args.command not in ("init", "england"):
        from planning.report import check_out_dir

        try:
            check_out_dir(args.out)  # refuse a bad --out before solving, not after
        except PlanningError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
    STOPPED.clear()
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        previous = signal.getsignal(signal.SIGTERM)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        handlers = {
            "init": _init,
            "validate": _validate,
            "run": _run,
            "compare": _compare,
            "sweep": _sweep,
            "england": _england,
            "data": _data,
            "edit": _edit,
        }
        return handlers[args.command](args)
    except PlanningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print(f"terminated (SIGTERM); {_kept(args)}", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"interrupted; {_kept(args)}", file=sys.stderr)
        return 130
    except OSError as exc:  # e.g. an output folder that cannot be written
        print(
            f"error: {exc.strerror or exc}: {exc.filename or ''}; no outputs were written",
            file=sys.stderr,
        )
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
