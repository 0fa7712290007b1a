"""The pytest plugin: options, fixtures and hooks around `open_stack`.

Fixtures (scope in brackets; override any of them in a conftest.py):
  stack [session]                the running stack for this worker
  user_service_url, product_service_url [function]   base URLs on 127.0.0.1
  user_service, product_service [function]           ServiceClient for each service
  make_user, make_product [function]                 factories of real users/products
  faults [function]              break a service for real; healed after the test
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import cleanup
from .clients import ServiceClient, request_id_prefix
from .errors import ServiceUnhealthyError
from .factories import ProductFactory, UserFactory
from .faults import Faults
from .lifecycle import StackSettings, describe_kept, open_stack, sweep_leftovers
from .ownership import new_run_id
from .stack import ServiceSpec, Stack

ROOT = Path(__file__).resolve().parents[2]
SERVICES = (ServiceSpec("user-service", 5000), ServiceSpec("product-service", 5001))
RUN_ID_KEY = "microstack_run_id"
KEPT_KEY = "microstack_kept_stacks"
TEST_START = pytest.StashKey[float]()
CALL_FINISHED = pytest.StashKey[bool]()
_RUN_ID = pytest.StashKey[str]()
_USED_ENGINE = pytest.StashKey[bool]()
_KEPT = pytest.StashKey[list[str]]()
HEALTH_AFTER_TEST_TIMEOUT = 5.0
# The harness polls /health itself at 20 ms; Docker's own probe (a `docker exec`,
# ~0.1 s of engine CPU each) only needs to run now and then: idle cost ~0.
TEST_ENVIRONMENT = {"HEALTHCHECK_INTERVAL": "30s"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("microstack", "compose stack for integration tests")
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
        default=float(os.environ.get("STACK_TIMEOUT", "60")),
        help="seconds for the whole stack to become healthy (default 60, env STACK_TIMEOUT)",
    )


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    config.stash[_RUN_ID] = workerinput[RUN_ID_KEY] if workerinput else new_run_id()
    if config.getoption("reuse_stack"):
        if os.environ.get("CI"):
            raise pytest.UsageError("--reuse-stack is refused in CI: every CI run starts a clean stack")
        if (config.getoption("numprocesses", None) or 0) not in (0, 1):
            raise pytest.UsageError("--reuse-stack attaches one stack: run it without xdist (-n)")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistRunId(config.stash[_RUN_ID]))
    cleanup.install()


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
    cleanup.run_all()
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    if session.config.stash.get(_USED_ENGINE, False) and not interrupted:
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
    if not report.failed or not isinstance(stack, Stack):
        return
    since = item.stash.get(TEST_START, None)
    for service in stack.services:
        report.sections.append((f"{service} logs during {report.when}", stack.logs(service, since=since)))


def _worker_id(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "main"


@pytest.fixture(scope="session")
def stack_settings(pytestconfig: pytest.Config) -> StackSettings:
    """[session] What `stack` starts: override to add services or environment."""
    return StackSettings(
        root=ROOT,
        services=SERVICES,
        run_id=pytestconfig.stash[_RUN_ID],
        worker=_worker_id(pytestconfig),
        startup_timeout=pytestconfig.getoption("stack_timeout"),
        keep=pytestconfig.getoption("keep_stack"),
        reuse=pytestconfig.getoption("reuse_stack"),
        environment=dict(TEST_ENVIRONMENT),
    )


@pytest.fixture(scope="session")
def stack(stack_settings: StackSettings, pytestconfig: pytest.Config) -> Iterator[Stack]:
    """[session] The whole compose stack, healthy, one per xdist worker; torn down at the end."""
    pytestconfig.stash[_USED_ENGINE] = True
    with open_stack(stack_settings) as running:
        yield running
        if stack_settings.keep or stack_settings.reuse:
            _kept_stacks(pytestconfig).append(describe_kept(running))


@pytest.fixture(autouse=True)
def _stack_stays_healthy(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the stack, every service must still answer its health check.

    A test that leaves a service broken fails here, naming the service, and the
    stack is brought back up so that the tests after it run on a sound stack.
    Tests using `faults` are checked (and healed) by that fixture instead.
    """
    yield
    if "stack" not in request.fixturenames or "faults" in request.fixturenames:
        return
    if not request.node.stash.get(CALL_FINISHED, False):
        return  # interrupted (Ctrl-C): the session is ending, not checking
    stack: Stack = request.getfixturevalue("stack")
    try:
        stack.ensure_healthy(
            timeout=HEALTH_AFTER_TEST_TIMEOUT, why=f"not healthy after {request.node.nodeid}"
        )
    except ServiceUnhealthyError:
        stack.compose.start()  # start or recreate what the test stopped or removed
        stack.ensure_healthy(timeout=stack.startup_timeout, why="not healthy after repair")
        raise


@pytest.fixture
def user_service_url(stack: Stack) -> str:
    """[function] user-service's base URL, e.g. http://127.0.0.1:32771."""
    return stack.url("user-service")


@pytest.fixture
def product_service_url(stack: Stack) -> str:
    """[function] product-service's base URL, e.g. http://127.0.0.1:32772."""
    return stack.url("product-service")


def _client(stack: Stack, service: str, request: pytest.FixtureRequest) -> Iterator[ServiceClient]:
    client = ServiceClient(
        service, lambda: stack.url(service), request_id_prefix=request_id_prefix(request.node.name)
    )
    with client:
        yield client


@pytest.fixture
def user_service(stack: Stack, request: pytest.FixtureRequest) -> Iterator[ServiceClient]:
    """[function] Client for user-service: relative paths, 10 s timeout, X-Request-ID set."""
    yield from _client(stack, "user-service", request)


@pytest.fixture
def product_service(stack: Stack, request: pytest.FixtureRequest) -> Iterator[ServiceClient]:
    """[function] Client for product-service: relative paths, 10 s timeout, X-Request-ID set."""
    yield from _client(stack, "product-service", request)


@pytest.fixture
def make_user(user_service: ServiceClient) -> UserFactory:
    """[function] make_user(**overrides) -> User(id, username, password, token, .auth)."""
    return UserFactory(user_service)


@pytest.fixture
def make_product(product_service: ServiceClient, make_user: UserFactory) -> ProductFactory:
    """[function] make_product(owner=None, **overrides) -> Product(..., owner)."""
    return ProductFactory(product_service, make_user)


@pytest.fixture
def faults(stack: Stack) -> Iterator[Faults]:
    """[function] Break services for real: faults.down/crash/hang/slow/partition/erroring(service).

    Each returns a context manager; whatever is still broken when the test ends
    is healed, and the test errors, naming the service, if the stack can't be
    made healthy again. Fault tests only ever touch their own worker's stack.
    """
    injector = Faults(stack)
    try:
        yield injector
    finally:
        injector.heal_all()
