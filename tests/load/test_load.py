"""`nox -s load`: the full flow at 32 connections against a 10,000-product catalogue.

Phases, all against this run's own stack on 127.0.0.1 and each bounded in
requests and in time:
1. seed 10,000 products concurrently through the API (16 keep-alive connections);
2. wrk, 32 connections, 10,000 requests each: `GET /users/authenticate` on
   user-service alone (the one-hop floor), then `GET /products/validate-user`
   (product-service asking user-service per call);
3. locust, 32 users: the flow token -> validate-user -> create product -> read it
   back, 50 iterations each, a token reused for at most 25 iterations (users start
   4 a second and log in again at staggered iterations, as independent clients do);
4. every product acknowledged with 201 (seeded or made by the flow) is read back
   through the paginated list.
It asserts what must hold whatever the machine (no errors, no 5xx, every
acknowledged product readable, the request counts); the speed figures are
written to bench/results/load.{json,md} and printed, not asserted (a shared
2-core machine is too noisy for a timing assertion to mean anything).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tools.load import catalogue
from tools.load.cpu import cpu_seconds, per_request_ms
from tools.load.flow import FlowResult, run_flow
from tools.load.report import LoadReport, Row
from tools.load.wrk import WrkResult, run_wrk

pytestmark = [pytest.mark.load, pytest.mark.timeout(1800)]

SERVICES = ["user-service", "product-service"]
# LOAD_RESULTS: another folder for load.{json,md} (the benchmark's paired runs keep theirs apart).
RESULTS = Path(os.environ.get("LOAD_RESULTS") or Path(__file__).resolve().parents[2] / "bench" / "results")
CONNECTIONS = 32
TOKEN_REUSE = 25  # iterations per login
# The minimums are the defaults; LOAD_* shrink a run for quick comparisons
# while tuning (the report says what ran).
CATALOGUE_SIZE = int(os.environ.get("LOAD_CATALOGUE", "10000"))
FIXED_PATH_REQUESTS = int(os.environ.get("LOAD_REQUESTS", "10000"))  # per fixed path
FLOW_USERS = CONNECTIONS
FLOW_ITERATIONS = int(os.environ.get("LOAD_FLOW_ITERATIONS", "50"))  # per user; 0 skips the flow
PLANNED_REQUESTS = 2 * FIXED_PATH_REQUESTS + FLOW_USERS * FLOW_ITERATIONS * 3
PHASE_SECONDS = 180  # the time bound of each load phase; far above what it needs here


def measured_wrk(
    stack: Any, label: str, url: str, headers: dict[str, str]
) -> tuple[WrkResult, dict[str, float]]:
    """One bounded wrk run, and the CPU ms per request it cost each service."""
    before = cpu_seconds(stack, SERVICES)
    result = run_wrk(
        label,
        url,
        requests=FIXED_PATH_REQUESTS,
        connections=CONNECTIONS,
        max_seconds=PHASE_SECONDS,
        headers=headers,
    )
    return result, per_request_ms(before, cpu_seconds(stack, SERVICES), result.requests)


def wrk_row(result: WrkResult, path: str, cpu_ms: dict[str, float]) -> Row:
    return Row(
        path=path,
        tool="wrk",
        connections=result.connections,
        requests=result.requests,
        requests_per_second=result.requests_per_second,
        p50_ms=result.latency_ms["p50"],
        p95_ms=result.latency_ms["p95"],
        p99_ms=result.latency_ms["p99"],
        errors=result.errors,
        server_errors=result.server_errors,
        cpu_ms=cpu_ms,
    )


def flow_phase(user_service_url: str, product_service_url: str) -> FlowResult:
    """The locust flow, or an empty result when LOAD_FLOW_ITERATIONS=0."""
    if not FLOW_ITERATIONS:
        return FlowResult([], [], FLOW_USERS, 0.0, [], 0)
    credentials = catalogue.new_users(user_service_url, FLOW_USERS)
    with tempfile.TemporaryDirectory(prefix="load-flow-") as workdir:
        return run_flow(
            product_service_url=product_service_url,
            user_service_url=user_service_url,
            credentials=credentials,
            users=FLOW_USERS,
            iterations=FLOW_ITERATIONS,
            token_reuse=TOKEN_REUSE,
            max_seconds=PHASE_SECONDS,
            workdir=Path(workdir),
        )


def flow_rows(flow: FlowResult) -> list[Row]:
    return [
        Row(
            path=f"flow: {figures.label}",
            tool="locust",
            connections=FLOW_USERS,
            requests=figures.requests,
            requests_per_second=figures.requests_per_second,
            p50_ms=figures.latency_ms["p50"],
            p95_ms=figures.latency_ms["p95"],
            p99_ms=figures.latency_ms["p99"],
            errors=figures.failures,
            server_errors=sum(
                int(f["occurrences"])
                for f in flow.failures
                if f["name"] == figures.label and "HTTP 5" in f["error"]
            ),
        )
        for figures in flow.paths
    ]


def say(pytestconfig: pytest.Config, text: str) -> None:
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(text)


def test_full_flow_under_load(
    stack: Any, user_service_url: str, product_service_url: str, pytestconfig: pytest.Config
) -> None:
    report = LoadReport()
    load_before = os.getloadavg()
    started = time.monotonic()

    # 1. The catalogue.
    sellers = [catalogue.sign_up(user_service_url) for _ in range(4)]
    seeded = catalogue.seed(product_service_url, sellers, CATALOGUE_SIZE)
    seed_seconds = time.monotonic() - started
    say(pytestconfig, f"seeded {len(seeded):,} products in {seed_seconds:.1f} s")

    # 2. Fixed paths with wrk, the floor first; a short warm-up is not counted.
    token = {"Authorization": f"Bearer {sellers[0]}"}
    floor_url, validate_url = (
        f"{user_service_url}/users/authenticate",
        f"{product_service_url}/products/validate-user",
    )
    for url in (floor_url, validate_url):
        run_wrk("warm-up", url, requests=500, connections=CONNECTIONS, max_seconds=30, headers=token)
    floor, floor_cpu = measured_wrk(stack, "floor", floor_url, token)
    validate, validate_cpu = measured_wrk(stack, "validate-user", validate_url, token)
    report.rows += [
        wrk_row(floor, "GET /users/authenticate (user-service alone: the floor)", floor_cpu),
        wrk_row(validate, "GET /products/validate-user", validate_cpu),
    ]

    # 3. The flow with locust.
    flow = flow_phase(user_service_url, product_service_url)
    report.rows += flow_rows(flow)

    # 4. Every acknowledged product can be read back.
    listed = catalogue.read_all(product_service_url)
    acknowledged = seeded + [catalogue.Listed(p["id"], p["name"], p["price"]) for p in flow.created]

    environment = stack.environment("product-service")
    report.context = {
        "catalogue at the start of the load phases": f"{len(listed) - len(flow.created):,} products",
        "catalogue at the end": f"{len(listed):,} products",
        "validate-user / floor": f"{validate.requests_per_second / floor.requests_per_second:.2f}",
        "flow": (
            f"{FLOW_USERS} users (started 4 a second) x {FLOW_ITERATIONS} iterations, "
            f"a token reused for at most {TOKEN_REUSE} iterations, re-logins staggered"
        ),
        "gunicorn": "{GUNICORN_WORKERS} workers x {GUNICORN_THREADS} threads".format_map(environment),
        "product-service -> user-service keep-alive idle limit (0: a connection per call)": (
            environment.get("USER_SERVICE_KEEPALIVE_IDLE", "?") + " s"
        ),
        "load average (1 min) before/after": f"{load_before[0]:.2f} / {os.getloadavg()[0]:.2f}",
        "seeding": f"{len(seeded):,} products in {seed_seconds:.1f} s",
        "wall time": f"{time.monotonic() - started:.0f} s",
    }
    raw, table = report.write(RESULTS)
    say(pytestconfig, "\n" + report.markdown() + f"written to {raw} and {table}")

    assert len(seeded) >= CATALOGUE_SIZE
    for result in (floor, validate):
        assert result.errors == 0, f"{result.label}: {result}"
        assert result.server_errors == 0, f"{result.label}: {result}"
        assert result.requests >= FIXED_PATH_REQUESTS, f"{result.label} stopped early (time bound): {result}"
    assert not flow.failures, flow.failures
    assert flow.finished_users == FLOW_USERS, "the flow hit its time bound before every user finished"
    assert report.total_requests >= PLANNED_REQUESTS
    assert catalogue.missing_or_changed(acknowledged, listed) == []
