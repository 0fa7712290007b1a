"""pytest_microstack.plugin: ini options and command-line flags to StackSettings, through pytest itself.

pytester builds real pytest configurations from an ini file, with the plugin
loaded through its entry point as in any project; no stack is started.
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_microstack import read_settings
from pytest_microstack._session.run_state import RunState
from pytest_microstack._settings import DEFAULT_STACK_TIMEOUT, ServiceSpec, StackSettings, TeardownPolicy

INI = """\
[pytest]
stack_compose_files = compose.yaml compose.ci.yaml
stack_services =
    api     http 5000 /ready
    db      tcp 5432
    worker  docker
    cron
stack_secrets = API_SECRET OTHER_SECRET
stack_environment =
    HEALTHCHECK_INTERVAL=30s
    LOG_LEVEL = DEBUG
stack_timeout = 90
stack_parallel_start = true
"""


@pytest.fixture(autouse=True)
def no_ci_nor_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's shell or the CI runner must not change what these tests see."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("STACK_TIMEOUT", raising=False)


def settings_from_config(config: pytest.Config) -> StackSettings:
    """What the `stack_settings` fixture reads: the ini through pytest, with the run's own id."""
    state = config.pluginmanager.get_plugin("microstack-run")
    run_id = state.run_id if isinstance(state, RunState) else "norun"
    return read_settings(config, run_id=run_id)


def settings_for(pytester: pytest.Pytester, ini: str, *args: str) -> StackSettings:
    pytester.makefile(".ini", pytest=ini)
    return settings_from_config(pytester.parseconfigure(*args))


def fields(settings: StackSettings, expected: dict[str, Any]) -> dict[str, Any]:
    """The settings' values for the fields `expected` names."""
    return {name: getattr(settings, name) for name in expected}


def test_the_ini_options_become_the_stack_settings(pytester: pytest.Pytester) -> None:
    settings = settings_for(pytester, INI)

    expected = {
        "root": pytester.path,
        "services": (
            ServiceSpec("api", 5000, "/ready"),
            ServiceSpec("db", 5432, check="tcp"),
            ServiceSpec("worker", check="docker"),
            ServiceSpec("cron", check="running"),
        ),
        "worker": "main",
        "compose_files": ("compose.yaml", "compose.ci.yaml"),
        "stack_timeout": 90.0,
        "teardown": TeardownPolicy.REAPER,
        "environment": {"HEALTHCHECK_INTERVAL": "30s", "LOG_LEVEL": "DEBUG"},
        "secrets": ("API_SECRET", "OTHER_SECRET"),
        "parallel_start": True,
    }
    assert fields(settings, expected) == expected
    assert settings.project == f"microstack-it-{settings.run_id}-main"


def test_without_options_the_defaults_apply(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yml", **{"docker-compose": "services: {}\n"})

    settings = settings_for(pytester, "[pytest]\n")

    defaults = StackSettings(root=pytester.path, services=(), run_id=settings.run_id)
    expected = {
        "root": pytester.path,
        "services": (),
        "compose_files": ("docker-compose.yml",),
        "stack_timeout": DEFAULT_STACK_TIMEOUT,
        "teardown": TeardownPolicy.REAPER,
        "environment": {},
        "secrets": (),
        "parallel_start": defaults.parallel_start,
    }
    assert fields(settings, expected) == expected


def test_each_run_gets_its_own_run_id(pytester: pytest.Pytester) -> None:
    assert settings_for(pytester, INI).run_id != settings_for(pytester, INI).run_id


@pytest.mark.parametrize(
    ("option", "line", "problem"),
    [
        pytest.param("stack_services", "db tcp", "tcp needs a container port", id="service-without-port"),
        pytest.param("stack_services", "api ftp 21", "check 'ftp' is not one of", id="unknown-check"),
        pytest.param("stack_services", "api http 5000 ready", "must start with /", id="relative-path"),
        pytest.param("stack_environment", "NO_VALUE", "expected KEY=VALUE", id="environment-line"),
    ],
)
def test_a_bad_line_is_a_usage_error_naming_it(
    pytester: pytest.Pytester, option: str, line: str, problem: str
) -> None:
    good = "api http 5000" if option == "stack_services" else "LOG_LEVEL=DEBUG"
    with pytest.raises(pytest.UsageError) as caught:
        settings_for(pytester, f"[pytest]\n{option} =\n    {good}\n    {line}\n")

    assert f"{option} line {line!r}: " in str(caught.value)
    assert problem in str(caught.value)


def test_a_timeout_that_is_not_a_number_is_a_usage_error(pytester: pytest.Pytester) -> None:
    with pytest.raises(pytest.UsageError, match="stack_timeout: 'soon' is not a number of seconds"):
        settings_for(pytester, "[pytest]\nstack_timeout = soon\n")


def test_the_timeout_flag_beats_the_environment_which_beats_the_ini(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings_for(pytester, "[pytest]\nstack_timeout = 90\n").stack_timeout == 90.0
    monkeypatch.setenv("STACK_TIMEOUT", "30")

    assert settings_for(pytester, "[pytest]\n").stack_timeout == 30.0
    assert settings_for(pytester, "[pytest]\nstack_timeout = 90\n").stack_timeout == 30.0
    assert (
        settings_for(pytester, "[pytest]\nstack_timeout = 90\n", "--stack-timeout=12.5").stack_timeout == 12.5
    )


@pytest.mark.parametrize(
    ("flags", "policy"),
    [
        pytest.param((), TeardownPolicy.REAPER, id="neither"),
        pytest.param(("--keep-stack",), TeardownPolicy.KEEP, id="keep"),
        pytest.param(("--reuse-stack",), TeardownPolicy.REUSE, id="reuse"),
        pytest.param(("--keep-stack", "--reuse-stack"), TeardownPolicy.REUSE, id="both"),
    ],
)
def test_keep_and_reuse_flags(
    pytester: pytest.Pytester, flags: tuple[str, ...], policy: TeardownPolicy
) -> None:
    assert settings_for(pytester, INI, *flags).teardown is policy


def test_reuse_is_refused_in_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.UsageError, match="--reuse-stack is refused in CI"):
        settings_for(pytester, INI, "--reuse-stack")


def test_reuse_is_refused_with_several_xdist_workers(pytester: pytest.Pytester) -> None:
    with pytest.raises(pytest.UsageError, match="run it without xdist"):
        settings_for(pytester, INI, "--reuse-stack", "-n", "2")


# --- in a run ------------------------------------------------------------------------------------


def test_the_stack_settings_fixture_reads_the_ini(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyfile(
        """
        def test_settings(stack_settings):
            assert [spec.name for spec in stack_settings.services] == ["api", "db", "worker", "cron"]
            assert stack_settings.compose_files == ("compose.yaml", "compose.ci.yaml")
            assert stack_settings.secrets == ("API_SECRET", "OTHER_SECRET")
        """
    )

    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_bad_line_fails_the_run_at_start_naming_it(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest="[pytest]\nstack_services =\n    db tcp\n")
    pytester.makepyfile("def test_settings(stack_settings):\n    pass\n")

    result = pytester.runpytest("-p", "no:cacheprovider")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*stack_services line 'db tcp': tcp needs a container port*"])


def test_tests_using_the_stack_are_marked_integration_and_those_using_faults_faults(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def api(service_url):
            return service_url("api")

        def test_unit():
            pass

        def test_direct(stack):
            pass

        def test_through_a_fixture(api):
            pass

        def test_breaking(faults):
            pass
        """
    )

    integration = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q", "-m", "integration")
    faults = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q", "-m", "faults")

    integration.stdout.fnmatch_lines(
        ["*::test_direct", "*::test_through_a_fixture", "*::test_breaking", "3/4 tests collected*"]
    )
    faults.stdout.fnmatch_lines(["*::test_breaking", "1/4 tests collected*"])


def test_the_plugin_is_loaded_through_its_entry_point(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfig()
    assert config.pluginmanager.hasplugin("microstack")


@pytest.mark.parametrize("ci", ["", "1"], ids=["developer", "ci"])
def test_pytest_and_an_ini_file_read_the_same_settings_from_the_same_input(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    """One reader: pytest's parsed ini and the file read by tools give equal StackSettings."""
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("STACK_TIMEOUT", "45")
    pytester.makefile(".ini", pytest=INI)
    config = pytester.parseconfigure()

    through_pytest = read_settings(config, run_id="same", worker="gw1")
    from_the_file = read_settings(pytester.path / "pytest.ini", run_id="same", worker="gw1")

    assert through_pytest == from_the_file
    assert through_pytest.stack_timeout == 45.0  # the environment beats the ini, on both paths
    assert through_pytest.teardown is (TeardownPolicy.WAIT if ci else TeardownPolicy.REAPER)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("yes", True), ("1", True), ("false", False), ("off", False), ("0", False)],
)
def test_both_readers_spell_booleans_as_pytest_does(
    pytester: pytest.Pytester, text: str, expected: bool
) -> None:
    ini = f"[pytest]\nstack_parallel_start = {text}\n"
    pytester.makefile(".ini", pytest=ini)

    assert read_settings(pytester.parseconfigure(), run_id="r").parallel_start is expected
    assert read_settings(pytester.path / "pytest.ini", run_id="r").parallel_start is expected
