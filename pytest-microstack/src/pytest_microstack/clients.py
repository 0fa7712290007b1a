"""Alias of `pytest_microstack`'s public names, kept for old imports; removed in 2.0."""

from __future__ import annotations

from pytest_microstack import ServiceClient

__all__ = ["ServiceClient"]
