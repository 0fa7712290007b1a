"""One route per setting (issue 25): read once by `read_settings`, then the settings the stack got decide.

The run reads its settings once, at start-up; the `stack` fixture hands the
ones it got (a conftest's override included) to the run, and the summary,
the failure reports and the end-of-run sweep follow those, on xdist's
controller too. No engine: the run's state is driven as the fixture drives it.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import pytest
from pytest_microstack import SettingsError, StackSettings, TeardownPolicy, read_settings
from pytest_microstack._session.run_state import WORKER_KEY, RunState

from unit.fakes import FakeEngine
from unit.test_failure_report import add_stack_containers, make_stack
from unit.test_reporting import Terminal, run_state, worker_summary


@pytest.fixture(autouse=True)
def no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("STACK_TIMEOUT", raising=False)


def summary_of(state: RunState) -> list[str]:
    terminal = Terminal()
    state.pytest_terminal_summary(terminal)
    return terminal.lines


def test_the_stack_settings_fixture_is_what_the_run_read_at_start(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest="[pytest]\nstack_timeout = 30\nstack_artifacts = reports\n")
    pytester.makepyfile(
        """
        def test_settings(stack_settings, request):
            state = request.config.pluginmanager.get_plugin("microstack-run")
            assert stack_settings is state.settings
            assert stack_settings.stack_timeout == 30.0
            assert stack_settings.artifacts == request.config.rootpath / "reports" / state.run_id
        """
    )

    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_coverage_turned_on_by_an_override_gets_its_summary_and_reports_go_where_it_says(
    pytester: pytest.Pytester, engine: FakeEngine, tmp_path: Path
) -> None:
    state = run_state(pytester)  # the ini turns nothing on
    overridden = dataclasses.replace(state.settings, coverage=True, artifacts=tmp_path / "elsewhere")
    add_stack_containers(engine)

    state.stack_starting(overridden)
    state.start_failed(make_stack(engine, {"services": {}}), RuntimeError("boom"))

    lines = summary_of(state)
    assert "stacks: 0 started, 1 failed to start" in lines
    assert any(line.startswith("--stack-coverage: no data written") for line in lines), lines
    [report] = state.summary.reports
    assert Path(report).parent == tmp_path / "elsewhere"


def test_without_coverage_in_the_settings_the_summary_says_nothing_of_it(
    pytester: pytest.Pytester, engine: FakeEngine
) -> None:
    state = run_state(pytester)
    add_stack_containers(engine)
    state.stack_starting(dataclasses.replace(state.settings, artifacts=pytester.path / "reports"))

    state.start_failed(make_stack(engine, {"services": {}}), RuntimeError("boom"))

    lines = summary_of(state)
    assert "stacks: 0 started, 1 failed to start" in lines
    assert not any(line.startswith(("--stack-coverage", "services' coverage")) for line in lines), lines


def test_a_workers_coverage_reaches_the_controllers_summary(pytester: pytest.Pytester) -> None:
    worker = run_state(pytester)
    workeroutput: dict[str, Any] = {}
    worker.config.workeroutput = workeroutput  # type: ignore[attr-defined]  # what xdist sets on a worker
    worker.stack_starting(dataclasses.replace(worker.settings, coverage=True))
    worker.summary = worker_summary(1.0)
    worker.pytest_sessionfinish(session=None, exitstatus=0)  # type: ignore[arg-type]
    controller = run_state(pytester)

    controller.pytest_testnodedown(SimpleNamespace(workeroutput=workeroutput), error=None)

    assert workeroutput[WORKER_KEY]["coverage"] is True
    assert any(line.startswith("--stack-coverage: no data written") for line in summary_of(controller))


@pytest.mark.parametrize(
    ("teardown", "sweeps"),
    [
        pytest.param(TeardownPolicy.WAIT, True, id="wait"),
        pytest.param(TeardownPolicy.REAPER, False, id="reaper-sweeps-itself"),
        pytest.param(TeardownPolicy.KEEP, False, id="keep"),
    ],
)
def test_only_a_run_that_waits_sweeps_again_at_its_end(
    pytester: pytest.Pytester,
    engine: FakeEngine,
    monkeypatch: pytest.MonkeyPatch,
    teardown: TeardownPolicy,
    sweeps: bool,
) -> None:
    from pytest_microstack._core import lifecycle

    swept: list[bool] = []

    def sweep() -> list[str]:
        swept.append(True)
        return []

    monkeypatch.setattr(lifecycle, "sweep_leftovers", sweep)
    state = run_state(pytester)
    state.stack_starting(dataclasses.replace(state.settings, teardown=teardown))
    stack = make_stack(engine, {"services": {}})
    stack.startup = []  # attached or started: either way a stack was opened

    state.stack_opened(stack)
    state.pytest_sessionfinish(session=None, exitstatus=0)  # type: ignore[arg-type]

    assert swept == ([True] if sweeps else [])


# --- the reader ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "environ", "problem"),
    [
        pytest.param(("--reuse-stack",), {"CI": "1"}, "--reuse-stack is refused in CI", id="ci"),
        pytest.param(("--reuse-stack", "-n", "2"), {}, "run it without xdist", id="xdist"),
    ],
)
def test_the_reuse_checks_are_the_readers(
    pytester: pytest.Pytester, args: tuple[str, ...], environ: dict[str, str], problem: str
) -> None:
    pytester.makefile(".ini", pytest="[pytest]\n")
    config = pytester.parseconfig(*args)  # not configured: the plugin's run never read it

    with pytest.raises(SettingsError, match=problem):
        read_settings(config, run_id="r1", environ=environ)


def test_reuse_outside_ci_and_without_workers_is_the_reuse_policy(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest="[pytest]\n")
    config = pytester.parseconfig("--reuse-stack", "--keep-stack")

    assert read_settings(config, run_id="r1", environ={}).teardown is TeardownPolicy.REUSE


@pytest.mark.parametrize(
    ("ini", "environ", "expected"),
    [
        pytest.param("", {}, TeardownPolicy.REAPER, id="developer"),
        pytest.param("", {"CI": "true"}, TeardownPolicy.WAIT, id="ci"),
    ],
)
def test_tools_reading_the_file_get_the_same_teardown_and_artifacts(
    tmp_path: Path, ini: str, environ: dict[str, str], expected: TeardownPolicy
) -> None:
    (tmp_path / "pytest.ini").write_text(f"[pytest]\nstack_artifacts = out/reports\n{ini}")

    settings = read_settings(tmp_path, run_id="tool1", environ=environ)

    assert settings.teardown is expected
    assert settings.artifacts == tmp_path / "out" / "reports" / "tool1"


def test_settings_built_in_code_get_the_default_artifacts_folder_and_teardown(tmp_path: Path) -> None:
    settings = StackSettings(tmp_path, (), "r1")

    assert settings.artifacts == tmp_path / ".artifacts" / "r1"
    assert settings.teardown is TeardownPolicy.REAPER
    assert not settings.teardown.keeps_stack
    assert TeardownPolicy.KEEP.keeps_stack
    assert TeardownPolicy.REUSE.keeps_stack


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("soon", "--stack-timeout: 'soon' is not a number of seconds", id="not-a-number"),
        pytest.param("0", "--stack-timeout: '0' must be more than 0 seconds", id="zero"),
    ],
)
def test_a_bad_timeout_flag_is_refused_by_the_reader_at_start(
    pytester: pytest.Pytester, value: str, problem: str
) -> None:
    pytester.makefile(".ini", pytest="[pytest]\nstack_timeout = 30\n")

    with pytest.raises(pytest.UsageError, match=problem):
        pytester.parseconfigure(f"--stack-timeout={value}")


# --- --stack-impact's settings: read by the reader, followed by the impact plugin ----------------


@pytest.mark.parametrize(
    ("ini", "args", "expected"),
    [
        pytest.param("", (), ".microstack-impact.json", id="default"),
        pytest.param("stack_impact_file = rec/impact.json\n", (), "rec/impact.json", id="ini"),
        pytest.param(
            "stack_impact_file = rec/impact.json\n", ("--stack-impact-file=cli.json",), "cli.json", id="cli"
        ),
    ],
)
def test_the_impact_file_has_the_one_precedence(
    pytester: pytest.Pytester, ini: str, args: tuple[str, ...], expected: str
) -> None:
    pytester.makefile(".ini", pytest=f"[pytest]\n{ini}")

    settings = read_settings(pytester.parseconfig(*args), run_id="r1", environ={})

    assert settings.impact_file == pytester.path / expected
    assert settings.impact_base is None


def test_the_impact_base_is_the_readers_and_a_blank_one_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest="[pytest]\n")

    assert read_settings(pytester.parseconfig("--stack-impact=main"), run_id="r1").impact_base == "main"
    with pytest.raises(SettingsError, match="--stack-impact: give a git commit"):
        read_settings(pytester.parseconfig("--stack-impact= "), run_id="r1")


def _repository(folder: Path) -> None:
    """A git repository with one service module: a recording needs a commit to be made on."""
    (folder / "svc.py").write_text("X = 1\n")
    commit = ("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    for args in (("init", "-q"), ("add", "."), commit):
        subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


def _measured_data_file(folder: Path, run_id: str, source: Path) -> None:
    """What a measured container leaves: a line of `source` run by one test's call phase."""
    from coverage import CoverageData

    data = CoverageData(basename=str(folder / f".coverage.microstack.{run_id}-main.svc"))
    data.set_context("tests/test_a.py::test_handled|run")
    data.add_lines({str(source): [1]})
    data.write()


@pytest.mark.parametrize(
    ("ini", "recording"),
    [
        pytest.param("", ".microstack-impact.json", id="default-file"),
        pytest.param("stack_impact_file = rec/impact.json\n", "rec/impact.json", id="ini-file"),
    ],
)
def test_coverage_turned_on_by_an_override_saves_the_impact_recording_where_the_settings_say(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ini: str, recording: str
) -> None:
    """The impact plugin once read --stack-coverage and its ini key itself: an override went unseen."""
    from pytest_microstack._impact.pytest_side import Impact

    pytester.makefile(".ini", pytest=f"[pytest]\nstack_timeout = 30\n{ini}")
    _repository(pytester.path)
    monkeypatch.chdir(pytester.path)  # coverage's data file, as `coverage` finds it: from here
    config = pytester.parseconfigure()
    state = config.pluginmanager.get_plugin("microstack-run")
    impact = config.pluginmanager.get_plugin("microstack-impact")
    assert isinstance(state, RunState)
    assert isinstance(impact, Impact)
    assert not state.settings.coverage  # neither the command line nor the ini turned it on
    state.stack_starting(dataclasses.replace(state.settings, coverage=True))  # a conftest's override
    _measured_data_file(pytester.path, state.run_id, pytester.path / "svc.py")

    impact.pytest_runtest_logreport(
        pytest.TestReport("tests/test_a.py::test_handled", ("t", 1, "t"), {}, "passed", None, "call")
    )
    impact.pytest_sessionfinish(session=None)  # type: ignore[arg-type]

    saved = json.loads((pytester.path / recording).read_text())
    assert saved["tests"] == ["tests/test_a.py::test_handled"]
    assert "svc.py" in saved["files"]


def test_without_coverage_in_the_settings_no_recording_is_saved(pytester: pytest.Pytester) -> None:
    from pytest_microstack._impact.pytest_side import Impact

    state = run_state(pytester)
    _repository(pytester.path)
    impact = state.config.pluginmanager.get_plugin("microstack-impact")
    assert isinstance(impact, Impact)
    _measured_data_file(pytester.path, state.run_id, pytester.path / "svc.py")

    impact.pytest_sessionfinish(session=None)  # type: ignore[arg-type]

    assert not (pytester.path / ".microstack-impact.json").exists()


@pytest.mark.parametrize(
    ("args", "environ", "ini", "expected"),
    [
        pytest.param((), {}, "", (), id="default-none"),
        pytest.param((), {}, "tcp://a:2375 ssh://ci@b", ("tcp://a:2375", "ssh://ci@b"), id="ini"),
        pytest.param(
            (),
            {"STACK_ENGINES": "tcp://e:2375,tcp://f:2375"},
            "tcp://a:2375",
            ("tcp://e:2375", "tcp://f:2375"),
            id="env-beats-ini",
        ),
        pytest.param(
            ("--stack-engines=tcp://c:2375",),
            {"STACK_ENGINES": "tcp://e:2375"},
            "tcp://a:2375",
            ("tcp://c:2375",),
            id="option-beats-env",
        ),
        pytest.param((), {"STACK_ENGINES": "  "}, "tcp://a:2375", ("tcp://a:2375",), id="blank-env-is-unset"),
    ],
)
def test_stack_engines_has_one_precedence(
    pytester: pytest.Pytester,
    args: tuple[str, ...],
    environ: dict[str, str],
    ini: str,
    expected: tuple[str, ...],
) -> None:
    pytester.makefile(".ini", pytest=f"[pytest]\nstack_engines = {ini}\n")
    config = pytester.parseconfig(*args)

    assert read_settings(config, run_id="r1", environ=environ).engines == expected
    if not args:  # tools reading the file (no command line) get the same
        assert read_settings(pytester.path, run_id="r1", environ=environ).engines == expected


def test_a_bad_engine_is_refused_by_the_reader_naming_its_route(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest="[pytest]\nstack_engines = tcp://a:2375\n")
    config = pytester.parseconfig()

    with pytest.raises(SettingsError, match="STACK_ENGINES: 'a:1' is not an engine address"):
        read_settings(config, run_id="r1", environ={"STACK_ENGINES": "a:1"})


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        pytest.param((), "", "auto", id="default-auto"),
        pytest.param((), "auto", "auto", id="ini-auto"),
        pytest.param((), "AUTO", "auto", id="ini-auto-any-case"),
        pytest.param((), "true", True, id="ini-true"),
        pytest.param((), "yes", True, id="ini-yes"),
        pytest.param((), "false", False, id="ini-false"),
        pytest.param((), "0", False, id="ini-zero"),
        pytest.param(("--stack-exchanges",), "false", True, id="option-on-beats-ini"),
        pytest.param(("--no-stack-exchanges",), "true", False, id="option-off-beats-ini"),
        pytest.param(("--no-stack-exchanges",), "", False, id="option-off-beats-auto"),
    ],
)
def test_stack_exchanges_has_one_precedence(
    pytester: pytest.Pytester, args: tuple[str, ...], ini: str, expected: object
) -> None:
    pytester.makefile(".ini", pytest=f"[pytest]\nstack_exchanges = {ini}\n")
    config = pytester.parseconfig(*args)

    assert read_settings(config, run_id="r1").exchanges == expected
    if not args:  # tools reading the file (no command line) get the same
        assert read_settings(pytester.path, run_id="r1").exchanges == expected


def test_both_exchanges_options_are_refused_by_the_reader(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfig("--stack-exchanges", "--no-stack-exchanges")

    with pytest.raises(SettingsError, match="--stack-exchanges and --no-stack-exchanges: give one of them"):
        read_settings(config, run_id="r1")


def test_a_bad_exchanges_value_is_refused_naming_the_three_it_takes(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest="[pytest]\nstack_exchanges = maybe\n")

    with pytest.raises(SettingsError, match="stack_exchanges: 'maybe' is not true, false or auto"):
        read_settings(pytester.parseconfig(), run_id="r1")


def test_settings_built_in_code_record_only_when_told(tmp_path: Path) -> None:
    assert StackSettings(root=tmp_path, services=(), run_id="r").exchanges == "auto"


@pytest.mark.parametrize(
    ("doubles_wanted", "given", "expected"),
    [
        pytest.param(True, "auto", True, id="auto-with-doubles-on"),
        pytest.param(False, "auto", False, id="auto-without-doubles-off"),
        pytest.param(True, False, False, id="off-stays-off-with-doubles"),
        pytest.param(False, True, True, id="on-stays-on-without-doubles"),
    ],
)
def test_auto_exchanges_are_decided_when_the_stack_starts(
    pytester: pytest.Pytester, doubles_wanted: bool, given: bool | Literal["auto"], expected: bool
) -> None:
    state = run_state(pytester)
    state.doubles_wanted = doubles_wanted

    got = state.stack_starting(dataclasses.replace(state.settings, exchanges=given))

    assert got.exchanges is expected
    assert state.settings is got  # the rest of the run follows what the stack got


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        pytest.param((), True, id="a-selected-test-uses-doubles"),
        pytest.param(("-k", "plain"), False, id="the-doubles-test-deselected"),
        pytest.param(("-k", "uses_a_fixture_named"), False, id="a-projects-own-doubles-fixture"),
    ],
)
def test_doubles_are_wanted_only_by_a_selected_test_using_the_plugins_fixture(
    pytester: pytest.Pytester, args: tuple[str, ...], wanted: bool
) -> None:
    pytester.makefile(".ini", pytest="[pytest]\nstack_timeout = 30\n")
    pytester.makepyfile(
        test_mixed="""
        import pytest

        def test_plain():
            pass

        def test_with_doubles(doubles):
            pass
        """,
        test_own="""
        import pytest

        @pytest.fixture
        def doubles():
            return {}

        def test_uses_a_fixture_named_doubles(doubles):
            pass
        """,
    )
    config = pytester.parseconfigure(*args)
    session = pytest.Session.from_config(config)
    config.hook.pytest_sessionstart(session=session)
    session.perform_collect()
    state = config.pluginmanager.get_plugin("microstack-run")
    assert isinstance(state, RunState)

    assert state.doubles_wanted is wanted
