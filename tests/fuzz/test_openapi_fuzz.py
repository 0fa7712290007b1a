"""Schema-driven fuzzing of both services on the running stack: never a 5xx, always as documented.

Schemathesis generates requests, valid and invalid, from each service's OpenAPI
description; every response must be no server error and must match the
documented status codes and body schema. Bounded (FUZZ_MAX_EXAMPLES per
operation, 10 by default) and seeded (FUZZ_SEED), so `nox -s integration` runs
the same cases every time; `nox -s fuzz` runs more.

The schemas are read from the checked-in services/*/openapi.json when pytest
collects (one test per operation needs them before any stack is up), and
test_served_schema_is_the_checked_in_one proves that is what the services serve
at GET /openapi.json.
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
from schemathesis.checks import not_a_server_error
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

user_service = schemathesis.openapi.from_path(SERVICES / "user-service" / "openapi.json")
product_service = schemathesis.openapi.from_path(SERVICES / "product-service" / "openapi.json")


def send(case: Any, service: str, base_url: str, counts: Counter[str], token: str) -> None:
    assert base_url.startswith("http://127.0.0.1:"), f"fuzzing targets loopback only, not {base_url}"
    counts[f"{service} {case.operation.label}"] += 1
    # A real token unless the case brings its own: protected operations then
    # get past 401 to their input checks.
    headers = {} if "Authorization" in (case.headers or {}) else {"Authorization": f"Bearer {token}"}
    case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=10)


@user_service.parametrize()
@SETTINGS
@hypothesis.seed(SEED)
def test_user_service_answers_as_documented(
    case: Any, user_service_url: str, case_count: Counter[str], fuzz_token: str
) -> None:
    send(case, "user-service", user_service_url, case_count, fuzz_token)


@product_service.parametrize()
@SETTINGS
@hypothesis.seed(SEED)
def test_product_service_answers_as_documented(
    case: Any, product_service_url: str, case_count: Counter[str], fuzz_token: str
) -> None:
    send(case, "product-service", product_service_url, case_count, fuzz_token)


@pytest.mark.parametrize("service", ["user-service", "product-service"])
def test_served_schema_is_the_checked_in_one(stack: Any, service: str) -> None:
    served = requests.get(f"{stack.url(service)}/openapi.json", timeout=10)

    assert served.status_code == 200
    assert served.json() == json.loads((SERVICES / service / "openapi.json").read_text())
