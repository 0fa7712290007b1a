"""The example project passes through the installed plugin, exactly as an outside project runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_microstack._core.waiting import wait_for
from pytest_microstack._engine.containers import list_containers

pytestmark = pytest.mark.integration
RUN_TIMEOUT = 240  # seconds: a cold build of three small images plus the run, on 2 loaded cores
# Outside CI the removal is left to a detached reaper that outlives pytest: its
# Python start-up plus the API removal take ~1 s; 30 s is the margin for a loaded machine.
REAPER_DEADLINE = 30.0
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"


def left_behind(engine: Any, project_dir: Path) -> list[str]:
    """Containers and networks compose created for stacks of this project folder."""
    label = {"label": f"{WORKING_DIR_LABEL}={project_dir}"}
    return [
        *(c.name for c in list_containers(engine, label)),
        *(n.name for n in engine.networks.list(filters=label)),
    ]


def assert_nothing_left(engine: Any, project_dir: Path) -> None:
    wait_for(lambda: not left_behind(engine, project_dir), timeout=REAPER_DEADLINE, what="the stack removed")


def run_example(pytester: pytest.Pytester, project: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        str(project), "--rootdir", str(project), "-p", "no:cacheprovider", *args, timeout=RUN_TIMEOUT
    )


def test_example_project_is_green_through_the_entry_point(
    pytester: pytest.Pytester, example_project: Path, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)  # a developer's run: removal by the detached reaper

    result = run_example(pytester, example_project)

    result.assert_outcomes(passed=8)
    assert_nothing_left(engine, example_project)


def test_xdist_workers_each_get_their_own_stack_and_ci_waits_for_removal(
    pytester: pytest.Pytester, example_project: Path, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")  # CI mode: pytest exits only once its stacks are gone

    result = run_example(pytester, example_project, "-n", "2", "-k", "web or worker")

    result.assert_outcomes(passed=3)
    assert left_behind(engine, example_project) == []


def test_the_generic_fixtures_are_listed(pytester: pytest.Pytester, example_project: Path) -> None:
    result = run_example(pytester, example_project, "--fixtures")

    for fixture in ("stack_settings", "stack ", "service_url", "service_client", "faults"):
        result.stdout.fnmatch_lines([f"{fixture}*"])


def test_a_declared_service_missing_from_the_compose_file_is_refused_naming_it_and_the_key(
    pytester: pytest.Pytester, example_project: Path, engine: Any
) -> None:
    ini = example_project / "pytest.ini"
    ini.write_text(ini.read_text().replace("worker  docker", "worker  docker\n    queue   tcp 5672"))

    result = run_example(pytester, example_project, "-k", "worker")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*service 'queue', key 'services': declared in stack_services*"])
    assert left_behind(engine, example_project) == []  # refused before anything started


def measured_lines(data_file: Path, source: str) -> set[int]:
    from contextlib import closing

    from coverage import CoverageData

    with closing(CoverageData(basename=str(data_file))) as data:
        data.read()
        return set(data.lines(source) or [])


def line_of(path: Path, text: str) -> int:
    """The 1-based number of the first line containing `text`."""
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_stack_coverage_writes_every_services_lines_for_coverage_combine(
    pytester: pytest.Pytester, example_project: Path, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built without `image:`, `python3 /app/app.py` as PID 1 and uid 10001: measured as they are."""
    monkeypatch.chdir(example_project)  # coverage reads .coveragerc and writes data where it runs

    result = run_example(pytester, example_project, "--stack-coverage", "-k", "web")

    result.assert_outcomes(passed=2)
    (written,) = example_project.glob(".coverage.microstack.*")
    result.stdout.fnmatch_lines(["*services' coverage: 1 data file(s)*", "*coverage combine*"])
    # Every service's /app/app.py, told apart by the [paths] entries named after them.
    web, kv = example_project / "web" / "app.py", example_project / "kv" / "app.py"
    web_lines = measured_lines(written, str(web.resolve()))
    assert line_of(web, '"greeting": os.environ') in web_lines  # GET /
    assert line_of(web, 'stored": kv(') in web_lines  # PUT /items/
    assert line_of(web, "kv unreachable") not in web_lines  # kv never went down in these tests
    assert line_of(kv, "serve_forever") in measured_lines(written, str(kv.resolve()))
    assert measured_lines(written, str((example_project / "worker" / "app.py").resolve()))
    assert_nothing_left(engine, example_project)


def test_stack_coverage_joins_pytest_covs_report_from_every_xdist_worker(
    pytester: pytest.Pytester, example_project: Path, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(example_project)
    monkeypatch.setenv("CI", "true")

    result = run_example(
        pytester,
        example_project,
        "--stack-coverage",
        "-o",
        "stack_coverage_services=web",
        "--cov=web",
        "--cov-report=term-missing",
        "-n",
        "2",
        "-k",
        "web or kv_down",
    )

    result.assert_outcomes(passed=3)
    # One worker ran kv_down (the 503 branch), the other the rest: both stacks' lines are in.
    result.stdout.fnmatch_lines(["*joins pytest-cov's report*", "*web/app.py *"])
    app = example_project / "web" / "app.py"
    lines = measured_lines(example_project / ".coverage", str(app.resolve()))
    assert line_of(app, "kv unreachable") in lines
    assert line_of(app, '"greeting": os.environ') in lines
    assert list(example_project.glob(".coverage.microstack.*")) == []  # combined into pytest-cov's data
    assert left_behind(engine, example_project) == []


def test_stack_coverage_names_a_service_whose_python_ignores_pythonpath(
    pytester: pytest.Pytester, example_project: Path, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    compose = example_project / "compose.yaml"
    kv = "  kv:  # TCP only: a line protocol, no HTTP at all\n"
    isolated = '    command: ["python3", "-I", "/app/app.py"]\n'  # -I: no PYTHONPATH, no sitecustomize
    compose.write_text(compose.read_text().replace(kv, kv + isolated))
    monkeypatch.chdir(example_project)

    result = run_example(
        pytester, example_project, "--stack-coverage", "-o", "stack_coverage_services=web kv", "-k", "kv_is"
    )

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*service 'kv': no Python process started coverage there*"])
    assert_nothing_left(engine, example_project)
