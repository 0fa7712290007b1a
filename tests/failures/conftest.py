"""Shared pieces of the failure-case suite."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests
from pytest_microstack import Stack

from tests.support.factories import User, UserFactory


@dataclass(frozen=True)
class Timed:
    """A response and how long it took, measured around the whole call."""

    response: requests.Response
    seconds: float


def timed(call: Callable[[], requests.Response]) -> Timed:
    started = time.monotonic()
    response = call()
    return Timed(response, time.monotonic() - started)


# What a bound allows beyond the configured timeouts: the test client's own
# round trip to product-service, product-service's DNS lookups of user-service
# and its logging, on a loaded 2-core machine (measured: ~0.05-0.15 s). It is
# kept below the connect timeout, so a call that waits out even one connect
# timeout where it should fail at once breaks the bound.
MARGIN = 0.5


@dataclass(frozen=True)
class Upstream:
    """How product-service calls user-service, as its container was configured.

    See services/product-service/product_service/user_client.py: a connect and a
    read timeout per attempt; connection failures of GET calls are retried
    `retries` times, and urllib3 sleeps backoff * 2**(n-1) before the n-th retry
    (nothing before the first); reads are never retried.
    """

    connect_timeout: float
    read_timeout: float
    retries: int
    backoff: float

    @property
    def backoff_total(self) -> float:
        """Seconds slept between the attempts of one call that keeps failing to connect."""
        return float(sum(self.backoff * 2 ** (n - 1) for n in range(2, self.retries + 1)))

    @property
    def unreachable_bound(self) -> float:
        """An unreachable user-service (refused, or its name gone) fails every attempt at once."""
        return self.backoff_total + MARGIN

    @property
    def hung_bound(self) -> float:
        """A user-service that accepts and never answers costs one read timeout, never two."""
        return self.read_timeout + MARGIN


@pytest.fixture
def upstream(stack: Stack) -> Upstream:
    """product-service's timeouts, retries and backoff for user-service, read from its container."""
    env = stack.environment("product-service")
    configured = Upstream(
        connect_timeout=float(env["USER_SERVICE_CONNECT_TIMEOUT"]),
        read_timeout=float(env["USER_SERVICE_READ_TIMEOUT"]),
        retries=int(env["USER_SERVICE_RETRIES"]),
        backoff=float(env["USER_SERVICE_RETRY_BACKOFF"]),
    )
    # The bounds can only catch a regression if the margin is smaller than what it would cost.
    assert configured.connect_timeout > MARGIN, configured
    assert configured.read_timeout > MARGIN, configured
    return configured


@pytest.fixture
def read_timeout(upstream: Upstream) -> float:
    """product-service's configured read timeout for calls to user-service."""
    return upstream.read_timeout


@pytest.fixture
def user(make_user: UserFactory) -> User:
    """A user with a valid token, made before any fault is applied."""
    return make_user()
