"""The pytest entry point (`pytest11`): options, ini settings, and the switch that turns the rest on.

An installed plugin loads into every pytest run of its environment, so this
module is all that loads until a project declares a stack: any `stack_*` ini
option or `--*-stack`/`--stack-*` option, or a conftest.py that overrides the
`stack_settings` fixture. Only then are the fixtures and the run's hooks
registered (`_session.fixtures`, `_session.run_state`). Elsewhere the plugin
adds no fixture, no autouse check, no marker and no import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_microstack._core.faults import Faults

RUN_STATE = "microstack-run"
FIXTURES = "microstack-fixtures"
EXCHANGES = "microstack-exchanges"
PHASES = "microstack-phases"  # per-test contexts of --stack-coverage
IMPACT = "microstack-impact"  # --stack-impact, and the recording --stack-coverage saves for it
ENGINE_POOL = "microstack-engine-pool"  # stack_engines: which worker runs on which engine
_INI: dict[str, tuple[str, str, Any]] = {
    # name: (help, type, default)
    "stack_compose_files": (
        "compose files, relative to the rootdir (default: the first of compose.yaml, compose.yml, "
        "docker-compose.yaml, docker-compose.yml)",
        "args",
        [],
    ),
    "stack_services": (
        "one service a line: NAME [http PORT [PATH] | tcp PORT | docker | running] (default: every service)",
        "linelist",
        [],
    ),
    "stack_secrets": ("variables given a fresh random value every run", "args", []),
    "stack_environment": ("KEY=VALUE lines passed to compose", "linelist", []),
    "stack_timeout": ("seconds for the whole stack to become ready (default 60)", "string", ""),
    "stack_artifacts": (
        "folder, relative to the rootdir, under which each run saves its failure reports in a "
        "folder named by its run id (default: .artifacts)",
        "string",
        "",
    ),
    "stack_parallel_start": (
        "drop depends_on so every service starts at once (services that need each other only per request)",
        "bool",
        False,
    ),
    "stack_coverage": (
        "measure coverage of the services' own code inside their containers (as --stack-coverage)",
        "bool",
        False,
    ),
    "stack_coverage_services": ("the services --stack-coverage measures (default: every one)", "args", []),
    "stack_exchanges": (
        "record what the declared services say to each other and to the tests: true, false, or auto "
        "(the default: only for a run whose selected tests use doubles)",
        "string",
        "",
    ),
    "stack_exchanges_image": (
        "image whose python3 runs the recording proxies (default: the first of the stack's own with one)",
        "string",
        "",
    ),
    "stack_engines": (
        "engines to spread the xdist workers over, as DOCKER_HOST names them (tcp://HOST:2375, "
        "ssh://user@HOST), balanced by their CPU counts (default: the one engine DOCKER_HOST names)",
        "args",
        [],
    ),
    "stack_impact_file": (
        "the recording --stack-coverage writes and --stack-impact reads, relative to the rootdir "
        "(default: .microstack-impact.json)",
        "string",
        "",
    ),
}
# Command-line options: flag -> its `addoption` keywords (the docs' reference is made from them).
_CLI: dict[str, dict[str, Any]] = {
    "--keep-stack": {
        "action": "store_true",
        "help": "leave the stack running after the run and print how to reach and remove it",
    },
    "--reuse-stack": {
        "action": "store_true",
        "help": "attach to a stack kept by an earlier --keep-stack/--reuse-stack run with the "
        "same configuration (starting and keeping one if none); refused when CI is set",
    },
    "--stack-timeout": {
        "metavar": "SECONDS",
        "default": None,  # parsed (and checked) once, by the settings reader
        "help": "seconds for the whole stack to become ready (default: env STACK_TIMEOUT, "
        "else ini stack_timeout, else 60)",
    },
    "--stack-artifacts": {
        "metavar": "DIR",
        "default": None,
        "help": "folder for this run's failure reports (logs, docker inspect, effective compose config) "
        "(default: <rootdir>/<ini stack_artifacts>/<run id>)",
    },
    "--stack-coverage": {
        "action": "store_true",
        "help": "measure every Python process of the services inside their containers; the data joins "
        "pytest-cov's report (--cov), else is written for `coverage combine` "
        "(docs: Coverage inside containers)",
    },
    "--stack-engines": {
        "metavar": "URLS",
        "default": None,  # parsed (and checked) once, by the settings reader
        "help": "engines to spread the xdist workers over, comma-separated, as DOCKER_HOST names them "
        "(default: env STACK_ENGINES, else ini stack_engines, else the one engine DOCKER_HOST names)",
    },
    "--stack-exchanges": {
        "action": "store_true",
        "help": "record the exchanges between services for this run, whatever ini stack_exchanges says",
    },
    "--no-stack-exchanges": {
        "action": "store_true",
        "help": "don't record the exchanges between services (no proxies, no doubles)",
    },
    "--stack-impact": {
        "metavar": "BASE",
        "default": None,
        "help": "run only the tests the change from git commit BASE to the working tree needs, by the "
        "recording a --stack-coverage run on BASE saved; prints why, one line a reason (see README)",
    },
    "--stack-impact-file": {
        "metavar": "FILE",
        "default": None,
        "help": "the recording to write (--stack-coverage) and read (--stack-impact) "
        "(default: ini stack_impact_file, else .microstack-impact.json in the rootdir)",
    },
}
_MARKERS = {
    "integration": "uses the compose stack (added to tests using it)",
    "faults": "breaks a service for real (added to tests using `faults`)",
}
_OPTIONS = (
    "keep_stack",
    "reuse_stack",
    "stack_timeout",
    "stack_artifacts",
    "stack_coverage",
    "stack_exchanges",
    "stack_impact",
    "stack_engines",
)
# Set once pytest_configure ran: a conftest found later in collection activates the plugin at once.
_CONFIGURED = pytest.StashKey[bool]()


class HookSpecs:
    """Hooks a project implements in its conftest.py to extend the plugin.

    Declared whether or not a stack is, so that a conftest implementing them
    is valid in every run.
    """

    @pytest.hookspec
    def pytest_microstack_add_faults(self, faults: Faults) -> None:
        """Register project-specific faults on the `faults` fixture of a test.

        Called once per test that uses `faults`, with the conftest.py files that
        apply to that test. Example, in a conftest.py:

        ```python
        # illustrative: the project's own inject(stack, container, **options)
        from myproject.faults import make_database_unreadable


        def pytest_microstack_add_faults(faults):
            faults.register("erroring", make_database_unreadable)
        ```

        then in a test: `with faults.erroring("api"): ...`. `inject(stack,
        container, **options)` breaks the service and returns a function that
        undoes it; the harness heals and checks health afterwards.
        """


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(HookSpecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("microstack", "compose stack for integration tests (pytest-microstack)")
    for flag, attrs in _CLI.items():
        group.addoption(flag, **attrs)
    for name, (help_text, kind, default) in _INI.items():
        parser.addini(name, help_text, type=kind, default=default)  # type: ignore[arg-type]


def declares_a_stack(config: pytest.Config) -> bool:
    """Whether this run asks for a stack: an ini option, a command-line option or a conftest override."""
    if any(config.getini(name) != default for name, (_, _, default) in _INI.items()):
        return True
    if any(config.getoption(name, None) not in (None, False) for name in _OPTIONS):
        return True
    return any(_overrides_settings(plugin) for plugin in config.pluginmanager.get_plugins())


def _overrides_settings(plugin: object) -> bool:
    """A conftest.py that defines `stack_settings` declares a stack in code."""
    return str(getattr(plugin, "__file__", "")).endswith("conftest.py") and hasattr(plugin, "stack_settings")


def _activate(config: pytest.Config) -> None:
    if config.pluginmanager.has_plugin(RUN_STATE):
        return
    from pytest_microstack._session import fixtures
    from pytest_microstack._session.run_state import RunState

    state = RunState(config)
    config.pluginmanager.register(state, RUN_STATE)
    config.pluginmanager.register(fixtures, FIXTURES)
    _register_exchanges(config)
    from pytest_microstack._session.phases import Phases

    config.pluginmanager.register(Phases(), PHASES)  # idle unless a stack is measured
    from pytest_microstack._impact.pytest_side import Impact

    config.pluginmanager.register(Impact(config, lambda: state.settings), IMPACT)
    if state.settings.engines:
        from pytest_microstack._session.engine_pool import EnginePool

        config.pluginmanager.register(EnginePool(config, state), ENGINE_POOL)
    _register_markers(config)


def _register_exchanges(config: pytest.Config) -> None:
    """The exchanges' report hook and `doubles` fixture (`_exchanges`): inert for a stack without proxies."""
    from pytest_microstack._session import doubles_fixture as exchange_fixtures
    from pytest_microstack._session.exchanges_report import ExchangesReport

    config.pluginmanager.register(ExchangesReport(config), EXCHANGES)
    config.pluginmanager.register(exchange_fixtures, f"{EXCHANGES}-fixtures")


def _register_markers(config: pytest.Config) -> None:
    """Register the marks RunState adds (--strict-markers requires it), each once.

    A project that registers one itself (in its ini `markers`) keeps its own
    description: `pytest --markers` then lists it once, not twice.
    """
    declared = {str(line).split(":")[0].split("(")[0].strip() for line in config.getini("markers")}
    for name, description in _MARKERS.items():
        if name not in declared:
            config.addinivalue_line("markers", f"{name}: {description}")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_CONFIGURED] = True
    if declares_a_stack(config):
        _activate(config)


def pytest_plugin_registered(plugin: object, manager: pytest.PytestPluginManager) -> None:
    """A conftest.py below the rootdir, loaded during collection, may declare the stack."""
    if not _overrides_settings(plugin):
        return
    config = manager.get_plugin("pytestconfig")
    if isinstance(config, pytest.Config) and config.stash.get(_CONFIGURED, False):
        _activate(config)
