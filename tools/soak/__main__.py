"""Soak: many integration runs, some killed at chosen phases; ends with a leak count and a flake count.

It tests the plugin's cleanup on this repository's own suite (the soak is the
plugin's test, kept with its tests; the suite is its subject):

nox -s soak                              # up to 40 minutes or 60 runs, whichever ends first
nox -s soak -- --minutes 10 --runs 20    # shorter
nox -s soak -- --seed 7                  # replay the same plans

Each run takes a random subset of the integration suite (two fast tests and
one fault test, named on the command line), runs it serially or on two xdist
workers, or together with a second run from the same checkout, and removes its
stacks itself (CI=1) or through the detached reaper. About half of the runs are
killed with SIGINT, SIGTERM or SIGKILL once they reach a chosen phase, read from
the engine and the run's output: image check, compose up, mid-test, during a
fault, teardown. At the end, once no orphaned compose or reaper process of the
soak is left, the harness's own sweep runs, and every container, network and
volume of the soak's projects still there is a leak. A run that was not killed
and failed, hung, or left its stacks behind is a flake. Both must be 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pytest_microstack._core.lifecycle import sweep_leftovers
from pytest_microstack._engine.engine import connect
from pytest_microstack._ownership import PROJECT_PREFIX

from tools.collect import CollectError, collect

from .phases import PHASES, engine_resources
from .run import Outcome, Plan, execute

# The repository whose integration suite the soak runs (tools/soak/ -> root).
ROOT = Path(__file__).resolve().parents[2]
# BENCHMARKS.md shows the last soak from here (bench/report.py reads it).
RESULTS = ROOT / "bench" / "results" / "soak.json"
SIGNALS = ("SIGINT", "SIGTERM", "SIGKILL")
FAST_TESTS = (
    "tests/test_inter_service_flow.py::test_validate_user_goes_through_user_service",
    "tests/test_inter_service_flow.py::test_created_product_is_attributed_to_its_creator",
    "tests/test_inter_service_flow.py::test_tampered_token_is_refused_by_both_services",
    "tests/test_inter_service_flow.py::test_request_id_crosses_both_services_and_their_logs",
    "tests/scenarios/test_new_seller_lists_a_product.py::test_new_seller_lists_a_product",
    "tests/scenarios/test_new_seller_lists_a_product.py::test_listing_without_logging_in_is_refused",
)
FAULT_TESTS = (  # each holds its fault long enough (>= 0.5 s) for the watcher to see it
    "tests/failures/test_user_service_faults.py::test_unreachable_user_service_gives_503_fast[crash]",
    "tests/failures/test_user_service_faults.py::test_unreachable_user_service_gives_503_fast[partition]",
    "tests/failures/test_user_service_faults.py::test_hung_user_service_gives_504_within_the_timeout",
    "tests/failures/test_user_service_faults.py::test_latency_spike_over_the_timeout_gives_504",
)
ORPHANS_WITHIN = 180.0  # seconds for orphaned compose and reaper processes of the soak to finish


def plans(rng: random.Random, soak_id: str, counter: int, kill_ratio: float) -> list[Plan]:
    """The next iteration: one serial run, one run on two workers, or two serial runs at once."""
    mode = rng.choices(["serial", "xdist", "pair"], weights=[45, 30, 25])[0]
    made = []
    for number in range(2 if mode == "pair" else 1):
        tests = [*rng.sample(FAST_TESTS, 2), rng.choice(FAULT_TESTS)]
        rng.shuffle(tests)
        kill = rng.random() < kill_ratio
        made.append(
            Plan(
                run_id=f"{soak_id}{counter + number:03d}",
                tests=tests,
                workers=2 if mode == "xdist" else 0,
                wait_for_teardown=rng.random() < 0.3,
                kill_phase=rng.choice(PHASES) if kill else None,
                kill_signal=rng.choice(SIGNALS) if kill else None,
                paired=mode == "pair",
            )
        )
    return made


def check_tests_exist() -> None:
    """Fail at once, naming them, if the suite no longer has the tests the soak picks from."""
    try:
        listed = collect(*FAST_TESTS, *FAULT_TESTS, cwd=ROOT)
    except CollectError as error:
        sys.exit(f"soak: the tests it picks from can't be collected: {error}")
    missing = [test for test in (*FAST_TESTS, *FAULT_TESTS) if test not in listed]
    if missing:
        sys.exit(f"soak: tests not found in the suite: {missing}")


def orphans(soak_prefix: str) -> list[str]:
    """Processes (compose commands, reapers) still working on the soak's projects."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if soak_prefix in cmdline:
            found.append(f"{entry.name}: {cmdline[:160]}")
    return found


def run_iteration(batch: list[Plan], client: Any, rng: random.Random) -> list[Outcome]:
    """Run the plans of one iteration at once (two of them share the checkout) and wait for all."""
    outcomes: list[Outcome | None] = [None] * len(batch)
    seeds = [rng.random() for _ in batch]

    def one(index: int) -> None:
        outcomes[index] = execute(batch[index], client, ROOT, random.Random(seeds[index]))

    threads = [threading.Thread(target=one, args=(index,)) for index in range(len(batch))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [outcome for outcome in outcomes if outcome is not None]


def mode_of(outcome: Outcome) -> str:
    return "paired" if outcome.plan.paired else ("-n 2" if outcome.plan.workers else "serial")


def describe(outcome: Outcome) -> str:
    plan = outcome.plan
    how = mode_of(outcome)
    teardown = "CI" if plan.wait_for_teardown else "reaper"
    if outcome.killed:
        fate = f"{plan.kill_signal} in {outcome.killed_in}, exited {outcome.exit_code}"
        fate += f" {outcome.exit_seconds_after_signal} s later, {outcome.left_at_exit} left at exit"
    else:
        fate = f"exit {outcome.exit_code}, stacks gone {outcome.gone_seconds} s after"
        fate += " (planned kill missed)" if outcome.kill_missed else ""
    flag = "  FLAKE" if outcome.flaky else ""
    return f"{plan.run_id} {how:6} {teardown:6} {outcome.seconds:6.1f} s  {fate}{flag}"


def table(outcomes: list[Outcome], leaks: dict[str, int], swept: tuple[int, int], minutes: float) -> str:
    killed = [outcome for outcome in outcomes if outcome.killed]
    clean = [outcome for outcome in outcomes if not outcome.killed]
    flakes = [outcome for outcome in outcomes if outcome.flaky]
    kills = Counter((outcome.plan.kill_signal, outcome.killed_in) for outcome in killed)
    modes = Counter(mode_of(outcome) for outcome in outcomes)
    by_mode = ", ".join(f"{mode} {count}" for mode, count in sorted(modes.items()))
    lines = [
        f"runs: {len(outcomes)} in {minutes:.1f} min ({by_mode}); {len(killed)} killed, {len(clean)} not",
        "",
        "| kills | " + " | ".join(PHASES) + " | total |",
        "|---|" + "---|" * (len(PHASES) + 1),
    ]
    for name in SIGNALS:
        row = [kills[(name, phase_name)] for phase_name in PHASES]
        lines.append(f"| {name} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    totals = [sum(kills[(name, phase_name)] for name in SIGNALS) for phase_name in PHASES]
    lines.append("| total | " + " | ".join(map(str, totals)) + f" | {sum(totals)} |")
    interrupted = [o for o in killed if o.plan.kill_signal != "SIGKILL"]
    if interrupted:
        exits = [o.exit_seconds_after_signal or 0.0 for o in interrupted]
        lines.append(
            f"\nSIGINT/SIGTERM: run exited {statistics.median(exits):.1f} s after the signal (median),"
            f" {max(exits):.1f} s at most; left behind at exit: {sum(o.left_at_exit for o in interrupted)}"
        )
    lines.append(f"SIGKILL leftovers removed by the next run's sweep: {swept[0]} of {swept[1]} runs")
    lines.append(
        f"leaks after the final sweep: {leaks['containers']} containers, {leaks['networks']} networks,"
        f" {leaks['volumes']} volumes"
    )
    lines.append(f"flakes (runs not killed that failed, hung or left stacks): {len(flakes)} of {len(clean)}")
    lines.append("\n| time per run (not killed) | runs | min | median | max |\n|---|---|---|---|---|")
    for mode in ("serial", "-n 2", "paired"):
        times = [outcome.seconds for outcome in clean if mode_of(outcome) == mode]
        if times:
            spread = f"{min(times):.1f} s | {statistics.median(times):.1f} s | {max(times):.1f} s"
            lines.append(f"| {mode} | {len(times)} | {spread} |")
    return "\n".join(lines)


def machine(client: Any) -> dict[str, str]:
    """What the soak ran on and with: the engine, the machine, the versions, the commit and the load."""
    git = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git.stdout.strip(),
        "docker_engine": str(client.version().get("Version", "")),
        "cpus": str(os.cpu_count()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        **{package: version(package) for package in ("pytest", "testcontainers", "pytest-microstack")},
        "load_average_at_start": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }


def main() -> None:
    if "--startup-interrupts" in sys.argv[1:]:  # Ctrl-C at random moments of start-up (see soak/startup.py)
        from .startup import main as startup_main

        sys.exit(startup_main([arg for arg in sys.argv[1:] if arg != "--startup-interrupts"]))
    parser = argparse.ArgumentParser(
        prog="python -m tools.soak", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=40.0, help="start no run after this (default 40)")
    parser.add_argument("--runs", type=int, default=60, help="start no run after this many (default 60)")
    parser.add_argument("--kill-ratio", type=float, default=0.5, help="share of runs planned to be killed")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    rng = random.Random(seed)
    soak_id = f"soak{secrets.token_hex(2)}"
    soak_prefix = f"{PROJECT_PREFIX}{soak_id}"
    check_tests_exist()
    client = connect().client
    header = machine(client)
    print(
        f"soak {soak_id}: seed {seed}, at most {args.runs} runs or {args.minutes:g} min; each run takes"
        f" 2 fast tests of {len(FAST_TESTS)} and 1 fault test of {len(FAULT_TESTS)} (by node id), at random",
        flush=True,
    )

    started = time.monotonic()
    outcomes: list[Outcome] = []
    pending: list[str] = []  # prefixes of SIGKILLed runs with leftovers, for the next run's sweep
    swept = [0, 0]
    not_swept: list[str] = []  # SIGKILLed runs whose leftovers outlived the next run (left to later sweeps)
    try:
        while len(outcomes) < args.runs and time.monotonic() - started < args.minutes * 60:
            batch = plans(rng, soak_id, len(outcomes), args.kill_ratio)
            done = run_iteration(batch, client, rng)
            for prefix in pending:
                swept[1] += 1
                if engine_resources(client, prefix, volumes=True).count == 0:
                    swept[0] += 1
                else:
                    not_swept.append(prefix)
            pending = [
                o.plan.prefix for o in done if o.plan.kill_signal == "SIGKILL" and o.killed and o.left_at_exit
            ]
            for outcome in done:
                print(describe(outcome), flush=True)
                if outcome.flaky:
                    print("  | " + outcome.output_tail[-3000:].replace("\n", "\n  | "), flush=True)
            outcomes.extend(done)
    except KeyboardInterrupt:
        print("soak interrupted: reporting what ran", flush=True)
    minutes = (time.monotonic() - started) / 60

    deadline = time.monotonic() + ORPHANS_WITHIN
    while (left := orphans(soak_prefix)) and time.monotonic() < deadline:
        time.sleep(1)
    if left:
        print(f"still running after {ORPHANS_WITHIN:.0f} s: {left}", flush=True)
    sweep_leftovers()
    remaining = engine_resources(client, soak_prefix, volumes=True)
    leaks = {
        "containers": sum(len(found) for found in remaining.containers.values()),
        "networks": sum(remaining.networks.values()),
        "volumes": sum(remaining.volumes.values()),
    }
    report = table(outcomes, leaks, (swept[0], swept[1]), minutes)
    print("\n" + report, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "command": " ".join(sys.argv),
                "seed": seed,
                "soak_id": soak_id,
                "machine": header,
                "minutes": round(minutes, 1),
                "leaks": leaks,
                "leaked_projects": sorted(remaining.projects),
                "orphans_left": left,
                "sigkill_leftovers_not_swept_by_next_run": not_swept,
                "flakes": sum(o.flaky for o in outcomes),
                "table": report,
                "runs": [o.summary() for o in outcomes],
            },
            indent=2,
        )
    )
    print(f"\nwrote {args.out}")
    if any(leaks.values()) or any(o.flaky for o in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
