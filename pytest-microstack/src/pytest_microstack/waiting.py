"""Alias of `pytest_microstack`'s public names, kept for old imports; removed in 2.0."""

from __future__ import annotations

from pytest_microstack import WaitTimeout, wait_for

__all__ = ["WaitTimeout", "wait_for"]
