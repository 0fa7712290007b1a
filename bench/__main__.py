"""Measure every benchmark figure side by side, print them with the ratios and the issues' targets,
write the raw JSON and regenerate BENCHMARKS.md from it.

nox -s bench                                  # everything, 5 runs a figure (suite -n 2, unit run: 3)
nox -s bench -- --runs 1 --skip suite,suite-serial,cold-build
nox -s bench -- --only harness,floor --out /tmp/b.json --markdown /tmp/B.md
nox -s bench -- --only exchanges-latency,exchanges-startup,exchanges-load,exchanges-memory --runs 1
"""

from __future__ import annotations

import argparse
import json
import traceback
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from . import exchanges, figures, report, sessions
from .machine import load_average, machine
from .targets import exchanges_targets, ratios, targets
from .timing import Figure

PROG = "python -m bench"
STEPS = (
    "floor",
    "harness",
    "up-wait",
    "one-test",
    "no-stack",
    "exit",
    "unit-imports",
    "suite",
    "suite-serial",
    "xdist",
    "builds",
    "cold-build",
    "faults",
    "ctrl-c",
    "idle-cpu",
    "coverage",
    "exchanges-latency",
    "exchanges-startup",
    "exchanges-load",
    "exchanges-memory",
)


def _steps(args: argparse.Namespace) -> dict[str, Callable[[], Sequence[Figure]]]:
    runs = args.runs
    image = cache(figures.user_service_image)  # builds the images if needed, once
    return {
        "floor": lambda: [figures.floor(image(), runs)],
        "harness": lambda: figures.harness_start_and_teardown(runs),
        "up-wait": lambda: [figures.compose_up_wait(runs), figures.compose_up_wait(runs, interval="1s")],
        "one-test": lambda: sessions.one_test_session(runs),
        "no-stack": lambda: [sessions.no_stack_run(runs)],
        "exit": lambda: sessions.exit_after_last_test(runs),
        "unit-imports": lambda: sessions.unit_run_imports(args.long_runs),
        "suite": lambda: [sessions.integration_suite(args.long_runs, workers=2)],
        "suite-serial": lambda: [sessions.integration_suite(1, workers=None)],
        "xdist": lambda: sessions.xdist_worker_overhead(runs),
        "builds": lambda: figures.warm_builds(image(), runs),
        "cold-build": lambda: [figures.cold_build(max(1, runs // 2))],
        "faults": lambda: figures.fault_times(runs),
        "ctrl-c": lambda: sessions.interrupt_during_startup(runs),
        "idle-cpu": lambda: list(figures.idle_cpu(args.idle_window)),
        "coverage": lambda: [
            *figures.coverage_start_and_teardown(runs),
            sessions.integration_suite(args.long_runs, workers=2, coverage=True),
        ],
        "exchanges-latency": lambda: exchanges.hop_latency(runs),
        "exchanges-startup": lambda: exchanges.startup(runs),
        "exchanges-load": lambda: exchanges.load_throughput(min(runs, args.load_pairs)),
        "exchanges-memory": lambda: exchanges.recording_memory(workers=2),
    }


def _names(text: str) -> list[str]:
    names = [name for name in text.split(",") if name]
    unknown = set(names) - set(STEPS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown step(s) {', '.join(sorted(unknown))}; steps: {','.join(STEPS)}"
        )
    return names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="runs of each figure (default 5)")
    parser.add_argument(
        "--long-runs", type=int, default=3, help="runs of the long sessions: suite -n 2, unit run (default 3)"
    )
    parser.add_argument(
        "--load-pairs",
        type=int,
        default=3,
        help="`nox -s load` runs with exchanges on and off, each (default 3; at most --runs)",
    )
    parser.add_argument("--idle-window", type=float, default=5.0, help="seconds per idle-CPU window")
    parser.add_argument("--skip", type=_names, default=[], help=f"steps to leave out, of: {','.join(STEPS)}")
    parser.add_argument("--only", type=_names, default=[], help="run only these steps")
    parser.add_argument("--out", type=Path, default=report.DEFAULT_JSON, help="the raw JSON")
    parser.add_argument(
        "--markdown", type=Path, default=report.DEFAULT_OUT, help="the page regenerated from it"
    )
    return parser


def _runs_text(args: argparse.Namespace) -> str:
    return (
        f"{args.runs} per figure (after an untimed warm-up where a figure has one); integration suite -n 2 "
        f"and unit run: {args.long_runs}; serial suite: 1; cold build: {max(1, args.runs // 2)}; "
        f"idle CPU: 3 windows of {args.idle_window:g} s; `nox -s load` with exchanges on and off: "
        f"{min(args.runs, args.load_pairs)} each; recording memory: 1 suite"
    )


def _print_figure(figure: Figure) -> None:
    summary = figure.summary()
    values = " / ".join(report.format_value(summary[k], figure.unit) for k in ("min", "median", "max"))
    print(f"  {figure.title}: {values} (n={len(figure.samples)})\n      {figure.command}", flush=True)


def main() -> None:
    args = _parser().parse_args()
    chosen = [name for name in STEPS if (not args.only or name in args.only) and name not in args.skip]
    info = machine()
    steps = _steps(args)
    results: list[Figure] = []
    errors: dict[str, str] = {}
    for name in chosen:
        print(f"== {name}", flush=True)
        try:
            produced = list(steps[name]())
        except Exception as error:  # noqa: BLE001 - one failed step must not lose the others' figures
            traceback.print_exc()
            errors[name] = f"{type(error).__name__}: {error}"
            continue
        for figure in produced:
            _print_figure(figure)
        results.extend(produced)
    info["load_average_at_end"] = load_average()

    summaries = [figure.summary() for figure in results]
    medians = report.medians(summaries)
    verdicts = targets(medians)
    costs = exchanges_targets(medians)
    data = {
        "schema": 2,
        "machine": info,
        "options": {
            "runs": args.runs,
            "long_runs": args.long_runs,
            "idle_window": args.idle_window,
            "runs_text": _runs_text(args),
            "skipped": [name for name in STEPS if name not in chosen],
        },
        "figures": summaries,
        "ratios": ratios(medians),
        "targets": [verdict.as_dict() for verdict in verdicts],
        "exchanges_targets": [verdict.as_dict() for verdict in costs],
        "errors": errors,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    report.write(args.out, args.markdown)

    print("\nratios (medians, same run):")
    for name, value in ratios(medians).items():
        print(f"  {name}: {value:.2f}")
    print("\ntargets (issue 19, medians of this run):")
    for verdict in verdicts:
        print(f"  {verdict.target}: {verdict.measured or '-'} — {verdict.verdict}")
    print("\ntargets (issue 26, medians of this run):")
    for verdict in costs:
        print(f"  {verdict.target}: {verdict.measured or '-'} — {verdict.verdict}")
    print(f"\nwrote {args.out} and {args.markdown}")
    if errors:
        raise SystemExit(f"steps failed: {', '.join(errors)} (see above; the others' figures were written)")


if __name__ == "__main__":
    main()
