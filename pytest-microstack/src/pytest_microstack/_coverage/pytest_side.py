"""Where a pytest run's container data goes: into pytest-cov's data when `--cov` is on, else beside it.

pytest-cov combines the `<data_file>.*` files next to its data file after the
test loop (controller and xdist workers alike) and reports from the result, so
a mapped data file written there by a stack's teardown, which runs inside the
test loop, is in every one of its reports. Without pytest-cov, the same file is
left for `coverage combine`, and the run's summary says where.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_microstack._coverage.combine import SUFFIX, Destination


def pytest_cov_controller(config: pytest.Config) -> Any | None:
    """pytest-cov's controller when it measures this run (`--cov`), else None."""
    plugin = config.pluginmanager.get_plugin("_cov")
    controller = getattr(plugin, "cov_controller", None)
    return controller if getattr(controller, "cov", None) is not None else None


def destination(config: pytest.Config) -> Destination:
    controller = pytest_cov_controller(config)
    if controller is not None:
        topdir = Path(getattr(controller, "topdir", None) or Path.cwd())
        return Destination.from_config(controller.cov.config, topdir.resolve(), joins_pytest_cov=True)
    return Destination.project_default()


def summary_lines(config: pytest.Config, run_id: str) -> list[str]:
    """What the run's summary says about the data files left for `coverage combine`."""
    target = destination(config)
    if target.joins_pytest_cov:
        return ["services' coverage, measured in their containers, joins pytest-cov's report"]
    folder = target.data_file.parent
    pattern = f"{target.data_file.name}.{SUFFIX}.{run_id}-*"
    written = sorted(folder.glob(pattern))
    if not written:
        return [f"--stack-coverage: no data written (no {pattern} in {folder}); see the warnings above"]
    return [
        f"services' coverage: {len(written)} data file(s) {folder / pattern}",
        f"  report them: cd {folder} && coverage combine && coverage report",
    ]
