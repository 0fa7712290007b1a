"""The benchmark's pure parts (bench/): issue 26's figures read from their sources, targets, the report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.children import DUMP_SECONDS, wait_or_dump
from bench.exchanges import failures, load_throughputs, percentile, proxies_peak_mb, published_control_port
from bench.report import default_recording, format_value, render
from bench.targets import Verdict, exchanges_targets, ratios
from bench.timing import MEGABYTES, MILLISECONDS, PER_SECOND

# The shape `nox -s load` writes (tools/load/report.py), trimmed to what is read.
LOAD_JSON: dict[str, Any] = {
    "rows": [
        {"path": "GET /users/authenticate (user-service alone: the floor)", "requests_per_second": 1168.0},
        {"path": "GET /products/validate-user", "requests_per_second": 573.2},
        {"path": "flow: POST /auth/token", "requests_per_second": 14.0},
        {"path": "flow: GET /products/validate-user", "requests_per_second": 168.0},
        {"path": "flow: GET /products/{id}", "requests_per_second": 170.0},
    ],
    "context": {},
}
# Medians that meet every issue 26 target exactly at its bound.
AT_THE_BOUNDS = {
    "hop-p50-on": 1.5,
    "hop-p50-off": 0.5,
    "hop-p99-on": 7.0,
    "hop-p99-off": 2.0,
    "load-floor-on": 950.0,
    "load-floor-off": 1000.0,
    "load-validate-user-on": 95.0,
    "load-validate-user-off": 100.0,
    "load-flow-on": 190.0,
    "load-flow-off": 200.0,
    "harness-start-exchanges-on": 2.3,
    "harness-start-exchanges-off": 2.0,
    "exchanges-memory-stack": 50.0,
}


@pytest.mark.parametrize(
    ("percent", "expected"),
    [(50, 50), (99, 99), (99.5, 100), (100, 100), (1, 1), (0.5, 1)],
    ids=["p50", "p99", "p99.5", "p100", "p1", "p0.5"],
)
def test_percentile_is_the_nearest_rank(percent: float, expected: float) -> None:
    values = [float(v) for v in range(100, 0, -1)]  # unsorted on purpose
    assert percentile(values, percent) == expected


def test_percentile_refuses_no_values_and_percents_out_of_range() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    for bad in (0, -1, 100.5):
        with pytest.raises(ValueError, match="percent must be"):
            percentile([1.0], bad)
    assert percentile([3.0], 99) == 3.0


def test_the_load_runs_throughputs_are_its_two_wrk_paths_and_the_flows_total() -> None:
    assert load_throughputs(LOAD_JSON) == {"floor": 1168.0, "validate-user": 573.2, "flow": 352.0}


def test_a_load_run_without_a_path_is_refused_naming_it() -> None:
    rows = [row for row in LOAD_JSON["rows"] if not row["path"].startswith("flow: ")]
    with pytest.raises(ValueError, match="no row for flow"):
        load_throughputs({"rows": rows})
    with pytest.raises(ValueError, match="no rows"):
        load_throughputs({"rows": []})
    with pytest.raises(ValueError, match="no rows"):
        load_throughputs(None)


def test_the_committed_load_json_reads(tmp_path: Path) -> None:
    import json

    committed = Path(__file__).resolve().parents[2] / "bench" / "results" / "load.json"
    assert set(load_throughputs(json.loads(committed.read_text()))) == {"floor", "validate-user", "flow"}


def test_proxies_peaks_are_summed_per_stack_in_megabytes() -> None:
    usages = {
        "a-user--exchanges-1": {"max_rss_kib": 10_000},
        "a-product--exchanges-1": {"max_rss_kib": 20_000},
        "b-user--exchanges-1": {"max_rss_kib": 5_000},
    }
    projects = {"a-user--exchanges-1": "a", "a-product--exchanges-1": "a", "b-user--exchanges-1": "b"}
    assert proxies_peak_mb(usages, projects) == pytest.approx({"a": 30_720_000 / 1e6, "b": 5_120_000 / 1e6})
    with pytest.raises(ValueError, match="a-user--exchanges-1 reported no peak RSS"):
        proxies_peak_mb({"a-user--exchanges-1": {"max_rss_kib": None}}, projects)


def test_what_the_proxies_grew_beyond_their_start_is_their_peak_less_their_start() -> None:
    usages = {
        "a-user--exchanges-1": {"max_rss_kib": 25_000, "start_max_rss_kib": 20_000},
        "a-product--exchanges-1": {"max_rss_kib": 20_000, "start_max_rss_kib": 20_000},
    }
    projects = dict.fromkeys(usages, "a")
    assert proxies_peak_mb(usages, projects, beyond_start=True) == {"a": 5_120_000 / 1e6}
    old_proxy = {"a-user--exchanges-1": {"max_rss_kib": 25_000}}  # no start figure: refused, not 0
    with pytest.raises(ValueError, match="reported no peak RSS"):
        proxies_peak_mb(old_proxy, projects, beyond_start=True)
    assert proxies_peak_mb(old_proxy, projects) == {"a": 25_600_000 / 1e6}


def test_only_the_proxys_control_port_is_asked() -> None:
    container = {
        "Command": "python3 -c import zlib --service user-service --listen 5000 --control 47470 --mode http",
        "Ports": [
            {"PrivatePort": 5000, "PublicPort": 32001, "Type": "tcp"},
            {"PrivatePort": 47470, "PublicPort": 32002, "Type": "tcp"},
        ],
    }
    assert published_control_port(container) == 32002
    assert published_control_port({**container, "Ports": container["Ports"][:1]}) is None
    assert published_control_port({**container, "Command": "gunicorn app"}) is None


def test_issue_26_targets_are_met_exactly_at_their_bounds() -> None:
    verdicts = exchanges_targets(AT_THE_BOUNDS)
    assert [v.verdict for v in verdicts] == ["met"] * 5
    assert verdicts[0].measured == "1.500 ms - 0.500 ms = 1.000 ms"
    assert verdicts[2].measured.startswith("floor 950 / 1000 req/s = 0.95 x, validate-user 95 / 100")


@pytest.mark.parametrize(
    ("key", "value", "index", "gap"),
    [
        ("hop-p50-on", 1.502, 0, "missed by 0.002 ms"),
        ("hop-p99-on", 7.25, 1, "missed by 0.250 ms"),
        ("load-validate-user-on", 94.0, 2, "missed: validate-user 0.94 x < 0.95 x"),
        ("harness-start-exchanges-on", 2.4, 3, "missed: 1.20 x > 1.15 x; 0.100 s over 2.300 s"),
        ("exchanges-memory-stack", 50.2, 4, "missed by 0.2 MB"),
    ],
    ids=["p50", "p99", "throughput", "start-up", "memory"],
)
def test_each_issue_26_target_past_its_bound_gives_the_gap(
    key: str, value: float, index: int, gap: str
) -> None:
    verdicts = exchanges_targets({**AT_THE_BOUNDS, key: value})
    assert (verdicts[index].verdict, verdicts[index].met) == (gap, False)
    assert [v.met for i, v in enumerate(verdicts) if i != index] == [True] * 4


def test_an_unmeasured_target_says_which_figures_are_missing() -> None:
    medians = {k: v for k, v in AT_THE_BOUNDS.items() if k != "load-flow-off"}
    verdict = exchanges_targets(medians)[2]
    assert (verdict.met, verdict.verdict) == (None, "not measured (load-flow-off skipped or failed)")


def test_the_on_off_ratios_are_listed() -> None:
    assert ratios(AT_THE_BOUNDS)["harness start, exchanges on / off"] == pytest.approx(1.15)
    assert ratios(AT_THE_BOUNDS)["`nox -s load` floor, exchanges on / off"] == pytest.approx(0.95)


def test_the_new_units_are_shown_with_their_names() -> None:
    assert format_value(0.4567, MILLISECONDS) == "0.457 ms"
    assert format_value(31.25, MEGABYTES) == "31.2 MB"
    assert format_value(1167.6, PER_SECOND) == "1168 req/s"


def test_the_page_has_an_issue_26_table_after_issue_19s(tmp_path: Path) -> None:
    figures = [
        {"key": key, "median": value, "title": key, "command": "c", "group": "exchanges", "unit": "s"}
        for key, value in {**AT_THE_BOUNDS, "exchanges-memory-stack": 60.0}.items()
    ]
    page = render({"figures": figures}, None, tmp_path / "load.json", None)
    issue_19, issue_26 = page.index("## Targets (issue 19)"), page.index("## Targets (issue 26)")
    assert issue_19 < issue_26 < page.index("## Figures")
    table = page[issue_26 : page.index("## Figures")]
    assert "| added latency per hop, p50 ≤ 1 ms (through the proxy - straight) |" in table
    assert "| 60.0 MB | **missed by 10.0 MB** |" in table
    assert table.count("| met |") == 4
    assert "### The recording proxies (issue 26)" in page


def test_a_failed_suite_names_its_failed_tests_before_its_last_lines() -> None:
    output = "\n".join(
        ["x" * 50] * 100 + ["FAILED tests/a.py::test_b - boom", "y" * 50, "1 failed, 3 passed"]
    )
    shown = failures(output, tail=30)
    assert shown.splitlines()[0] == "FAILED tests/a.py::test_b - boom"
    assert shown.endswith("1 failed, 3 passed")
    assert "x" * 50 not in shown


def test_recording_is_on_by_default_only_when_every_bound_holds() -> None:
    met = Verdict("p50 ≤ 1 ms", "0.3 ms", "met", True)
    missed = Verdict("start-up ≤ 1.15 x", "1.79 x", "missed", False)
    unmeasured = Verdict("memory ≤ 50 MB", "-", "not measured", None)

    assert default_recording([met, met]) == "Every bound holds: the recording may be on by default."
    assert default_recording([met, missed]).startswith(
        "1 bound(s) not met, so the recording is not on by default"
    )
    assert default_recording([met, unmeasured]).startswith("1 bound(s) not met")


def test_a_child_past_its_bound_prints_where_it_hung_then_is_stopped(tmp_path: Path) -> None:
    """A hang seen once and never again leaves its stacks: faulthandler's, at SIGABRT."""
    log = tmp_path / "out"
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", "import time\nwhile True: time.sleep(0.05)"],
            env={"PYTHONFAULTHANDLER": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        with pytest.raises(subprocess.TimeoutExpired):
            wait_or_dump(child, 0.5)

    assert child.returncode is not None, f"stopped within {DUMP_SECONDS} s of the dump"
    assert 'File "<string>", line 2 in <module>' in log.read_text()


def test_a_child_that_exits_in_time_gives_its_code() -> None:
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    assert wait_or_dump(child, 30.0) == 3
