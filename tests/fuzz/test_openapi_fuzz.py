"""Schema-driven fuzzing of both services on the running stack: never a 5xx, always as documented.

Schemathesis generates requests, valid and invalid, from each service's OpenAPI
description; every response must be no server error and must match the
documented status codes and body schema. Bounded (FUZZ_MAX_EXAMPLES per
operation, 25 by default) and seeded (FUZZ_SEED), so `nox -s integration` runs
the same cases every time; `nox -s fuzz` runs more.

The schemas are read from the checked-in services/*/openapi.json when pytest
collects (one test per operation needs them before any stack is up), and
test_served_schema_is_the_checked_in_one proves that is what the services serve
at GET /openapi.json. Each operation gets FUZZ_MAX_EXAMPLES cases, valid and
invalid ones (schemathesis's positive and negative generation) mixed.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from .conftest import MAX_EXAMPLES, SEED

SERVICES = Path(__file__).resolve().parents[2] / "services"
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,  # response times are the load test's business, not the fuzzer's
    database=None,  # no replay of earlier runs' examples: the seed alone decides
    suppress_health_check=list(hypothesis.HealthCheck),
)


def operations(service: str) -> list[Any]:
    """One pytest param per operation of the service's checked-in OpenAPI document.

    Parametrized here rather than with schemathesis's own `@schema.parametrize()`,
    whose items all share one node id under pytest 9 (which breaks shards, xdist
    and --durations alike).
    """
    schema = schemathesis.openapi.from_path(SERVICES / service / "openapi.json")
    found = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # a document schemathesis can't read: fail collection, loudly
        found.append(result.ok())
    return [pytest.param(service, operation, id=f"{service} {operation.label}") for operation in found]


@pytest.mark.parametrize(
    ("service", "operation"), [*operations("user-service"), *operations("product-service")]
)
def test_operation_answers_as_documented(
    stack: Any, service: str, operation: Any, case_count: Counter[str], fuzz_token: str
) -> None:
    base_url = stack.url(service)
    assert base_url.startswith(f"http://{stack.host}:"), f"fuzzing targets its stack's host only: {base_url}"
    # Valid requests and invalid ones, both drawn from the schema.
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
    )

    @SETTINGS
    @hypothesis.seed(SEED)
    @hypothesis.given(case=cases)
    def send(case: Any) -> None:
        case_count[f"{service} {operation.label}"] += 1
        # A real token unless the case brings its own: protected operations then
        # get past 401 to their input checks.
        headers = {} if "Authorization" in (case.headers or {}) else {"Authorization": f"Bearer {fuzz_token}"}
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=10)

    send()


@pytest.mark.parametrize("service", ["user-service", "product-service"])
def test_served_schema_is_the_checked_in_one(stack: Any, service: str) -> None:
    served = requests.get(f"{stack.url(service)}/openapi.json", timeout=10)

    assert served.status_code == 200
    assert served.json() == json.loads((SERVICES / service / "openapi.json").read_text())
