"""Shared pieces of the failure-case suite."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests
from pytest_microstack.stack import Stack

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


@pytest.fixture
def read_timeout(stack: Stack) -> float:
    """product-service's configured read timeout for calls to user-service."""
    return float(stack.environment("product-service")["USER_SERVICE_READ_TIMEOUT"])


@pytest.fixture
def user(make_user: UserFactory) -> User:
    """A user with a valid token, made before any fault is applied."""
    return make_user()
