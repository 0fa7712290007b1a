"""The schema fuzzer's plumbing: its size, the services' schemas, a token, and a case count."""

from __future__ import annotations

import os
import secrets
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

# Examples per operation. Small by default, for `nox -s integration`; `nox -s fuzz`
# raises it through the environment.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
# Fixed, so a run is repeatable and a failure can be replayed; change it to explore.
SEED = int(os.environ.get("FUZZ_SEED", "20261128"))
CASES_PROPERTY = "fuzz_cases"


@pytest.fixture(scope="session")
def fuzz_token(stack: Any) -> str:
    """[session] A real user's token, so protected operations get past 401 to their input checks."""
    base = stack.url("user-service")
    credentials = {"username": f"fuzz-{secrets.token_hex(4)}", "password": secrets.token_urlsafe(16)}
    assert requests.post(f"{base}/users", json=credentials, timeout=10).status_code == 201
    login = requests.post(f"{base}/auth/token", json=credentials, timeout=10)
    assert login.status_code == 200, login.text
    token: str = login.json()["access_token"]
    return token


@pytest.fixture
def case_count(request: pytest.FixtureRequest) -> Iterator[Counter[str]]:
    """[function] Counts the cases a fuzz test sent, per operation; reported in the summary."""
    counts: Counter[str] = Counter()
    yield counts
    # Straight onto the report, not through record_property, which junitxml's
    # xunit2 family (CI's JUnit files) refuses with a warning.
    request.node.user_properties.append((CASES_PROPERTY, dict(counts)))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print how many cases each fuzz test sent (also from xdist workers)."""
    totals: Counter[str] = Counter()
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "teardown":
                continue
            for name, value in getattr(report, "user_properties", []):
                if name == CASES_PROPERTY:
                    totals.update(value)
    if totals:
        terminalreporter.write_sep("-", "schemathesis cases sent")
        for operation, count in sorted(totals.items()):
            terminalreporter.write_line(f"{count:6d}  {operation}")
        terminalreporter.write_line(
            f"{sum(totals.values()):6d}  in all (max_examples={MAX_EXAMPLES}, seed={SEED})"
        )
