"""Command line: planning validate | run. Exit codes: 0 ok, 2 bad input, 3 infeasible, 1 other."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from planning.errors import PlanningError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="planning", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    data_help = "public data directory (else PLANNING_DATA_DIR, else ../shared/data)"
    check = sub.add_parser("validate", help="check a scenario and its data without solving")
    check.add_argument("scenario", type=Path)
    check.add_argument("--data-dir", type=Path, help=data_help)
    run = sub.add_parser("run", help="run a scenario and write its outputs")
    run.add_argument("scenario", type=Path)
    run.add_argument("--out", type=Path, required=True, help="output folder")
    run.add_argument("--data-dir", type=Path, help=data_help)
    return parser


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
    print(f"wrote {len(written)} files to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return _validate(args) if args.command == "validate" else _run(args)
    except PlanningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; no outputs were written", file=sys.stderr)
        return 130
