"""A conftest.py that overrides `stack_settings` gets every effect of what it sets, the summary included.

Issue 25: the end-of-run summary used to re-read `--stack-coverage` itself, so
coverage turned on in code was measured but never reported; the failure-report
folder and the teardown were read outside the settings too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.test_example_project import left_behind, run_example

pytestmark = pytest.mark.integration

OVERRIDE = '''\
import dataclasses
from pathlib import Path

import pytest
from pytest_microstack import TeardownPolicy


@pytest.fixture(scope="session")
def stack_settings(stack_settings):
    """Everything below is set here only: nothing on the command line or in the ini."""
    return dataclasses.replace(
        stack_settings,
        coverage=True,
        coverage_services=("web",),
        artifacts=Path({artifacts!r}),
        teardown=TeardownPolicy.WAIT,
        secrets=(*stack_settings.secrets, "GREETING"),
    )
'''

FAILING = """\
def test_fails_on_purpose_showing_a_secret(service_client):
    assert service_client("web").get("/").json()["greeting"] == "something else"
"""


def test_a_conftest_override_sees_coverage_its_summary_reports_masking_and_teardown(
    pytester: pytest.Pytester,
    example_project: Path,
    engine: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("CI", raising=False)  # the default would be the detached reaper
    monkeypatch.chdir(example_project)  # coverage reads .coveragerc and writes data where it runs
    artifacts = tmp_path / "override-artifacts"
    (example_project / "conftest.py").write_text(OVERRIDE.format(artifacts=str(artifacts)))
    (example_project / "tests" / "test_override.py").write_text(FAILING)

    result = run_example(pytester, example_project, "-k", "web_answers or fails_on_purpose")

    result.assert_outcomes(passed=1, failed=1)
    # Coverage, measured and reported in the summary (before: measured, never reported).
    assert len(list(example_project.glob(".coverage.microstack.*"))) == 1
    result.stdout.fnmatch_lines(["*--- microstack ---*", "*services' coverage: 1 data file(s)*"])
    # The failure report, in the overridden folder.
    [report] = [path for path in artifacts.iterdir() if path.is_dir()]
    assert "fails_on_purpose" in report.name
    result.stdout.fnmatch_lines([f"failure reports: 1 in {artifacts}"])
    # The overridden secret is masked wherever pytest writes.
    assert "hello from the tests" not in result.stdout.str()
    assert all("hello from the tests" not in path.read_text() for path in report.iterdir() if path.is_file())
    # WAIT: removed before pytest returned, though CI is not set.
    assert left_behind(engine, example_project) == []
