"""Alias of `pytest_microstack`'s public names, kept for old imports; removed in 2.0."""

from __future__ import annotations

from pytest_microstack import Stack

__all__ = ["Stack"]
