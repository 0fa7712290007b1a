"""A run that uses no stack fixture pays nothing for the plugin: no Docker client, no engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[3]
SERVICE_TESTS = [
    REPOSITORY / "services" / "user-service" / "tests",
    REPOSITORY / "services" / "product-service" / "tests",
]
PROBE = """
import json, os, sys

def pytest_sessionfinish(session):
    names = ("docker", "testcontainers", "requests", "coverage", "pytest_microstack._coverage")
    heavy = sorted(name for name in names if name in sys.modules)
    loaded = session.config.pluginmanager.has_plugin("microstack")
    with open(os.environ["IMPORT_PROBE_OUT"], "w") as out:
        json.dump({"heavy": heavy, "plugin_loaded": loaded}, out)
"""


def test_the_services_unit_tests_import_neither_docker_nor_testcontainers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(import_probe=PROBE)
    out = pytester.path / "probe.json"
    monkeypatch.setenv("IMPORT_PROBE_OUT", str(out))
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))

    result = pytester.runpytest_subprocess(
        *map(str, SERVICE_TESTS),
        "--rootdir",
        str(REPOSITORY),
        "-p",
        "import_probe",
        "-p",
        "no:cacheprovider",
        "-k",
        "health or config",
        timeout=120,
    )

    assert result.ret == 0, result.stdout.str()
    probe = json.loads(out.read_text())
    assert probe["plugin_loaded"] is True
    assert "docker" not in probe["heavy"]
    assert "testcontainers" not in probe["heavy"]
    # Stack coverage is off: neither coverage.py nor the plugin's coverage code is loaded.
    assert "coverage" not in probe["heavy"]
    assert "pytest_microstack._coverage" not in probe["heavy"]
