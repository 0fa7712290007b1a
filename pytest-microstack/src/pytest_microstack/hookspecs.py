"""Hooks a project implements in its conftest.py to extend the plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .faults import Faults


@pytest.hookspec
def pytest_microstack_add_faults(faults: Faults) -> None:
    """Register project-specific faults on the `faults` fixture of a test.

    Called once per test that uses `faults`, with the conftest.py files that
    apply to that test. Example, in a conftest.py::

        def pytest_microstack_add_faults(faults):
            faults.register("erroring", make_database_unreadable)

    then in a test: ``with faults.erroring("api"): ...``. ``inject(stack,
    container, **options)`` breaks the service and returns a function that
    undoes it; the harness heals and checks health afterwards.
    """
