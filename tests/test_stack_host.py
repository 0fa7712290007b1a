"""The services' URLs point at the engine's host: 127.0.0.1 for a local engine, never for a remote one."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from tests.support.engine_host import stack_host


@pytest.mark.parametrize("service", ["user-service", "product-service"])
def test_a_services_url_is_on_the_engines_host(service_url: Callable[[str], str], service: str) -> None:
    url = service_url(service)

    assert urlsplit(url).hostname == stack_host(), f"{service} at {url}, the engine at {stack_host()}"
