"""A pytest plugin for the cost figure of per-test contexts: `-p tools.impact.without_contexts`.

It unregisters the plugin's phase announcer, so a `--stack-coverage` run measures
as before but switches no context at any test boundary: the run the figure compares
with. Its recording is all "outside tests": write it elsewhere (`--stack-impact-file`).
"""

from __future__ import annotations

import pytest

PHASES = "microstack-phases"  # pytest_microstack.plugin.PHASES


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """After the plugin's own configure registered the announcer."""
    if config.pluginmanager.has_plugin(PHASES):
        config.pluginmanager.unregister(name=PHASES)
