"""Loaded into a child pytest by the benchmark (`-p bench.import_probe`): what the run imported.

At pytest_unconfigure (after every other plugin's session-end work) it
writes to the file named by BENCH_IMPORTS_FILE whether `docker` and
`testcontainers` are in sys.modules, and whether pytest-microstack was loaded
at all (without it the answer would prove nothing).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

IMPORTS_FILE_VARIABLE = "BENCH_IMPORTS_FILE"
WATCHED = ("docker", "testcontainers")
PLUGIN_NAME = "microstack"  # its pytest11 entry point's name


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    report = {
        "imported": {name: name in sys.modules for name in WATCHED},
        "plugin_loaded": config.pluginmanager.hasplugin(PLUGIN_NAME),
    }
    Path(os.environ[IMPORTS_FILE_VARIABLE]).write_text(json.dumps(report))
