"""pytest-microstack: a whole Docker Compose stack as pytest fixtures.

The pytest plugin (options, fixtures, hooks) is `pytest_microstack.plugin`,
loaded through the `pytest11` entry point. Everything it drives is plain
Python, unit-testable with the engine faked. Importing this package is cheap:
Docker and Testcontainers are imported only when a stack is first needed.
"""

from __future__ import annotations

from .settings import ServiceSpec, StackSettings
from .waiting import WaitTimeout, wait_for

__version__ = "0.2.0"
__all__ = ["ServiceSpec", "StackSettings", "WaitTimeout", "__version__", "wait_for"]
