"""Command line: planning init | validate | run | compare | sweep.

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
    return parser


def _studio_parsers(sub, data_help: str) -> None:
    compare = sub.add_parser(
        "compare", help="run several scenarios and compare them side by side (first = reference)"
    )
    compare.add_argument("scenarios", type=Path, nargs="+", metavar="SCENARIO")
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
    if teams.below_band_teams:
        print(
            f"note: {', '.join(teams.below_band_teams)} below the band's minimum "
            "(teams.undersized: one_team); every output flags them (teams.csv below_band)"
        )
    print(f"wrote {len(written)} files to {args.out}")
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


def _on_sigterm(signum, frame) -> None:
    STOPPED.set()
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    import signal

    args = _parser().parse_args(argv)
    if getattr(args, "out", None) is not None and args.command != "init":
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
        }
        return handlers[args.command](args)
    except PlanningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print("terminated (SIGTERM); no outputs were written", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("interrupted; no outputs were written", file=sys.stderr)
        return 130
    except OSError as exc:  # e.g. an output folder that cannot be written
        print(
            f"error: {exc.strerror or exc}: {exc.filename or ''}; no outputs were written",
            file=sys.stderr,
        )
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
