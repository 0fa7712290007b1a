"""Run every benchmark figure side by side, print min/median/max and ratios, write JSON.

nox -s bench                # 5 runs of each figure
nox -s bench -- --runs 3 --skip suite,cold-build
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
from pathlib import Path

from . import figures
from .timing import Figure

ROOT = Path(__file__).resolve().parents[1]
ALL = (
    "floor",
    "up-wait",
    "harness",
    "one-test",
    "builds",
    "cold-build",
    "suite",
    "xdist",
    "faults",
    "ctrl-c",
    "idle-cpu",
)


def machine() -> dict[str, str]:
    def out(*command: str) -> str:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()

    return {
        "cpus": out("nproc"),
        "memory": out("sh", "-c", "free -h | awk '/Mem:/ {print $2}'"),
        "kernel": platform.release(),
        "os": out("sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"),
        "docker_engine": out("docker", "version", "--format", "{{.Server.Version}}"),
        "compose": out("docker", "compose", "version", "--short"),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip", default="", help=f"comma-separated figures to skip, of: {','.join(ALL)}")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "bench.json")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    results: list[Figure] = []
    tag = figures.image_tag()
    steps = {
        "floor": lambda: [figures.floor(tag, args.runs)],
        "up-wait": lambda: [
            figures.compose_up_wait(tag, args.runs),
            figures.compose_up_wait(tag, args.runs, interval="1s"),
        ],
        "harness": lambda: list(figures.harness_start_and_teardown(args.runs)),
        "one-test": lambda: list(figures.one_test_session(args.runs)),
        "builds": lambda: list(figures.warm_builds(tag, args.runs)),
        "cold-build": lambda: [figures.cold_build(max(1, args.runs // 2))],
        "suite": lambda: list(figures.integration_suite(1)),
        "xdist": lambda: list(figures.xdist_worker_overhead(args.runs)),
        "faults": lambda: figures.fault_times(args.runs),
        "ctrl-c": lambda: list(figures.interrupt_during_startup(args.runs)),
        "idle-cpu": lambda: list(figures.idle_cpu(seconds=10)),
    }
    for name in ALL:
        if name in skip:
            continue
        print(f"== {name}", flush=True)
        produced = steps[name]()
        for figure in produced:
            print(figure.row(), flush=True)
        results.extend(produced)

    by_name = {figure.name: figure.median for figure in results}
    ratios = figures.ratios(by_name)
    print("\n| figure | min | median | max | unit | runs | note |\n|---|---|---|---|---|---|---|")
    for figure in results:
        print(figure.row())
    print()
    for name, value in ratios.items():
        print(f"ratio {name}: {value:.2f}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"machine": machine(), "figures": [f.summary() for f in results], "ratios": ratios},
            indent=2,
        )
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
