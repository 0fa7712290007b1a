"""Ratios between figures of one run, and issues 19's and 26's targets, each "met" or its gap (medians)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

# name -> (numerator key, denominator key): measured side by side in the same run.
RATIOS = {
    "harness start / floor": ("harness-start", "floor"),
    "harness start / `compose up --wait` as written": ("harness-start", "up-wait"),
    "harness start / `compose up --wait`, 1 s healthchecks": ("harness-start", "up-wait-1s"),
    "one-test session / plain Testcontainers, build=True": ("one-test", "plain-build"),
    "one-test session / plain Testcontainers, build=False": ("one-test", "plain-no-build"),
    "suite -n 2 / serial": ("suite-n2", "suite-serial"),
    "two tests -n 2 / -n 1": ("two-tests-n2", "two-tests-n1"),
    "harness start, --stack-coverage / without": ("harness-start-coverage", "harness-start"),
    "suite -n 2, --stack-coverage / without": ("suite-n2-coverage", "suite-n2"),
    "harness start, exchanges on / off": ("harness-start-exchanges-on", "harness-start-exchanges-off"),
    "`nox -s load` floor, exchanges on / off": ("load-floor-on", "load-floor-off"),
    "`nox -s load` validate-user, exchanges on / off": ("load-validate-user-on", "load-validate-user-off"),
    "`nox -s load` flow, exchanges on / off": ("load-flow-on", "load-flow-off"),
}
# Issue 26: the load run's throughputs compared with the recording on and off (bench/exchanges.py).
LOAD_PATHS = ("floor", "validate-user", "flow")


@dataclass(frozen=True)
class Verdict:
    """One target: what it asks, what was measured, and "met" or the gap ("not measured" if skipped)."""

    target: str
    measured: str
    verdict: str
    met: bool | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ratios(medians: Mapping[str, float]) -> dict[str, float]:
    """Every ratio whose two figures were measured."""
    return {
        name: medians[top] / medians[bottom]
        for name, (top, bottom) in RATIOS.items()
        if top in medians and bottom in medians and medians[bottom]
    }


def _unmeasured(target: str, *keys: str) -> Verdict:
    return Verdict(target, "", f"not measured ({', '.join(keys)} skipped or failed)", None)


def _at_most(
    medians: Mapping[str, float], target: str, key: str, limit: float, unit: str = "s", digits: int = 3
) -> Verdict:
    if key not in medians:
        return _unmeasured(target, key)
    value = medians[key]
    met = value <= limit
    shown, gap = f"{value:.{digits}f} {unit}", f"missed by {value - limit:.{digits}f} {unit}"
    return Verdict(target, shown, "met" if met else gap, met)


def _ratio_at_most(medians: Mapping[str, float], target: str, top: str, bottom: str, limit: float) -> Verdict:
    if top not in medians or bottom not in medians:
        return _unmeasured(target, top, bottom)
    value, base = medians[top], medians[bottom]
    ratio = value / base
    measured = f"{value:.3f} s / {base:.3f} s = {ratio:.2f} x"
    if ratio <= limit:
        return Verdict(target, measured, "met", True)
    gap = f"missed: {ratio:.2f} x > {limit:.2f} x; {value - limit * base:.3f} s over {limit * base:.3f} s"
    return Verdict(target, measured, gap, False)


def _imports_nothing(medians: Mapping[str, float], target: str, keys: Mapping[str, str]) -> Verdict:
    if any(key not in medians for key in keys.values()):
        return _unmeasured(target, *keys.values())
    imported = [name for name, key in keys.items() if medians[key] >= 0.5]
    measured = ", ".join(f"{name}: {'yes' if name in imported else 'no'}" for name in keys)
    return Verdict(
        target, measured, "met" if not imported else f"missed: imports {', '.join(imported)}", not imported
    )


def cross_service(load: Any) -> list[Verdict]:
    """The cross-service targets, from the load run's wrk phases (one run: `nox -s load`)."""
    target = (
        "validate-user ≥ 0.5 x the one-hop floor, p99 < 100 ms, 0 errors (32 connections, 10,000 products)"
    )
    rows = load.get("rows") if isinstance(load, Mapping) else None
    by_path = {str(row.get("path", "")): row for row in rows or [] if isinstance(row, Mapping)}
    floor = next((row for path, row in by_path.items() if path.startswith("GET /users/authenticate")), None)
    path = by_path.get("GET /products/validate-user")
    if floor is None or path is None:
        return [Verdict(target, "", "not measured (no nox -s load results)", None)]
    ratio = path["requests_per_second"] / floor["requests_per_second"]
    errors = int(path["errors"]) + int(path.get("server_errors", 0))
    measured = (
        f"{path['requests_per_second']:.0f} / {floor['requests_per_second']:.0f} req/s = {ratio:.2f} x, "
        f"p99 {path['p99_ms']:.1f} ms, {errors} errors"
    )
    gaps = [
        *([f"{ratio:.2f} x < 0.5 x"] if ratio < 0.5 else []),
        *([f"p99 {path['p99_ms']:.1f} ms ≥ 100 ms"] if path["p99_ms"] >= 100 else []),
        *([f"{errors} errors"] if errors else []),
    ]
    return [Verdict(target, measured, "met" if not gaps else "missed: " + "; ".join(gaps), not gaps)]


def targets(medians: Mapping[str, float], load: Any = None) -> list[Verdict]:
    """Issue 19's targets, in its order (the cross-service one from the load run, when there is one)."""
    return [
        _ratio_at_most(
            medians,
            "one-test session ≤ 0.35 x plain Testcontainers (build=True, wait=True, no plugins autoloaded)",
            "one-test",
            "plain-build",
            0.35,
        ),
        _at_most(medians, "one-test run with no stack, in .venv ≤ 0.5 s", "no-stack", 0.5),
        _ratio_at_most(medians, "harness start → all healthy ≤ 1.7 x floor", "harness-start", "floor", 1.7),
        _at_most(medians, "end of the last test → process exit ≤ 0.15 s (CI unset)", "exit-local", 0.15),
        *cross_service(load),
        _at_most(medians, "integration suite at -n 2 (nox -s integration_parallel) ≤ 30 s", "suite-n2", 30.0),
        _imports_nothing(
            medians,
            "unit run (services/*/tests) imports neither docker nor testcontainers",
            {"docker": "unit-imports-docker", "testcontainers": "unit-imports-testcontainers"},
        ),
    ]


def _added_at_most(medians: Mapping[str, float], target: str, on: str, off: str, limit_ms: float) -> Verdict:
    """What the proxy adds: the median of `on` minus that of `off` (milliseconds), at most `limit_ms`."""
    if on not in medians or off not in medians:
        return _unmeasured(target, on, off)
    added = medians[on] - medians[off]
    measured = f"{medians[on]:.3f} ms - {medians[off]:.3f} ms = {added:.3f} ms"
    if added <= limit_ms:
        return Verdict(target, measured, "met", True)
    return Verdict(target, measured, f"missed by {added - limit_ms:.3f} ms", False)


def _throughput_kept(medians: Mapping[str, float], target: str, limit: float) -> Verdict:
    """Every load path's requests/s with the recording on, at least `limit` x with it off."""
    keys = [f"load-{name}-{side}" for name in LOAD_PATHS for side in ("on", "off")]
    if any(key not in medians for key in keys):
        return _unmeasured(target, *(key for key in keys if key not in medians))
    kept = {name: medians[f"load-{name}-on"] / medians[f"load-{name}-off"] for name in LOAD_PATHS}
    measured = ", ".join(
        f"{name} {medians[f'load-{name}-on']:.0f} / {medians[f'load-{name}-off']:.0f} req/s = {ratio:.2f} x"
        for name, ratio in kept.items()
    )
    short = [f"{name} {ratio:.2f} x < {limit:.2f} x" for name, ratio in kept.items() if ratio < limit]
    return Verdict(target, measured, "met" if not short else "missed: " + "; ".join(short), not short)


def exchanges_targets(medians: Mapping[str, float]) -> list[Verdict]:
    """Issue 26's costs of recording the exchanges, in its order."""
    return [
        _added_at_most(
            medians,
            "added latency per hop, p50 ≤ 1 ms (through the proxy - straight)",
            "hop-p50-on",
            "hop-p50-off",
            1.0,
        ),
        _added_at_most(
            medians,
            "added latency per hop, p99 ≤ 5 ms (through the proxy - straight)",
            "hop-p99-on",
            "hop-p99-off",
            5.0,
        ),
        _throughput_kept(medians, "`nox -s load` throughput with recording on ≥ 0.95 x with it off", 0.95),
        _ratio_at_most(
            medians,
            "start-up with recording ≤ 1.15 x without (harness start → all healthy)",
            "harness-start-exchanges-on",
            "harness-start-exchanges-off",
            1.15,
        ),
        _at_most(
            medians,
            "memory of the recording ≤ 50 MB for the full suite (one stack's proxies, peak RSS summed)",
            "exchanges-memory-stack",
            50.0,
            unit="MB",
            digits=1,
        ),
    ]
