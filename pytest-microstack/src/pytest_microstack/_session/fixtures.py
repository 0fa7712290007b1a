"""The plugin's fixtures; registered by `plugin.py` only when the project declares a stack.

Scope in brackets; override any of them in a conftest.py:
  stack_settings [session]   what `stack` starts, and what becomes of it, read from the options
  stack [session]            the running stack for this worker
  service_url [function]     service_url(name) -> base URL on the engine's host
  service_client [function]  service_client(name) -> ServiceClient (requests.Session)
  faults [function]          break a service for real; healed after the test
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_microstack._session.run_state import RunState, uses_own_fixture
from pytest_microstack._settings import StackSettings

if TYPE_CHECKING:
    from pytest_microstack._core.clients import ServiceClient
    from pytest_microstack._core.faults import Faults
    from pytest_microstack._core.stack import Stack

HEALTH_AFTER_TEST_TIMEOUT = 5.0


def _run_state(config: pytest.Config) -> RunState:
    state = config.pluginmanager.get_plugin("microstack-run")
    assert isinstance(state, RunState), "pytest-microstack's fixtures run only with its run state"
    return state


@pytest.fixture(scope="session")
def stack_settings(pytestconfig: pytest.Config) -> StackSettings:
    """[session] What `stack` starts, from the options (read once, at start-up).

    Override it in a conftest.py to change it: every effect of a setting
    (teardown, coverage and its summary, failure reports, masking) follows the
    settings `stack` gets.
    """
    return _run_state(pytestconfig).settings


@pytest.fixture(scope="session")
def stack(stack_settings: StackSettings, pytestconfig: pytest.Config) -> Iterator[Stack]:
    """[session] The whole compose stack, ready, one per xdist worker; torn down at the end."""
    from pytest_microstack._cleanup import backstop
    from pytest_microstack._core.lifecycle import open_stack_with

    missing = [name for name in stack_settings.compose_files if not (stack_settings.root / name).is_file()]
    if missing:
        pytest.fail(
            f"pytest-microstack: compose file {', '.join(missing)} not found in {stack_settings.root} "
            "(set stack_compose_files in your pytest ini file)",
            pytrace=False,
        )
    state = _run_state(pytestconfig)
    stack_settings = state.stack_starting(stack_settings)
    backstop.install()
    coverage = None
    if stack_settings.coverage:
        from pytest_microstack._coverage.pytest_side import destination

        coverage = destination(pytestconfig)
    engine = state.machine()  # checked before the first test; again here for a stack asked for at run time
    opened = open_stack_with(stack_settings, engine, on_start_failure=state.start_failed, coverage=coverage)
    with opened as running:
        state.stack_opened(running)
        # What is alive now (imports and session state) lives until exit: frozen, the
        # collector never scans it again, so pytest's end-of-run gc.collect() calls and
        # the interpreter's own at exit stop costing ~0.25 s. Garbage the tests make is
        # still collected (and its unraisable exceptions still reported).
        gc.collect(1)
        gc.freeze()
        yield running
        state.stack_closed(running)


@pytest.fixture(autouse=True)
def _stack_stays_healthy(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the stack, every service must still be ready.

    A test that leaves a service broken fails here, naming the service, and the
    stack is repaired so that the tests after it run on a sound stack. Tests
    using `faults` are checked (and healed) by that fixture instead. A project's
    own `stack` fixture is left alone.
    """
    yield
    item = request.node
    if not uses_own_fixture(item, "stack") or uses_own_fixture(item, "faults"):
        return
    if not _run_state(request.config).call_finished(item):
        return  # interrupted (Ctrl-C): the session is ending, not checking
    from pytest_microstack._core.stack import Stack
    from pytest_microstack._errors import ServiceUnhealthyError

    running = request.getfixturevalue("stack")
    if not isinstance(running, Stack):
        return
    try:
        running.ensure_healthy(timeout=HEALTH_AFTER_TEST_TIMEOUT, why=f"not healthy after {item.nodeid}")
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
    from pytest_microstack._core.clients import ServiceClient, request_id_prefix

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
    from pytest_microstack._core.faults import Faults

    state = _run_state(request.config)
    injector = Faults(stack)
    request.node.ihook.pytest_microstack_add_faults(faults=injector)
    try:
        yield injector
    finally:
        applied = list(injector.applied)  # heal_all forgets them
        try:
            if state.call_finished(request.node):
                injector.heal_all()
            else:  # interrupted (Ctrl-C, SIGTERM): the stack is being removed; don't wait for its health
                injector.withdraw_all()
        finally:
            state.faults_done(applied)
