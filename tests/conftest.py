"""This project's layer on pytest-microstack: its services' fixtures, factories and faults.

The stack itself is declared in pytest.ini (stack_* options); the plugin is
loaded through its entry point. What is here is specific to user-service and
product-service, under the fixture names the README documents.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_microstack import Faults, ServiceClient

from tests.support.factories import ProductFactory, UserFactory
from tests.support.sqlite_fault import make_database_unreadable


def pytest_microstack_add_faults(faults: Faults) -> None:
    """faults.erroring(service): its SQLite file made unreadable, so it answers 500."""
    faults.register("erroring", make_database_unreadable)


@pytest.fixture
def user_service_url(service_url: Callable[[str], str]) -> str:
    """[function] user-service's base URL, e.g. http://127.0.0.1:32771."""
    return service_url("user-service")


@pytest.fixture
def product_service_url(service_url: Callable[[str], str]) -> str:
    """[function] product-service's base URL, e.g. http://127.0.0.1:32772."""
    return service_url("product-service")


@pytest.fixture
def user_service(service_client: Callable[[str], ServiceClient]) -> ServiceClient:
    """[function] Client for user-service: relative paths, 10 s timeout, X-Request-ID set."""
    return service_client("user-service")


@pytest.fixture
def product_service(service_client: Callable[[str], ServiceClient]) -> ServiceClient:
    """[function] Client for product-service: relative paths, 10 s timeout, X-Request-ID set."""
    return service_client("product-service")


@pytest.fixture
def make_user(user_service: ServiceClient) -> UserFactory:
    """[function] make_user(**overrides) -> User(id, username, password, token, .auth)."""
    return UserFactory(user_service)


@pytest.fixture
def make_product(product_service: ServiceClient, make_user: UserFactory) -> ProductFactory:
    """[function] make_product(owner=None, **overrides) -> Product(..., owner)."""
    return ProductFactory(product_service, make_user)
