"""Per-test contexts end to end, without Docker: the real runtime (sitecustomize, coverage and
the agent) in a gunicorn-like master with a forked worker and a subprocess, switched by the
real `Switcher` through the agent's port, as a container's published port reaches it."""

from __future__ import annotations

import ast
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from coverage import CoverageData
from coverage.exceptions import DataError
from pytest_microstack._boundaries import OUTSIDE, fixture_context, fixture_of, phase_context
from pytest_microstack._boundaries import test_of as context_test
from pytest_microstack._coverage import agent, runtime
from pytest_microstack._coverage.contexts import Switcher

SERVICE = Path(__file__).with_name("context_service.py")
DEADLINE = 10.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=DEADLINE) as response:
        return str(response.read().decode())


class Service:
    def __init__(self, process: subprocess.Popen[str], port: int, context_port: int, data: Path) -> None:
        self.process, self.port, self.context_port, self.data = process, port, context_port, data
        self.switcher = Switcher(("svc",), lambda _: ("127.0.0.1", context_port))

    def get(self, path: str) -> str:
        return _get(self.port, path)

    def contexts_by_function(self) -> dict[str, set[str]]:
        """function name -> the contexts that ran any line of its body."""
        combined = CoverageData(no_disk=True)
        for path in self.data.glob(".coverage.*"):
            part = CoverageData(basename=str(path))
            part.read()
            combined.update(part)
            part.close(force=True)
        by_line = combined.contexts_by_lineno(str(SERVICE))
        combined.close(force=True)
        result: dict[str, set[str]] = {}
        for node in ast.walk(ast.parse(SERVICE.read_text())):
            if isinstance(node, ast.FunctionDef):
                lines = range(node.body[0].lineno, (node.end_lineno or node.lineno) + 1)
                result[node.name] = {context for line in lines for context in by_line.get(line, [])}
        return result


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    lib = runtime.build_runtime(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    rcfile = tmp_path / "coveragerc"
    rcfile.write_text(
        f"[run]\nparallel = True\ndata_file = {data}/.coverage\nsigterm = True\n"
        "patch =\n    fork\n    _exit\n"
        f"source = {SERVICE.parent}\n"
    )
    port, context_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{lib}:{SERVICE.parent}",
        "COVERAGE_PROCESS_START": str(rcfile),
        runtime.DATA_ENV: str(data),
        agent.PORT_ENV: str(context_port),
        agent.STATE_ENV: str(data / "context"),
        "SERVICE_PORT": str(port),
    }
    env.pop("COVERAGE_CORE", None)
    process = subprocess.Popen([sys.executable, str(SERVICE)], env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    running = Service(process, port, context_port, data)
    try:
        yield running
    finally:
        running.switcher.close()
        if process.poll() is None:
            process.kill()
        process.wait(timeout=DEADLINE)
        process.stdout.close()


def _stop(service: Service) -> None:
    service.get("/exit")
    service.process.wait(timeout=DEADLINE)


def test_a_request_and_the_work_it_finishes_belong_to_the_phase_that_made_it(service: Service) -> None:
    first, second = phase_context("t.py::a", "call"), phase_context("t.py::b", "setup")
    service.switcher.switch(first)
    assert service.get("/work") == "handled"  # in the forked worker
    assert service.get("/thread") == "thread"  # a thread it starts and joins
    assert service.get("/subprocess") == "child"  # a new Python process, joined as a member
    service.switcher.switch(second)
    service.switcher.switch(agent.OUTSIDE)
    _stop(service)

    ran = service.contexts_by_function()
    assert ran["handled"] == {first}
    assert ran["in_thread"] == {first}
    assert ran["child_work"] == {first}
    assert ran["main"] == {agent.OUTSIDE}  # start-up: before any test
    assert not service.switcher.late


def test_a_timer_that_fires_after_the_boundary_belongs_to_the_phase_it_fires_in(service: Service) -> None:
    """The stated limit: work that outlives its test (timers, background threads) is attributed by time."""
    first, second = phase_context("t.py::a", "call"), phase_context("t.py::b", "call")
    service.switcher.switch(first)
    service.get("/timer")
    service.switcher.switch(second)
    deadline = time.monotonic() + DEADLINE
    while service.get("/fired") != "yes":
        assert time.monotonic() < deadline, "the timer never fired"
        time.sleep(0.02)  # polling the service under the deadline above
    service.switcher.switch(agent.OUTSIDE)
    _stop(service)

    assert service.contexts_by_function()["late"] == {second}


def test_a_relay_that_ends_is_replaced_and_the_run_goes_on(service: Service, tmp_path: Path) -> None:
    """The master (relay) gone: the worker binds the port and follows the next switches."""
    first, second = phase_context("t.py::a", "call"), phase_context("t.py::b", "call")
    service.switcher.switch(first)
    service.process.kill()  # the relay; the worker lives on (its parent died)
    service.process.wait(timeout=DEADLINE)
    deadline = time.monotonic() + DEADLINE
    service.switcher.switch(second)
    while service.switcher.late:
        assert time.monotonic() < deadline, "no process took over the relay"
        service.switcher.late.clear()
        time.sleep(0.05)  # the worker re-binds the port: polled under the deadline above
        service.switcher.switch(second)
    assert service.get("/work") == "handled"
    service.switcher.switch(agent.OUTSIDE)
    _get(service.port, "/exit")
    deadline = time.monotonic() + DEADLINE
    while not saved_in(service, second, "handled"):
        assert time.monotonic() < deadline, "the orphaned worker never saved the second test's context"
        time.sleep(0.05)  # the orphaned worker saves as it exits: polled under the deadline above


def saved_in(service: Service, context: str, function: str) -> bool:
    """Whether the saved data has `context` on `function`'s body; False while a file is still being written
    (a worker saving as it exits: its file exists before SQLite can open it)."""
    try:
        return context in service.contexts_by_function()[function]
    except DataError:
        return False


@pytest.mark.parametrize(
    ("context", "test"),
    [
        pytest.param("tests/a.py::t[x|y]|run", "tests/a.py::t[x|y]", id="bar-in-id"),
        pytest.param("tests/a.py::t|setup", "tests/a.py::t", id="setup"),
        pytest.param(agent.OUTSIDE, None, id="outside"),
        pytest.param("", None, id="empty"),
        pytest.param("(fixture seller)", "(fixture seller)", id="fixture"),  # stands for its users
        pytest.param("(fixture )", None, id="fixture-without-a-name"),
        pytest.param("(fixture seller", None, id="fixture-unclosed"),
        pytest.param("tests/a.py::t|call", None, id="not-pytest-cov-s-phase"),
    ],
)
def test_contexts_name_their_test(context: str, test: str | None) -> None:
    assert context_test(context) == test


def test_a_fixtures_context_names_it() -> None:
    assert fixture_of(fixture_context("seller")) == "seller"
    assert fixture_of("(fixture s)") == "s"  # one character: the shortest name
    assert fixture_of("tests/a.py::t|setup") is None


def test_the_containers_name_work_outside_tests_as_the_test_run_does() -> None:
    assert agent.OUTSIDE == OUTSIDE  # agent.py runs standalone in the containers: its own copy
