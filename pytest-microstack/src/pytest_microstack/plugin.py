"""The pytest plugin: options, ini settings, fixtures and hooks around `open_stack`.

Loaded by the `pytest11` entry point into every pytest run of an environment
that has it installed, so it imports nothing heavy at module level: Docker,
Testcontainers and requests are imported when the first stack fixture is set up.

Generic fixtures (scope in brackets; override any of them in a conftest.py):
  stack_settings [session]   what `stack` starts, read from the ini options
  stack [session]            the running stack for this worker
  service_url [function]     service_url(name) -> base URL on the engine's host
  service_client [function]  service_client(name) -> ServiceClient (requests.Session)
  faults [function]          break a service for real; healed after the test
"""

from __future__ import annotations

import gc
import os
import re
import time
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .errors import SettingsError
from .ownership import new_run_id
from .reporting import RunReports, artifacts_folder
from .settings import ServiceSpec, StackSettings, default_compose_files, parse_environment

if TYPE_CHECKING:
    from .clients import ServiceClient
    from .faults import Faults
    from .stack import Stack

RUN_ID_KEY = "microstack_run_id"
RUN_ID_ENV = "MICROSTACK_RUN_ID"
KEPT_KEY = "microstack_kept_stacks"
TEST_START = pytest.StashKey[float]()
CALL_FINISHED = pytest.StashKey[bool]()
_RUN_ID = pytest.StashKey[str]()
_USED_ENGINE = pytest.StashKey[bool]()
_KEPT = pytest.StashKey[list[str]]()
_WAIT_FOR_TEARDOWN = pytest.StashKey[bool]()
REPORTS = pytest.StashKey[RunReports]()
DEFAULT_STACK_TIMEOUT = 60.0
HEALTH_AFTER_TEST_TIMEOUT = 5.0


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("microstack", "compose stack for integration tests (pytest-microstack)")
    group.addoption(
        "--keep-stack",
        action="store_true",
        help="leave the stack running after the run and print how to reach and remove it",
    )
    group.addoption(
        "--reuse-stack",
        action="store_true",
        help="attach to a stack kept by an earlier --keep-stack/--reuse-stack run with the "
        "same configuration (starting and keeping one if none); refused when CI is set",
    )
    group.addoption(
        "--stack-timeout",
        type=float,
        default=None,
        help="seconds for the whole stack to become ready (default: ini stack_timeout, "
        "env STACK_TIMEOUT, else 60)",
    )
    group.addoption(
        "--stack-artifacts",
        metavar="DIR",
        default=None,
        help="folder for this run's failure reports (logs, docker inspect, effective compose config) "
        "(default: <rootdir>/<ini stack_artifacts>/<run id>)",
    )
    parser.addini(
        "stack_compose_files",
        "compose files, relative to the rootdir (default: the first of compose.yaml, compose.yml, "
        "docker-compose.yaml, docker-compose.yml)",
        type="args",
        default=[],
    )
    parser.addini(
        "stack_services",
        "one service a line: NAME [http PORT [PATH] | tcp PORT | docker | running] (default: every service)",
        type="linelist",
        default=[],
    )
    parser.addini("stack_secrets", "variables given a fresh random value every run", type="args", default=[])
    parser.addini("stack_environment", "KEY=VALUE lines passed to compose", type="linelist", default=[])
    parser.addini("stack_timeout", "seconds for the whole stack to become ready", default="")
    parser.addini(
        "stack_artifacts",
        "folder, relative to the rootdir, under which each run saves its failure reports in a "
        "folder named by its run id (default: .artifacts)",
        default="",
    )
    parser.addini(
        "stack_parallel_start",
        "drop depends_on so every service starts at once (services that need each other only per request)",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: uses the compose stack (added to tests using its fixtures)"
    )
    config.addinivalue_line("markers", "faults: breaks a service for real (added to tests using `faults`)")
    workerinput = getattr(config, "workerinput", None)
    config.stash[_RUN_ID] = workerinput[RUN_ID_KEY] if workerinput else _run_id_from_environment()
    if config.getoption("reuse_stack"):
        if os.environ.get("CI"):
            raise pytest.UsageError("--reuse-stack is refused in CI: every CI run starts a clean stack")
        if (config.getoption("numprocesses", None) or 0) not in (0, 1):
            raise pytest.UsageError("--reuse-stack attaches one stack: run it without xdist (-n)")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistRunId(config.stash[_RUN_ID]))
    reports = RunReports(config, artifacts_folder(config, config.stash[_RUN_ID]))
    config.stash[REPORTS] = reports
    config.pluginmanager.register(reports, "microstack-reports")
    _check_declaration(config)


def _check_declaration(config: pytest.Config) -> None:
    """A bad ini line is a usage error at start-up, not an error of the first stack test."""
    try:
        for line in config.getini("stack_services"):
            ServiceSpec.parse(line)
        parse_environment(config.getini("stack_environment"))
    except SettingsError as error:
        raise pytest.UsageError(str(error)) from None


def _run_id_from_environment() -> str:
    """$MICROSTACK_RUN_ID, else a random id: for tools that start runs and must find their stacks.

    The id names every project of the run (microstack-it-<id>-<worker>), so it
    must be unique among the runs alive at once.
    """
    given = os.environ.get(RUN_ID_ENV, "")
    if not given:
        return new_run_id()
    if not re.fullmatch(r"[a-z0-9]{1,24}", given):
        raise pytest.UsageError(f"{RUN_ID_ENV}={given!r}: use 1 to 24 lowercase letters and digits")
    return given


class _XdistRunId:
    """Hands the controller's run id to every xdist worker."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[RUN_ID_KEY] = self.run_id

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """Collect the stacks a worker left running, for the controller's summary."""
        output = getattr(node, "workeroutput", None) or {}
        node.config.stash.setdefault(_KEPT, []).extend(output.get(KEPT_KEY, []))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the stack, directly or through any fixture, are integration tests."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))  # the whole fixture closure
        if "stack" in fixtures:
            item.add_marker(pytest.mark.integration)
        if "faults" in fixtures:
            item.add_marker(pytest.mark.faults)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Backstop after pytest's own teardown of session fixtures (which runs first)."""
    if not session.config.stash.get(_USED_ENGINE, False):
        return  # no stack was used: touch no engine, import no client
    from . import backstop
    from .lifecycle import sweep_leftovers

    backstop.run_all()
    if not session.config.stash.get(_WAIT_FOR_TEARDOWN, True):
        return  # the detached reaper sweeps after removing this run's stack
    if exitstatus != pytest.ExitCode.INTERRUPTED:
        # Again at the end: a run killed while this one started may have still
        # been dying then. Its leftovers are gone once this run ends.
        sweep_leftovers()


def _kept_stacks(config: pytest.Config) -> list[str]:
    """Descriptions of stacks left up by --keep-stack/--reuse-stack, for the summary."""
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller prints them
        kept: list[str] = workeroutput.setdefault(KEPT_KEY, [])
        return kept
    return config.stash.setdefault(_KEPT, [])


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Say how to reach and remove the stacks left running."""
    kept = config.stash.get(_KEPT, [])
    if kept:
        terminalreporter.write_sep("-", "stacks left running")
        for description in kept:
            terminalreporter.write_line(description)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[TEST_START] = time.time()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Attach each service's log lines from the time of a failed test to its report."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[CALL_FINISHED] = True
    stack = getattr(item, "funcargs", {}).get("stack")
    if not report.failed or stack is None:
        return
    from .stack import Stack

    if not isinstance(stack, Stack):
        return
    since = item.stash.get(TEST_START, None)
    for service in stack.services:
        report.sections.append((f"{service} logs during {report.when}", stack.logs(service, since=since)))


def _worker_id(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "main"


def _stack_timeout(config: pytest.Config) -> float:
    option = config.getoption("stack_timeout")
    raw = (
        option if option is not None else (config.getini("stack_timeout") or os.environ.get("STACK_TIMEOUT"))
    )
    try:
        return float(raw) if raw not in (None, "") else DEFAULT_STACK_TIMEOUT
    except ValueError:
        raise pytest.UsageError(f"stack_timeout: {raw!r} is not a number of seconds") from None


def settings_from_ini(config: pytest.Config) -> StackSettings:
    """The StackSettings that the ini options declare (see the README's table)."""
    try:
        services = tuple(ServiceSpec.parse(line) for line in config.getini("stack_services"))
        environment = parse_environment(config.getini("stack_environment"))
    except SettingsError as error:
        raise pytest.UsageError(str(error)) from None
    return StackSettings(
        root=config.rootpath,
        services=services,
        run_id=config.stash[_RUN_ID],
        worker=_worker_id(config),
        compose_files=tuple(config.getini("stack_compose_files")) or default_compose_files(config.rootpath),
        startup_timeout=_stack_timeout(config),
        keep=config.getoption("keep_stack"),
        reuse=config.getoption("reuse_stack"),
        environment=environment,
        secrets=tuple(config.getini("stack_secrets")),
        parallel_start=bool(config.getini("stack_parallel_start")),
        # Measured: waiting costs the user ~0.5 s after the last test; CI waits
        # anyway, so that the end of a job means a clean engine.
        wait_for_teardown=bool(os.environ.get("CI")),
    )


@pytest.fixture(scope="session")
def stack_settings(pytestconfig: pytest.Config) -> StackSettings:
    """[session] What `stack` starts, from the ini options; override it in a conftest.py to change it."""
    return settings_from_ini(pytestconfig)


@pytest.fixture(scope="session")
def stack(stack_settings: StackSettings, pytestconfig: pytest.Config) -> Iterator[Stack]:
    """[session] The whole compose stack, ready, one per xdist worker; torn down at the end."""
    from . import backstop
    from .kept import describe_kept
    from .lifecycle import open_stack

    missing = [name for name in stack_settings.compose_files if not (stack_settings.root / name).is_file()]
    if missing:
        pytest.fail(
            f"pytest-microstack: compose file {', '.join(missing)} not found in {stack_settings.root} "
            "(set stack_compose_files in your pytest ini file)",
            pytrace=False,
        )
    pytestconfig.stash[_USED_ENGINE] = True
    pytestconfig.stash[_WAIT_FOR_TEARDOWN] = stack_settings.wait_for_teardown
    backstop.install()
    reports = pytestconfig.stash[REPORTS]

    def report_start_failure(failed: Stack, error: Exception) -> None:
        reports.start_failed(failed, error, stack_settings.secrets)

    with open_stack(stack_settings, on_start_failure=report_start_failure) as running:
        reports.stack_opened(running)
        # What is alive now (imports and session state) lives until exit: frozen, the
        # collector never scans it again, so pytest's end-of-run gc.collect() calls and
        # the interpreter's own at exit stop costing ~0.25 s. Garbage the tests make is
        # still collected (and its unraisable exceptions still reported).
        gc.collect(1)
        gc.freeze()
        yield running
        reports.stack_closed(running)
        if stack_settings.keep or stack_settings.reuse:
            _kept_stacks(pytestconfig).append(describe_kept(running))


@pytest.fixture(autouse=True)
def _stack_stays_healthy(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the stack, every service must still be ready.

    A test that leaves a service broken fails here, naming the service, and the
    stack is repaired so that the tests after it run on a sound stack. Tests
    using `faults` are checked (and healed) by that fixture instead.
    """
    yield
    if "stack" not in request.fixturenames or "faults" in request.fixturenames:
        return
    if not request.node.stash.get(CALL_FINISHED, False):
        return  # interrupted (Ctrl-C): the session is ending, not checking
    from .errors import ServiceUnhealthyError

    running: Stack = request.getfixturevalue("stack")
    try:
        running.ensure_healthy(
            timeout=HEALTH_AFTER_TEST_TIMEOUT, why=f"not healthy after {request.node.nodeid}"
        )
    except ServiceUnhealthyError:
        running.repair()
        raise


@pytest.fixture
def service_url(stack: Stack) -> Callable[[str], str]:
    """[function] service_url(name) -> the service's base URL, e.g. http://127.0.0.1:32771.

    Looked up at each call: a restarted service may have a new host port.
    """
    return stack.url


@pytest.fixture
def service_client(stack: Stack, request: pytest.FixtureRequest) -> Iterator[Callable[[str], ServiceClient]]:
    """[function] service_client(name) -> ServiceClient: a requests.Session for that service.

    Paths are relative to the service, 10 s default timeout, a fresh X-Request-ID
    naming the test on every call. Closed when the test ends.
    """
    from .clients import ServiceClient, request_id_prefix

    clients: dict[str, ServiceClient] = {}

    def client_for(name: str) -> ServiceClient:
        if name not in clients:
            clients[name] = ServiceClient(
                name, lambda: stack.url(name), request_id_prefix=request_id_prefix(request.node.name)
            )
        return clients[name]

    yield client_for
    for client in clients.values():
        client.close()


@pytest.fixture
def faults(stack: Stack, request: pytest.FixtureRequest) -> Iterator[Faults]:
    """[function] Break services for real: faults.down/crash/hang/slow/partition(service).

    Each returns a context manager; whatever is still broken when the test ends
    is healed, and the test errors, naming the service, if the stack can't be
    made healthy again. Projects add their own faults with the
    `pytest_microstack_add_faults` hook. Fault tests only touch their worker's stack.
    """
    from .faults import Faults

    injector = Faults(stack)
    request.node.ihook.pytest_microstack_add_faults(faults=injector)
    try:
        yield injector
    finally:
        applied = list(injector.applied)  # heal_all forgets them
        try:
            if request.node.stash.get(CALL_FINISHED, False):
                injector.heal_all()
            else:  # interrupted (Ctrl-C, SIGTERM): the stack is being removed; don't wait for its health
                injector.withdraw_all()
        finally:
            request.config.stash[REPORTS].faults_done(applied)
